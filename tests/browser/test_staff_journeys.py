"""End to end in a real browser against a running gunicorn (issue 3, criterion 2).

A supervisor signs in, creates operators and a source, fills the source's
weight table and watches the shares change while typing; registers contacts
on the intake form until every operator is full and the next one is queued;
closes a contact and assigns the queued one from the queue without a page
reload. An operator user watches a contact from the webhook appear in the
queue by itself and takes it with one click.

Every test runs on SQLite and on PostgreSQL; the assertions are on what a
user sees. No sleeps: expect() waits, up to one queue polling period where
the page refreshes itself.
"""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import Page, expect

from .conftest import POLL_TIMEOUT_MS, assert_same_document, mark_page

pytestmark = pytest.mark.slow


@pytest.fixture
def supervisor(factory):
    return factory.staff("supervisor", email="boss@example.com")


def row_of(page: Page, text: str):
    """The table row that contains `text` (an operator's or lead's name, a contact #id)."""
    return page.locator("tbody tr", has_text=text)


def nav(page: Page):
    return page.locator("header.topbar nav")


def flash(page: Page):
    return page.locator("#flashes .flash")


def intake(app, source, **fields):
    """Register a contact through the intake service, as the webhook does."""
    from crm_web.core.extensions import db
    from crm_web.domain.identifiers import parse_contact_input
    from crm_web.services.intake import register_contact

    with app.app_context():
        data = parse_contact_input(fields, app.config["CRM_PHONE_REGION"])
        result = register_contact(db.session, source, data, app.extensions["crm_rng"])
        db.session.remove()
    return result


def submit_intake_form(page: Page, source: str, phone: str, name: str, message: str) -> int:
    """Submit the intake form; return the new contact's id from the result page."""
    page.goto("/contacts/new")
    page.get_by_label("Source").select_option(label=source)
    page.get_by_label("Phone").fill(phone)
    page.get_by_role("textbox", name="Name", exact=True).fill(name)
    page.get_by_label("Message").fill(message)
    page.get_by_role("button", name="Register contact").click()
    expect(page).to_have_url(re.compile(r"/contacts/\d+\?created=1$"))
    expect(page.locator("article.result")).to_be_visible()
    return int(re.search(r"/contacts/(\d+)", page.url).group(1))


# -- steps 1 to 3: sign in, operators, source, weight table -----------------------


def test_supervisor_creates_operators_and_a_source_and_fills_its_weights(
    supervisor, new_page, sign_in, factory, live_server
):
    page = new_page()
    sign_in(page, supervisor.email)

    for name in ("Anna", "Boris"):
        page.goto("/operators/new")
        page.get_by_role("textbox", name="Name", exact=True).fill(name)
        page.get_by_label("Maximum load").fill("1")
        page.get_by_role("button", name="Save").click()
        # The new operator's page, saying what they still need before contacts reach them.
        expect(page).to_have_url(re.compile(r"/operators/\d+/edit$"))
        expect(flash(page)).to_have_text(f"Operator {name} created.")
        steps = page.locator("article.next-steps")
        expect(steps).to_contain_text(f"Next steps for {name}")
        expect(steps.get_by_role("button", name="Create their sign-in")).to_be_visible()
        expect(steps).to_contain_text("There are no sources yet.")
    page.goto("/operators")
    expect(page.locator("tbody tr")).to_have_count(2)
    for name in ("Anna", "Boris"):
        expect(row_of(page, name)).to_contain_text("active")
        expect(row_of(page, name).locator(".load-text")).to_have_text("0 / 1")

    page.goto("/sources/new")
    page.get_by_role("textbox", name="Name", exact=True).fill("Landing page")
    page.get_by_label("Key").fill("landing")
    page.get_by_role("button", name="Create source").click()
    expect(page).to_have_url(re.compile(r"/sources/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Landing page")
    expect(flash(page)).to_contain_text("Source Landing page created.")
    expect(page.locator("#webhook-url")).to_have_value(live_server.url("/webhooks/landing"))
    expect(page.get_by_text("No operator has a weight on this source yet")).to_be_visible()

    page.get_by_role("button", name="Edit weights").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Weights of Landing page")
    anna, boris = page.get_by_label("Anna"), page.get_by_label("Boris")
    anna_share = row_of(page, "Anna").locator(".share")
    boris_share = row_of(page, "Boris").locator(".share")
    expect(anna_share).to_have_text("—")
    expect(boris_share).to_have_text("—")

    # The shares follow the keyboard, before anything is saved.
    anna.press_sequentially("1")
    expect(anna_share).to_have_text("100.0%")
    expect(boris_share).to_have_text("—")
    boris.press_sequentially("3")
    expect(anna_share).to_have_text("25.0%")
    expect(boris_share).to_have_text("75.0%")
    boris.press_sequentially("x")  # "3x" is no weight: marked, and left out of the shares
    expect(boris).to_have_attribute("aria-invalid", "true")
    expect(anna_share).to_have_text("100.0%")
    expect(boris_share).to_have_text("—")
    boris.press("Backspace")
    expect(boris).not_to_have_attribute("aria-invalid", "true")
    expect(anna_share).to_have_text("25.0%")
    expect(boris_share).to_have_text("75.0%")
    assert factory.count("source_operator_distributions") == 0, "typing alone saved something"

    page.get_by_role("button", name="Save weights").click()
    expect(flash(page)).to_have_text("Weights of Landing page saved.")
    expect(anna).to_have_value("1.00")
    expect(boris).to_have_value("3.00")
    expect(anna_share).to_have_text("25.0%")
    expect(boris_share).to_have_text("75.0%")
    assert factory.count("source_operator_distributions") == 2

    # The source page shows the saved table too.
    page.get_by_role("button", name="Source and webhook").click()
    expect(row_of(page, "Anna")).to_contain_text("1.00")
    expect(row_of(page, "Anna")).to_contain_text("25.0%")
    expect(row_of(page, "Boris")).to_contain_text("3.00")
    expect(row_of(page, "Boris")).to_contain_text("75.0%")


# -- steps 4 to 6: intake, a full house, the queue ---------------------------------


def test_intake_assigns_until_everyone_is_full_then_the_queue_takes_over(
    supervisor, new_page, sign_in, factory
):
    anna = factory.operator("Anna", max_load=1)
    boris = factory.operator("Boris", max_load=1)
    factory.source("Landing page", key="landing", weights={anna: 1, boris: 3})
    page = new_page()
    sign_in(page, supervisor.email)
    badge = page.locator("#queue-badge")
    expect(badge).to_have_text("0")

    first = submit_intake_form(page, "Landing page", "+7 999 000-00-01", "Ivan", "Call me, please")
    heading = page.locator("article.result h2")
    expect(heading).to_have_text(re.compile(r"^Assigned to (Anna|Boris)$"))
    first_operator = heading.inner_text().removeprefix("Assigned to ")
    other_operator = {"Anna": "Boris", "Boris": "Anna"}[first_operator]
    expect(page.locator("article.result")).to_contain_text("new lead")

    # The first operator is at max_load 1: the second contact can only go to the other.
    second = submit_intake_form(page, "Landing page", "+7 999 000-00-02", "Olga", "A price list")
    expect(heading).to_have_text(f"Assigned to {other_operator}")

    # Everyone is full: the third is queued, and the page says so plainly.
    third = submit_intake_form(page, "Landing page", "+7 999 000-00-03", "Pavel", "Delivery?")
    expect(heading).to_have_text("No operator is available: the contact is queued")
    expect(page.locator("article.result")).to_contain_text(f"Contact #{third} is registered and waits")
    expect(badge).to_have_text("1")
    assert len({first, second, third}) == 3

    page.goto("/")
    for name in ("Anna", "Boris"):
        expect(row_of(page, name).locator(".load-text")).to_have_text("1 / 1")

    # Close the first operator's contact on its page (the confirm dialog is accepted).
    page.goto(f"/contacts/{first}")
    page.get_by_role("button", name="Close contact").click()
    expect(flash(page)).to_have_text(f"Contact #{first} closed: Done.")
    expect(page.get_by_role("heading", level=1).locator(".status-closed")).to_have_text("closed")
    expect(page.get_by_role("heading", level=1).locator(".outcome")).to_have_text("Done")

    # Assign the queued contact inline. The queue polls every 5 s; acting right
    # after the page loads keeps a refresh from replacing the form mid-choice.
    page.goto("/queue")
    row = page.locator(f"#queue-row-{third}")
    expect(row).to_contain_text("Pavel")
    expect(row).to_contain_text("Landing page")
    select = row.get_by_role("combobox")
    # Only operators with free capacity are offered, each with its load.
    expect(select.locator("option")).to_have_text(["Operator…", f"{first_operator} (0/1)"])
    mark_page(page)
    select.select_option(label=f"{first_operator} (0/1)")
    row.get_by_role("button", name="Assign").click()
    expect(page.locator("#queue-message")).to_have_text(f"Contact #{third} assigned to {first_operator}.")
    expect(row).to_have_count(0)
    expect(page.get_by_text("The queue is empty")).to_be_visible()
    expect(badge).to_have_text("0")
    assert_same_document(page)

    page.goto(f"/contacts/{third}")
    expect(page.get_by_role("heading", level=1).locator(".status")).to_have_text("assigned")
    expect(page.locator("dl.props")).to_contain_text(first_operator)


# -- step 7: an operator user takes a contact from the queue ----------------------------


def test_operator_user_sees_a_new_contact_appear_in_the_queue_and_takes_it(
    new_page, sign_in, factory, app, live_server
):
    anna = factory.operator("Anna", max_load=1)
    clara = factory.operator("Clara", max_load=3)  # no weight: gets contacts only by taking them
    source = factory.source("Landing page", key="landing", weights={anna: 1})
    first = intake(app, source, phone="+7 999 000-00-01", name="Ivan")
    assert first.contact.operator_id is not None, "Anna should have got the first contact"  # she is full now
    operator_user = factory.staff("operator", operator_id=clara.id, email="clara@example.com")

    page = new_page()
    sign_in(page, operator_user.email)
    expect(page.locator(".whoami")).to_contain_text("operator")
    nav(page).get_by_role("link", name="Queue").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Queue")
    expect(page.get_by_text("The queue is empty")).to_be_visible()
    mark_page(page)

    # A site form posts to the webhook while Clara looks at the queue.
    answer = requests.post(
        live_server.url("/webhooks/landing"),
        json={"phone": "8 (999) 123-45-67", "name": "Maria", "message": "Call me after six"},
        headers={"X-Webhook-Token": source.webhook_token},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["operator_available"] is False
    contact_id = answer.json()["contact"]["id"]

    row = page.locator(f"#queue-row-{contact_id}")
    expect(row).to_contain_text("Maria", timeout=POLL_TIMEOUT_MS)  # the page refreshed itself
    expect(page.locator("#queue-badge")).to_have_text("1")
    assert_same_document(page)

    row.get_by_role("button", name="Take").click()  # one click, no confirmation
    # She lands on the contact she took, to work on it.
    expect(page).to_have_url(re.compile(rf"/contacts/{contact_id}$"))
    expect(page.locator("#flashes")).to_contain_text(f"You took contact #{contact_id}.")
    expect(page.locator("dd.contact-name")).to_contain_text("Maria")
    expect(page.locator("#queue-badge")).to_have_text("0")

    nav(page).get_by_role("link", name="My contacts").click()
    expect(page).to_have_url(re.compile(r"/my$"))
    mine = row_of(page, f"#{contact_id}")
    expect(mine).to_contain_text("Maria")
    expect(mine).to_contain_text("+7 999 123-45-67")
    expect(page.locator(".availability .load-text")).to_have_text("1 / 3")
