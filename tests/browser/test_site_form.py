"""A site form straight from the browser (issue 6, criterion 2), in Chromium against gunicorn.

A supervisor copies the ready-to-paste HTML form from the source page; it
is served by a tiny http.server on another port (another origin, like a
customer's site). A visitor fills it in and sends it: a contact is created
and the browser lands on the site's thank-you page. A fetch() from the
allowed origin succeeds; the same fetch() from a third origin is refused by
the browser (a CORS error in the page's script) and creates nothing.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect

from crm_web.services.sources import update_source
from tests.webhooks.helpers import rows

pytestmark = pytest.mark.slow

FETCH_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Fetch</title></head>
<body><h1>Fetch</h1></body></html>
"""
# Runs in the customer's page: the webhook call as the source page's fetch() example makes it.
FETCH_SCRIPT = """async ([url, token, phone]) => {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-Webhook-Token": token},
      body: JSON.stringify({phone: phone, name: "From fetch"})
    });
    return {ok: true, status: response.status, body: await response.json()};
  } catch (error) {
    return {ok: false, error: String(error)};
  }
}"""


@dataclass
class Site:
    """A static site on its own origin (http://127.0.0.1:<port>)."""

    root: Path
    origin: str

    def url(self, name: str) -> str:
        return f"{self.origin}/{name}"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture
def make_site(tmp_path) -> Iterator:
    servers: list[ThreadingHTTPServer] = []

    def make(name: str) -> Site:
        root = tmp_path / name
        root.mkdir()
        handler = functools.partial(_QuietHandler, directory=str(root))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return Site(root, f"http://127.0.0.1:{server.server_address[1]}")

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


def contacts(app) -> list[tuple]:
    return rows(
        app,
        "SELECT c.name, c.message, l.phone, l.email FROM contacts c JOIN leads l ON l.id = c.lead_id "
        "ORDER BY c.id",
    )


def test_pasted_form_from_another_origin_lands_on_the_thank_you_page(
    app, factory, live_server, new_page, sign_in, make_site
):
    shop = make_site("shop")
    other = make_site("other")
    anna = factory.operator("Anna", max_load=10)
    source = factory.source("Shop", key="shop", weights={anna: 1})
    factory._call(
        update_source,
        source.id,
        {"allowed_origins": [shop.origin], "thank_you_url": shop.url("thanks.html")},
    )
    factory.staff("supervisor", email="boss@example.com")

    # The supervisor copies the snippet from the source page.
    staff = new_page()
    staff.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.base_url)
    sign_in(staff, "boss@example.com")
    staff.goto(f"/sources/{source.id}")
    snippet_box = staff.locator("#site-form-html")
    expect(snippet_box).to_be_visible()
    copy = staff.locator("button[data-copy='#site-form-html']")
    copy.click()
    expect(copy).to_have_text("Copied")
    snippet = staff.evaluate("navigator.clipboard.readText()")
    assert snippet == snippet_box.input_value()
    assert f"{live_server.base_url}/webhooks/shop?token={source.webhook_token}" in snippet

    # The customer's site pastes it into its contact page.
    (shop.root / "contact.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Contact us</title></head>"
        f"<body><h1>Contact us</h1>\n{snippet}\n</body></html>",
        encoding="utf-8",
    )
    (shop.root / "thanks.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Thanks</title></head>"
        "<body><h1>Thank you, we will call you back</h1></body></html>",
        encoding="utf-8",
    )
    (shop.root / "fetch.html").write_text(FETCH_PAGE, encoding="utf-8")
    (other.root / "fetch.html").write_text(FETCH_PAGE, encoding="utf-8")

    # A visitor sends the form.
    visitor = new_page()
    visitor.goto(shop.url("contact.html"))
    visitor.get_by_label("Name").fill("Olga")
    visitor.get_by_label("Phone").fill("8 (999) 765-43-21")
    visitor.get_by_label("Email").fill("olga@example.com")
    visitor.get_by_label("Message").fill("Привет! Call me after 6")
    visitor.get_by_role("button", name="Send").click()
    expect(visitor).to_have_url(shop.url("thanks.html"))
    expect(visitor.get_by_role("heading", name="Thank you, we will call you back")).to_be_visible()
    assert contacts(app) == [("Olga", "Привет! Call me after 6", "+79997654321", "olga@example.com")]

    # A script on the allowed origin may call the webhook with JSON (preflight included).
    script = new_page()
    script.goto(shop.url("fetch.html"))
    webhook = f"{live_server.base_url}/webhooks/shop"
    result = script.evaluate(FETCH_SCRIPT, [webhook, source.webhook_token, "+79990000001"])
    assert result["ok"], result
    assert result["status"] == 201
    assert result["body"]["contact"]["status"] == "assigned"
    assert result["body"]["contact"]["operator"]["name"] == "Anna"

    # The same script on another origin is refused by the browser, and nothing is created.
    stranger = new_page()
    stranger.goto(other.url("fetch.html"))
    with stranger.expect_console_message(lambda message: "blocked by CORS policy" in message.text) as blocked:
        refused = stranger.evaluate(FETCH_SCRIPT, [webhook, source.webhook_token, "+79990000002"])
    assert refused == {"ok": False, "error": "TypeError: Failed to fetch"}
    assert other.origin in blocked.value.text
    assert [c[2] for c in contacts(app)] == ["+79997654321", "+79990000001"]
