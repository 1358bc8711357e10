"""Every staff page on a phone (390 px) and a laptop (1280 px), in English and in Russian (contract §5).

At 390 px no page scrolls sideways, the navigation takes two lines at most
and the controls a finger uses (the navigation's links, menus and buttons,
buttons and form fields on the page) are at least 44 px tall; at both widths
axe-core (tests/browser/vendor) finds no violation. The pages are every GET
route outside the JSON and intake blueprints, read from the app's url_map
(a new page is checked as soon as it exists; one whose ids the test cannot
fill fails), with the ids of demo data (`flask crm demo`, with a queue and a
note added). The pages do not depend on the database: SQLite only, one
server for the module, one signed-in context per role, language and width.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from flask import url_for
from playwright.sync_api import expect
from sqlalchemy import select

from crm_web.core.extensions import db
from tests.conftest import make_app, wipe
from tests.helpers import PASSWORD
from tests.live_server import ServerError, start_server

from .conftest import TIMEOUT_MS

pytestmark = pytest.mark.slow

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# Served by the browser context itself at the app's origin, so that script-src 'self' lets it in:
# the pages are checked under their real CSP (no bypass_csp).
AXE_URL = "/__axe__/axe.min.js"
PHONE, LAPTOP = 390, 1280
WIDTHS = {PHONE: 844, LAPTOP: 900}
LANGUAGES = ("en", "ru")
USERS = {"supervisor": "admin@example.com", "operator": "anna@example.com"}  # the demo's
# GET routes of blueprints that answer machines, not people; and the pages' GET routes that are no page.
NOT_PAGE_BLUEPRINTS = {"api": "JSON", "webhooks": "the public intake", "health": "JSON"}
NOT_PAGES = {
    "static": "files",
    "web.login": "signed out: test_sign_in_page_fits_and_passes_axe",
    "web.export_contacts": "CSV",
    "web.export_leads": "CSV",
    "web.live_ticket": "JSON for the live pages",
}
# Query arguments a page needs besides the ids in its path.
QUERIES = {"web.merge_preview": lambda ids: {"keep": ids["lead_id"], "other": ids["other_lead_id"]}}
TOUCH_PX = 44
# What a finger uses. Checkboxes and radios are left out: their label is the target.
TOUCH_TARGETS = ", ".join((
    "header nav a", "header nav button", "header nav summary",
    "main button", "main select", "main [role=button]",
    "main input:not([type=checkbox], [type=radio], [type=hidden])",
))

LAYOUT = """([touchTargets, touchPx]) => {
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + [...el.classList].map(c => '.' + c).join('')
    + ' "' + (el.textContent || el.value || '').trim().slice(0, 30) + '"';
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > innerWidth) {
    const wide = [...document.body.querySelectorAll('*')]
      .filter(el => el.checkVisibility() && el.getBoundingClientRect().right > innerWidth + 1);
    // The outermost elements that stick out: the ones to fix.
    problems.push(`scrolls sideways (${root.scrollWidth} px > ${innerWidth} px): `
      + wide.filter(el => !wide.includes(el.parentElement)).slice(0, 3).map(name).join(', '));
  }
  // The navigation's lines: its visible items grouped by the rows they stand on.
  const lines = [];
  const items = [...document.querySelectorAll('header nav > ul > li')].map(li => li.getBoundingClientRect())
    .filter(r => r.width > 0 && r.height > 0).sort((a, b) => a.top - b.top);
  for (const r of items) {
    const line = lines.find(l => r.top < l.bottom && r.bottom > l.top);
    if (line) { line.top = Math.min(line.top, r.top); line.bottom = Math.max(line.bottom, r.bottom); }
    else lines.push({top: r.top, bottom: r.bottom});
  }
  if (lines.length > 2) problems.push(`the navigation takes ${lines.length} lines`);
  const small = [...document.querySelectorAll(touchTargets)].filter(el => {
    const r = el.getBoundingClientRect();
    return r.width > 1 && r.height > 1 && r.height < touchPx - 0.5;
  });
  // An open menu's items: all of each item's height is its own (no neighbour laid over it).
  small.push(...[...document.querySelectorAll('header details[open] > ul :is(a, button)')].filter(el => {
    const r = el.getBoundingClientRect(), x = r.left + r.width / 2;
    return [r.top + 2, r.bottom - 2].some(y => !el.contains(document.elementFromPoint(x, y)));
  }));
  if (small.length) {
    problems.push(`${small.length} touch target(s) under ${touchPx} px: `
      + small.slice(0, 5).map(el => `${name(el)} ${Math.round(el.getBoundingClientRect().height)} px`)
        .join(', '));
  }
  return problems;
}"""
AXE_RUN = """() => axe.run(document, {resultTypes: ['violations']}).then(result =>
  result.violations.map(v => `axe ${v.id} (${v.impact}): ${v.help}: `
    + v.nodes.slice(0, 4).map(n => n.target.join(' ')).join(', ')))"""


def _load_demo_data(app) -> dict[str, int]:
    """The demo data set, a queue and a note: the ids the pages' routes take."""
    from crm_web.demo import load_demo
    from crm_web.domain.identifiers import parse_contact_input
    from crm_web.models import Contact, LeadDuplicate, Operator, Source, User
    from crm_web.services.intake import register_contact
    from crm_web.services.notes import add_note
    from crm_web.services.sources import create_source

    with app.app_context():
        session = db.session
        load_demo(session, password=PASSWORD)
        # A source nobody has a weight on: its contacts wait in the queue.
        partner = create_source(session, {"name": "Partner site"})
        for fields in (
            {"name": "Natalia", "phone": "+7 912 555-01-02", "message": "Is the blue model in stock?"},
            {"email": "procurement@stroy-trade.example", "name": "Stroy-Trade LLC"},
        ):
            register_contact(session, partner, parse_contact_input(fields, "RU"), random.Random(1))
        anna = session.scalar(select(User).where(User.email == USERS["operator"]))
        contact = session.scalar(select(Contact).where(
            Contact.operator_id == anna.operator_id, Contact.is_active
        ).order_by(Contact.id))
        add_note(session, contact.id, anna, "Called at 10:15, no answer; left a voicemail.")
        pair = session.scalars(select(LeadDuplicate)).first()
        ids = {
            "contact_id": contact.id,
            "lead_id": pair.duplicate_of_id,
            "other_lead_id": pair.lead_id,
            "operator_id": session.scalar(select(Operator.id).where(Operator.name == "Anna Petrova")),
            "source_id": session.scalar(select(Source.id).where(Source.name == "Website form")),
        }
        db.session.remove()
        return ids


def _page_urls(app, ids: dict[str, int]) -> dict[str, str]:
    """Every page's URL by endpoint, from the url_map."""
    urls = {}
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            blueprint = rule.endpoint.rpartition(".")[0]
            if "GET" not in rule.methods or blueprint in NOT_PAGE_BLUEPRINTS or rule.endpoint in NOT_PAGES:
                continue
            unknown = rule.arguments - ids.keys()
            assert not unknown, f"{rule.rule}: no demo id for {sorted(unknown)}; add one to _load_demo_data"
            args = {name: ids[name] for name in rule.arguments}
            if rule.endpoint in QUERIES:
                args.update(QUERIES[rule.endpoint](ids))
            urls[rule.endpoint] = url_for(rule.endpoint, **args)
    return urls


@pytest.fixture(scope="module")
def site(sqlite_url, tmp_path_factory):
    """(the server, every page's URL by endpoint) over the demo data, for the whole module."""
    app = make_app(sqlite_url)
    wipe(app)
    ids = _load_demo_data(app)
    urls = _page_urls(app, ids)
    with app.app_context():
        db.engine.dispose()
    try:
        server = start_server(sqlite_url, tmp_path_factory.mktemp("every-page"))
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server, urls
    server.stop()
    errors = server.server_errors()
    if errors:  # a page may look right while the server logged a traceback
        pytest.fail("gunicorn reported errors:\n" + "\n".join(errors[:20]), pytrace=False)


def _open_context(browser, server, width: int):
    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(
        base_url=server.base_url, viewport={"width": width, "height": WIDTHS[width]}
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.route(f"**{AXE_URL}", lambda route: route.fulfill(path=AXE, content_type="text/javascript"))
    return context


def _choose_language(page, language: str, where: str) -> None:
    page.locator(f"{where} .language-switch button[value='{language}']").click()
    expect(page.locator("html")).to_have_attribute("lang", language)


def _problems(page, width: int) -> list[str]:
    """The layout's problems (on a phone) and axe-core's violations."""
    problems = page.evaluate(LAYOUT, [TOUCH_TARGETS, TOUCH_PX]) if width == PHONE else []
    page.add_script_tag(url=AXE_URL)
    return problems + page.evaluate(AXE_RUN)


# A supervisor opens every page; an operator user the same pages with less on them (and 403s).
CHECKS = [(role, language, width) for role in USERS for language in LANGUAGES for width in WIDTHS]


@pytest.mark.parametrize(("role", "language", "width"), CHECKS)
def test_every_page_fits_and_passes_axe(site, browser, role, language, width):
    server, urls = site
    context = _open_context(browser, server, width)
    page = context.new_page()
    page.goto("/login")
    page.locator("#email").fill(USERS[role])
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    expect(page.locator("header.topbar")).to_be_visible()
    _choose_language(page, language, "header")
    problems, seen = [], []
    for endpoint, url in sorted(urls.items()):
        response = page.goto(url)
        if role == "operator" and response.status == 403:  # a supervisor's page
            continue
        if response.status != 200:
            problems.append(f"{url}: {response.status}")
            continue
        seen.append(endpoint)
        problems += [f"{url}: {problem}" for problem in _problems(page, width)]
    # The navigation's menus open, one at a time, on the overview.
    page.goto("/")
    for menu in page.locator("header details").all():
        if not menu.is_visible():
            continue
        menu.locator("summary").click()
        # The menu fades in (Pico's opacity transition): axe would read its colours half-way.
        expect(menu.locator("ul")).to_have_css("opacity", "1")
        label = menu.locator("summary").inner_text().strip()
        problems += [f"/ with the menu {label!r} open: {problem}" for problem in _problems(page, width)]
        menu.locator("summary").click()
    context.close()
    assert "web.overview" in seen and (role == "operator") == ("web.users" not in seen)
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_sign_in_page_fits_and_passes_axe(site, browser, language, width):
    server, _urls = site
    context = _open_context(browser, server, width)
    page = context.new_page()
    page.goto("/login")
    _choose_language(page, language, "main")
    problems = _problems(page, width)
    context.close()
    assert not problems, "\n".join(problems)
