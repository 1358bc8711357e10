"""A site form's delivery as its source's page shows it (contract §2a), in Chromium against gunicorn.

A supervisor switches a source to the site form format on its page. A
Tilda-like HTML form on another origin (Name, Phone, Email, Comments, a
field of its own, hidden UTM marks and Tilda's formid) posts to the webhook
URL with the token in its query, the way a form builder connects without
code; the visitor mistypes the email. The supervisor then sees the request
in the source's recent deliveries: when, the answer, what was recognised,
what was kept, the warning and the body as it came, without the token; and
the contact's page shows the kept fields and the UTM marks.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from crm_web.services.deliveries import LONGEST_WAIT

pytestmark = pytest.mark.slow

LANDING = """<!doctype html>
<html><head><meta charset="utf-8"><title>Spring sale</title></head>
<body><h1>Spring sale</h1>
<form action="{action}" method="post">
  <input type="hidden" name="utm_source" value="yandex">
  <input type="hidden" name="utm_medium" value="cpc">
  <input type="hidden" name="utm_campaign" value="spring_sale">
  <input type="hidden" name="formid" value="form512345678">
  <p><label>Your name <input name="Name"></label></p>
  <p><label>Your phone <input name="Phone" type="tel"></label></p>
  <p><label>Your email <input name="Email"></label></p>
  <p><label>City <input name="City"></label></p>
  <p><label>Comments <textarea name="Comments"></textarea></label></p>
  <p><button type="submit">Send</button></p>
</form>
</body></html>
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture
def landing_site(tmp_path) -> Iterator[tuple]:
    """A static site on its own origin: (its root directory, its origin)."""
    root = tmp_path / "landing"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)  # written in batches
def test_a_tilda_like_form_delivery_is_listed_on_the_source_page_with_what_became_of_each_field(
    factory, live_server, new_page, sign_in, landing_site
):
    anna = factory.operator("Anna", max_load=10)
    source = factory.source("Landing page", key="landing", weights={anna: 1})
    factory.staff("supervisor", email="boss@example.com")
    token = source.webhook_token

    # The supervisor switches the source to the site form format.
    staff = new_page()
    sign_in(staff, "boss@example.com")
    staff.goto(f"/sources/{source.id}")
    deliveries = staff.locator("#deliveries")
    expect(deliveries).to_contain_text("Nothing has arrived yet.")
    settings = staff.locator("#format")
    # The select's label wraps its help text too: found by its name.
    settings.locator("select[name=form_format]").select_option("site_form")
    settings.get_by_role("button", name="Save").click()
    expect(staff.locator("#flashes .flash")).to_have_text("What Landing page receives is saved.")
    expect(staff.locator("#format select[name=form_format]")).to_have_value("site_form")
    expect(staff.locator("#connect-tilda .flash-warning")).to_have_count(0)

    # A landing page on another origin posts its form to the URL with the token, as Tilda does.
    root, origin = landing_site
    action = f"{live_server.base_url}/webhooks/landing?token={token}"
    (root / "index.html").write_text(LANDING.format(action=action), encoding="utf-8")
    visitor = new_page()
    visitor.goto(f"{origin}/index.html")
    visitor.get_by_label("Your name").fill("Olga")
    visitor.get_by_label("Your phone").fill("8 (999) 765-43-21")
    visitor.get_by_label("Your email").fill("olga.example.com")  # no @: cannot be read
    visitor.get_by_label("City").fill("Kazan")
    visitor.get_by_label("Comments").fill("Call me after 6, please")
    with visitor.expect_response(lambda r: "/webhooks/landing" in r.url) as answer:
        visitor.get_by_role("button", name="Send").click()
    assert answer.value.status == 201

    # The supervisor sees the delivery: when, the answer, what became of each field. The worker that
    # took the post writes its delivery row within LONGEST_WAIT (the page may come from another).
    time.sleep(LONGEST_WAIT + 0.3)
    staff.goto(f"/sources/{source.id}")
    items = deliveries.locator("ol.deliveries > li")
    expect(items).to_have_count(1)
    delivery = items.first
    summary = delivery.locator("summary")
    expect(delivery.locator("details")).to_have_attribute("open", "")
    received = datetime.fromisoformat(summary.locator("time").get_attribute("datetime"))
    assert abs(datetime.now(UTC) - received.replace(tzinfo=received.tzinfo or UTC)) < timedelta(minutes=2)
    expect(summary.locator("time")).not_to_be_empty()
    expect(summary.locator(".status")).to_have_text("201 contact stored")
    expect(summary.locator(".badge-warn")).to_have_text("1 warning")
    expect(summary.locator("small")).to_have_text(
        "utm_source, utm_medium, utm_campaign, Name, Phone, Message"
    )

    props = delivery.locator("dl.delivery-props")
    recognised = props.locator("dt:has-text('Recognised') + dd")
    for line in ("Name → Name", "Phone → Phone", "Comments → Message", "utm_source → utm_source"):
        expect(recognised).to_contain_text(line)
    expect(props.locator("dt:has-text('Kept') + dd")).to_have_text("formid, Email, City")
    # The reason after the colon is the email validator's own words.
    expect(props.locator("dt:has-text('Warnings') + dd li")).to_have_text(
        re.compile(r'^Email "olga\.example\.com" \(field "Email"\) could not be read: .*@')
    )

    body = delivery.locator("pre.delivery-body")
    expect(body).to_contain_text("Phone=8 (999) 765-43-21")
    expect(body).to_contain_text("City=Kazan")
    expect(body).to_contain_text("utm_campaign=spring_sale")
    assert token not in deliveries.inner_text()  # the token came in the URL, never shown here

    # The contact: the phone read, the rest of the form and the UTM marks kept with it.
    delivery.get_by_role("link", name="Contact #").click()
    expect(staff.locator(".contact-warnings")).to_contain_text('Email "olga.example.com"')
    expect(staff.locator("main")).to_contain_text("+7 999 765-43-21")  # as people write it
    fields = staff.locator("dl.form-fields")
    expect(fields.locator("dt")).to_have_text(["formid", "Email", "City"])
    expect(fields.locator("dd")).to_have_text(["form512345678", "olga.example.com", "Kazan"])
    utm = staff.locator("dl.utm")
    expect(utm.locator("dt")).to_have_text(["utm_source", "utm_medium", "utm_campaign"])
    expect(utm.locator("dd")).to_have_text(["yandex", "cpc", "spring_sale"])
