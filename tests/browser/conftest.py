"""Browser tests: Playwright (sync API) drives Debian's Chromium against real gunicorn.

Each test gets a fresh server (`live_server`, 2 workers) over the test's
database (`database_url`: once SQLite, once PostgreSQL), migrated and wiped
by the `app` fixture; data the test prepares with `Factory` is seen by the
server at once. One headless Chromium serves the whole session; each test
opens its own contexts (a context is one signed-in person).

Chromium is required, not optional: without /usr/bin/chromium the tests
fail and say how to install it (`make browser`). Playwright never downloads
a browser of its own here.

On a failure the report gets the tail of the server's stderr and a
full-page screenshot of every page still open, saved under the test's
tmp_path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import PASSWORD
from tests.live_server import LiveServer, ServerError, free_port, start_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Generous for a loaded CI machine; expect() returns as soon as the page is right.
TIMEOUT_MS = 10_000
# Live pages show a change within 2 s (docs/live.md); generous for a loaded CI machine.
POLL_TIMEOUT_MS = 15_000

_SERVERS = pytest.StashKey[list]()


def mark_page(page) -> None:
    """Put a marker on the loaded document: a full page load would remove it."""
    page.evaluate("window.__sameDocument = true")


def assert_same_document(page) -> None:
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


@pytest.fixture(scope="session")
def playwright_session():
    if not CHROMIUM.exists():
        pytest.fail(
            f"Browser tests need Debian's Chromium at {CHROMIUM}, and it is not installed. "
            "Run `make browser` (apt-get install chromium) or `make test`, which does it first.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_session):
    try:
        browser = playwright_session.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
    except Exception as exc:  # any launch failure ends the same way
        pytest.fail(f"Chromium at {CHROMIUM} did not start: {exc}", pytrace=False)
    yield browser
    browser.close()


@pytest.fixture(params=["sqlite"])
def database_url(request):
    """Browser tests run on SQLite: what a page shows does not depend on the database, and the
    service, page and API tests run on both. A test where the database matters parametrises this
    (indirect, "sqlite" and "postgresql"), as the live pages and the deliveries' tests do."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def live_server(request, app, database_url, tmp_path) -> Iterator[LiveServer]:
    """gunicorn with 2 workers over the test's (migrated, wiped) database.

    A test with a `live_mode` fixture chooses how its pages stay live: "poll" (/live),
    "stream" (a live stream server beside the app) or "no-stream" (a stream URL that
    nothing answers: the pages must fall back to polling).
    """
    mode = request.getfixturevalue("live_mode") if "live_mode" in request.fixturenames else "poll"
    servers, env = [], {}
    try:
        # The environment (CRM_PASSWORD_PROFILE=test, see tests/conftest.py) is inherited.
        if mode == "stream":
            servers.append(start_server(database_url, tmp_path / "stream", stream=True))
            env["CRM_LIVE_STREAM_URL"] = servers[0].url("/live/stream")
        elif mode == "no-stream":
            env["CRM_LIVE_STREAM_URL"] = f"http://127.0.0.1:{free_port()}/live/stream"
        server = start_server(database_url, tmp_path / "gunicorn", env=env)
    except ServerError as exc:
        for started in servers:
            started.stop()
        pytest.fail(str(exc), pytrace=False)
    servers.append(server)
    request.node.stash[_SERVERS] = servers
    yield server
    for started in servers:
        started.stop()
    errors = [line for started in servers for line in started.server_errors()]
    if errors:  # a page may look right while the server logged a traceback
        pytest.fail("gunicorn reported errors:\n" + "\n".join(errors[:20]), pytrace=False)


@pytest.fixture
def new_page(request, browser, live_server, tmp_path) -> Iterator[Callable]:
    """`new_page()`: a page in a context of its own (its own cookies), on the live server.

    Pages accept data-confirm dialogs (the app's confirm() before closing,
    deleting, ...), as a user clicking "OK" would.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    contexts = []
    pages: list = []

    def make(viewport: dict | None = None):
        context = browser.new_context(
            base_url=live_server.base_url, viewport=viewport or {"width": 1280, "height": 900}
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        pages.append(page)
        return page

    yield make
    if getattr(request.node, "_browser_failed", False):
        for index, page in enumerate(pages):
            path = tmp_path / f"failure-page-{index}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
                print(f"screenshot of page {index} ({page.url}): {path}")
            except Exception as exc:  # best effort on a failed test
                print(f"no screenshot of page {index}: {exc}")
    for context in contexts:
        context.close()


@pytest.fixture
def sign_in():
    """Sign a page in through the login form and wait for the overview."""
    from playwright.sync_api import expect

    def sign_in_as(page, email: str, password: str = PASSWORD):
        page.goto("/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(r"/$"))
        expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
        expect(page.locator(".whoami")).to_contain_text(email)

    return sign_in_as


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, keep screenshots (see `new_page`) and attach the server's stderr."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        item._browser_failed = True
        for server in item.stash.get(_SERVERS, []):
            report.sections.append(
                (f"gunicorn stderr (tail, {server.stderr_path})", server.stderr_tail())
            )
