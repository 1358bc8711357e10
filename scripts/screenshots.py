"""Screenshots of the staff pages at a laptop and a phone width, for the README and reviews.

    .venv/bin/python scripts/screenshots.py        (or: make screenshots)

Builds a throw-away SQLite database (`flask db upgrade`, `flask crm demo`),
adds a few contacts that wait in the queue, serves it with gunicorn on a
free port, signs in as the demo supervisor in headless Chromium (Debian's,
at /usr/bin/chromium: `make browser`) and saves full-page PNGs of the
overview (and the viewport with the Manage menu open), the queue, a weight
table, an intake result, a lead page, the duplicates, the audit trail and the
fairness report, and the overview and the queue in Russian; last (so that no
other page shows it) a site form source, created on its pages, with Tilda's
connection help open (source-connect) and, after three senders' posts to its
webhook, its recent deliveries (source-deliveries); then, as the demo
operator, /my with notes on a contact and its close form open (my-note):
each 1280 and 390 px wide, into docs/screenshots/ (e.g. overview-1280.png).
Nothing outside the temporary directory and docs/screenshots/ is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live_server import start_server  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
PASSWORD = "screenshots-demo-1"
SECRET_KEY = "screenshots-secret-key"
WIDTHS = {1280: 800, 390: 844}  # width: viewport height (an iPhone 12-15 is 390 x 844)
OUT = ROOT / "docs" / "screenshots"
# name: (contacts a day, mean minutes to first opening, mean hours to closing, outcome weights)
TEAM_HISTORY = {
    "Anna Petrova": (6, 3, 1.5, (72, 15, 8, 5)),
    "Boris Ivanov": (3, 14, 5.0, (55, 30, 10, 5)),
    "Clara Smirnova": (8, 5, 2.0, (80, 10, 4, 6)),
    "Dmitry Orlov": (2, 25, 9.0, (40, 35, 20, 5)),
}

# Contacts of a source nobody has a weight on: they wait in the queue.
QUEUED = [
    {"name": "Natalia", "phone": "+7 912 555-01-02",
     "message": "Is the blue model in stock? I'd pick it up tomorrow."},
    {"email": "procurement@stroy-trade.example", "name": "Stroy-Trade LLC",
     "message": "We need a quote for 40 units with delivery to Kazan before the end of the month; "
                "please include installation and a two-year service contract in the offer."},
    {"phone": "+7 999 100-00-00", "message": "Following up on my last request."},  # a demo lead (Ivan)
    {"external_id": "partner-7781", "name": "Grigory", "phone": "8 (903) 777-12-34"},
]
# Registered on the intake form: the demo lead Ivan (phone) also named by another lead's email.
INTAKE = {"phone": "+7 999 100-00-00", "email": "client6@example.org", "name": "Ivan",
          "message": "Calling again: I would like to change the delivery address."}

# Written by the demo operator Anna on her newest contact, from /my (my-note).
OPERATOR = "anna@example.com"
MY_NOTES = [
    "Called at 10:15, no answer; left a voicemail.",
    "Called back at 18:05: wants the blue model delivered on Saturday morning. Sending the invoice by email.",
]

# What three senders post to a site form source, oldest first: (body, content type, header token?).
# Tilda: its names, the token in the URL, UTM marks in its TILDAUTM cookie.
TILDA = urlencode({
    "Name": "Ivan Petrov", "Phone": "+7 (999) 123-45-67", "Email": "ivan@example.com",
    "Comments": "Please call after 6 pm",
    "COOKIES": "_ga=GA1.1.123456789.1715670000; "
               "TILDAUTM=utm_source%3Dyandex%7C%7C%7Cutm_medium%3Dcpc%7C%7C%7C",
    "tranid": "1111111:6161583731", "formid": "form123456789",
})
# Elementor with Advanced Data: the phone known by its type, the UTM marks by the page's address.
ELEMENTOR = urlencode([
    ("form[id]", "3f2a91c"), ("form[name]", "Callback"),
    *[(f"fields[{id_}][{key}]", value)
      for id_, type_, title, text in (
          ("name", "text", "Имя", "Мария Соколова"),
          ("field_4b1e2c7", "tel", "Ваш номер", "8 (912) 555-01-02"),
          ("message", "textarea", "Сообщение", "Перезвоните после 18:00"))
      for key, value in (("id", id_), ("type", type_), ("title", title), ("value", text),
                         ("raw_value", text), ("required", "1"))],
    ("meta[date][title]", "Date"), ("meta[date][value]", "14.05.2026"),
    ("meta[page_url][title]", "Page URL"),
    ("meta[page_url][value]", "https://www.example.com/promo/?utm_source=vk&utm_medium=cpc&utm_campaign=may"),
    ("meta[remote_ip][title]", "Remote IP"), ("meta[remote_ip][value]", "203.0.113.7"),
])
# Contact Form 7 (JSON, the token in a header) with a phone too short to read: stored, with a warning.
CF7 = json.dumps({
    "your-name": "Olga Smirnova", "your-email": "olga.smirnova@example.org", "tel-715": "8 999 12",
    "your-subject": "Delivery", "your-message": "Do you deliver to Kazan? Please write back by email.",
}, ensure_ascii=False)
DELIVERIES = [
    (TILDA, "application/x-www-form-urlencoded", False),
    (ELEMENTOR, "application/x-www-form-urlencoded", False),
    (CF7, "application/json", True),
]


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def prepare_database(workdir: Path) -> str:
    """A migrated SQLite database with the demo data and a few queued contacts; its URL."""
    url = f"sqlite:///{workdir / 'crm.sqlite3'}"
    env = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": url, "SECRET_KEY": SECRET_KEY}
    flask = str(ROOT / ".venv" / "bin" / "flask")
    run([flask, "db", "upgrade"], env)
    run([flask, "crm", "demo", "--password", PASSWORD], env)

    from crm_web import create_app
    from crm_web.core.extensions import db
    from crm_web.domain.identifiers import parse_contact_input
    from crm_web.services.intake import register_contact
    from crm_web.services.sources import create_source

    os.environ["SECRET_KEY"] = SECRET_KEY  # no key file under instance/
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        source = create_source(db.session, {"name": "Partner site"})
        for fields in QUEUED:
            register_contact(db.session, source, parse_contact_input(fields, "RU"), random.Random(1))
        db.session.remove()
        db.engine.dispose()
    return url


def shoot(page, name: str, width: int, out: Path) -> Path:
    path = out / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    return path


def shoot_page(page, url: str, ready: str, name: str, width: int, out: Path) -> Path:
    """Open `url`, wait until the first element `ready` (a selector) shows, take the whole page."""
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.locator(ready).first).to_be_visible()
    return shoot(page, name, width, out)


def sign_in(browser, base_url: str, width: int, height: int, locale: str | None = None,
            email: str = "admin@example.com"):
    """A page of a new context (viewport width x height), signed in as the demo supervisor (or `email`).

    `locale` ("ru-RU") makes the browser ask for that language, as a visitor's would.
    """
    from playwright.sync_api import expect

    context = browser.new_context(
        base_url=base_url, viewport={"width": width, "height": height}, device_scale_factor=1,
        locale=locale,
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    expect(page.locator("header.topbar")).to_be_visible()
    return page


def register_intake(page) -> tuple[str, str]:
    """Submit the intake form once; the paths of its result page and of its lead."""
    from playwright.sync_api import expect

    page.goto("/contacts/new")
    page.get_by_label("Source").select_option(label="Website form")
    for field, value in INTAKE.items():
        page.locator(f"#{field}").fill(value)
    page.get_by_role("button", name="Register contact").click()
    expect(page.locator("article.result")).to_be_visible()
    lead_path = page.locator("article.result a[href^='/leads/']").get_attribute("href")
    result = urlsplit(page.url)
    return f"{result.path}?{result.query}", lead_path


def create_site_form_source(page) -> tuple[str, str, str]:
    """Create a site form source on its pages; the path of its page, its webhook URL and its token."""
    from playwright.sync_api import expect

    page.goto("/sources/new")
    page.locator("#name").fill("Landing page")
    page.locator("#key").fill("landing")
    page.get_by_role("button", name="Create source").click()
    expect(page.locator("#webhook-token")).to_be_visible()
    page.locator("select[name=form_format]").select_option("site_form")
    page.locator("#format").get_by_role("button", name="Save").click()
    expect(page.locator("select[name=form_format]")).to_have_value("site_form")
    webhook_url = page.locator("#webhook-url").input_value()
    return urlsplit(page.url).path, webhook_url, page.locator("#webhook-token").input_value()


def post_deliveries(webhook_url: str, token: str) -> None:
    """Post DELIVERIES to the webhook as their senders do (the token in the URL or in a header)."""
    for body, content_type, in_header in DELIVERIES:
        headers = {"Content-Type": content_type}
        if in_header:
            headers["X-Webhook-Token"] = token
        url = webhook_url if in_header else f"{webhook_url}?{urlencode({'token': token})}"
        with urlopen(Request(url, data=body.encode(), headers=headers, method="POST"), timeout=15) as answer:
            if answer.status != 201:
                sys.exit(f"the webhook answered {answer.status} to a screenshot delivery")


def add_my_notes(page) -> None:
    """As the demo operator Anna: notes on the newest of her contacts, added from /my's disclosure."""
    from playwright.sync_api import expect

    for text in MY_NOTES:
        page.goto("/my")
        row = page.locator("tbody.my-contact").first
        row.locator("summary", has_text="Add a note").click()
        row.locator("textarea[name=text]").fill(text)
        row.get_by_role("button", name="Add note").click()
        expect(page.locator(".flash-success")).to_be_visible()


def shoot_section(page, selector: str, name: str, width: int, out: Path) -> Path:
    """One element, cut from the full page: the sticky top bar stays at the top, not over it."""
    path = out / f"{name}-{width}.png"
    page.evaluate("window.scrollTo(0, 0)")
    box = page.locator(selector).bounding_box()  # page coordinates, the page being at its top
    page.screenshot(path=str(path), full_page=True, clip=box, animations="disabled", caret="hide")
    return path


def take_screenshots(base_url: str, out: Path) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    saved: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        # First the intake, so that every page shows the same data at both widths.
        page = sign_in(browser, base_url, 1280, 800)
        result_path, lead_path = register_intake(page)
        page.context.close()
        for width, height in WIDTHS.items():
            page = sign_in(browser, base_url, width, height)
            saved.append(shoot(page, "overview", width, out))
            # The Manage menu; on a phone, More (the rest of the navigation, Manage's pages too).
            menu = "Manage" if width > 600 else "More"
            page.locator("details.nav-menu summary", has_text=menu).click()
            expect(page.locator("details.nav-menu[open] ul")).to_have_css("opacity", "1")  # faded in
            path = out / f"menu-{width}.png"
            page.screenshot(path=str(path), animations="disabled", caret="hide")  # the viewport, menu open
            saved.append(path)
            saved.append(shoot_page(page, "/queue", ".queue-table", "queue", width, out))
            page.goto("/sources")
            page.get_by_role("link", name="Website form").click()
            page.get_by_role("button", name="Edit weights").click()
            expect(page.locator("[data-share-for]").first).to_have_text(re.compile(r"%"))
            saved.append(shoot(page, "weights", width, out))
            saved.append(shoot_page(page, result_path, "article.result", "intake-result", width, out))
            saved.append(shoot_page(page, lead_path, "tbody tr", "lead", width, out))
            saved.append(shoot_page(page, "/leads/duplicates", ".duplicates-table tbody tr", "duplicates",
                                    width, out))
            saved.append(shoot_page(page, "/audit", "main table tbody tr", "audit", width, out))
            saved.append(shoot_page(page, "/reports/distribution", "svg.chart-shares rect.bar", "report",
                                    width, out))
            page.context.close()
        # The overview, the queue, a contact, a lead and the audit trail in Russian (longer words:
        # the layout must hold).
        for width, height in WIDTHS.items():
            page = sign_in(browser, base_url, width, height, locale="ru-RU")
            saved.append(shoot(page, "overview-ru", width, out))
            saved.append(shoot_page(page, "/queue", ".queue-table", "queue-ru", width, out))
            # The oldest contact waiting: its page offers to assign it.
            first_waiting = page.locator(".queue-table tbody a[href^='/contacts/']").first
            contact_path = first_waiting.get_attribute("href")
            saved.append(shoot_page(page, contact_path, "main h1", "contact-ru", width, out))
            saved.append(shoot_page(page, lead_path, "tbody tr", "lead-ru", width, out))
            saved.append(shoot_page(page, "/audit", ".audit-table", "audit-ru", width, out))
            page.context.close()
        # A site form source last, so that none of the pages above shows it or its contacts.
        page = sign_in(browser, base_url, 1280, 800)
        source_path, webhook_url, token = create_site_form_source(page)
        page.context.close()
        post_deliveries(webhook_url, token)
        for width, height in WIDTHS.items():
            page = sign_in(browser, base_url, width, height)
            page.goto(source_path)
            page.locator("#connect-tilda > summary").click()
            expect(page.locator("#connect-tilda ol.steps")).to_be_visible()
            saved.append(shoot_section(page, "#connect", "source-connect", width, out))
            # Every delivery open (the newest is by itself), as after a click on each.
            page.locator("ol.deliveries details").evaluate_all("all => all.forEach(d => { d.open = true; })")
            expect(page.locator("ol.deliveries pre.delivery-body")).to_have_count(len(DELIVERIES))
            saved.append(shoot_section(page, "#deliveries", "source-deliveries", width, out))
            page.context.close()
        # An operator's own contacts: the newest with its notes, and its close form open (outcomes).
        page = sign_in(browser, base_url, 1280, 800, email=OPERATOR)
        add_my_notes(page)
        page.context.close()
        for width, height in WIDTHS.items():
            page = sign_in(browser, base_url, width, height, email=OPERATOR)
            page.goto("/my")
            row = page.locator("tbody.my-contact").first
            row.locator("summary", has_text="Close").click()
            expect(row.locator("form.close-form")).to_be_visible()
            expect(row.locator("ol.notes li")).to_have_count(len(MY_NOTES))
            saved.append(shoot(page, "my-note", width, out))
            page.context.close()
        browser.close()
    return saved


def add_team_history(url: str, days: int = 28, seed: int = 3) -> None:
    """Four weeks of assignments of the demo operators (opened, closed, with outcomes), and an
    operator who received nothing (paused)."""
    from sqlalchemy import func, select, update

    from crm_web import create_app
    from crm_web.core.extensions import db
    from crm_web.domain.outcomes import OUTCOMES
    from crm_web.models import Contact, Lead, Operator, Source
    from crm_web.services.operators import create_operator

    rng = random.Random(seed)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        session = db.session
        source_id = session.scalar(select(Source.id).where(Source.name == "Website form"))
        ops = {o.name: o.id for o in session.scalars(select(Operator))}
        now = datetime.now(UTC).replace(microsecond=0)
        for name, (per_day, open_min, close_h, weights) in TEAM_HISTORY.items():
            for day in range(days, -1, -1):
                for _ in range(rng.randint(max(per_day - 2, 1), per_day + 2)):
                    assigned = now - timedelta(days=day, hours=rng.uniform(0.5, 10))
                    opened = assigned + timedelta(minutes=rng.expovariate(1 / open_min))
                    still_open = day == 0 and rng.random() < 0.5
                    closed = None if still_open else opened + timedelta(hours=rng.expovariate(1 / close_h))
                    lead = Lead(name=f"Client {rng.randrange(10_000)}")
                    session.add(lead)
                    session.flush()
                    session.add(Contact(
                        lead_id=lead.id, source_id=source_id, operator_id=ops[name], created_at=assigned,
                        assigned_at=assigned, first_opened_at=opened, closed_at=closed,
                        is_active=closed is None,
                        outcome=None if closed is None else rng.choices(OUTCOMES, weights)[0],
                        message="Earlier request",
                    ))
        session.commit()
        # Keep the maintained loads exact.
        for op_id in ops.values():
            load = session.scalar(select(func.count()).where(Contact.operator_id == op_id, Contact.is_active))
            session.execute(update(Operator).where(Operator.id == op_id).values(active_load=load))
        session.commit()
        create_operator(session, {"name": "Elena Volkova", "max_load": 5, "is_active": False})
        db.session.remove()
        db.engine.dispose()


def take_team_screenshots(base_url: str, out: Path) -> list[Path]:
    """/reports/team at each width (after add_team_history)."""
    from playwright.sync_api import sync_playwright

    saved: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        for width, height in WIDTHS.items():
            page = sign_in(browser, base_url, width, height)
            saved.append(shoot_page(page, "/reports/team", "svg#chart-open rect.bar", "team-report",
                                    width, out))
            page.context.close()
        browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"where the PNGs go (default {OUT})")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"Chromium is not installed at {CHROMIUM}: run `make browser` first.")
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="crm-screenshots-"))
    server = None
    try:
        url = prepare_database(workdir)
        server = start_server(url, workdir / "logs", workers=2, secret_key=SECRET_KEY)
        saved = take_screenshots(server.base_url, args.out)
        # Last, so that no other screenshot shows the contacts it adds.
        add_team_history(url)
        saved += take_team_screenshots(server.base_url, args.out)
        errors = server.server_errors()
        if errors:
            sys.exit("the server reported errors:\n" + "\n".join(errors))
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    for path in saved:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{shown}  {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
