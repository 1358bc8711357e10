"""Times on the pages in the viewer's zone: the app's CRM_TIMEZONE, else each user's own choice.

A contact received at 21:30 UTC on 4 December is 00:30 on 5 December in
Moscow, 07:30 on the 5th in Vladivostok and 16:30 on the 4th in New York.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from crm_web.core.extensions import db
from crm_web.models import Contact, User
from crm_web.services.preferences import set_timezone
from tests.helpers import csrf_from

NIGHT = datetime(2026, 12, 4, 21, 30, tzinfo=UTC)
SUMMER = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def text(response) -> str:
    return response.get_data(as_text=True).replace("\u202f", " ")


@pytest.fixture
def moscow_office(app):
    app.config["CRM_TIMEZONE"] = "Europe/Moscow"  # the setting's default (the tests' own is UTC)


@pytest.fixture
def contact_at(app, make_contact, factory):
    source = factory.source("Site")

    def make(moment: datetime) -> int:
        contact = make_contact(source, phone=f"+7 999 555-{moment.hour:02d}-{moment.month:02d}")
        with app.app_context():
            db.session.execute(update(Contact).where(Contact.id == contact.id).values(created_at=moment))
            db.session.commit()
            db.session.remove()
        return contact.id

    return make


def choose(app, user_id: int, name: str | None) -> None:
    with app.app_context():
        set_timezone(db.session, user_id, name)
        db.session.remove()


def received(page: str) -> str:
    """The contact page's "Received" line, label and time."""
    match = re.search(r"<dt>Received(.*?)</dd>", page, re.S)
    assert match, "no Received on the page"
    return re.sub(r"<[^>]+>|\s+", " ", match.group(1))


def test_pages_show_times_in_the_offices_zone_named_once(client, sign_in, contact_at, moscow_office):
    contact_id = contact_at(NIGHT)
    sign_in()
    page = text(client.get(f"/contacts/{contact_id}"))
    line = received(page)
    assert "Dec 5, 2026" in line and "12:30:00 AM" in line
    assert "UTC+3" in line and 'title="Europe/Moscow"' in page
    listing = text(client.get("/leads"))
    assert listing.count("UTC+3") == 1  # in the column's header, not in each row


@pytest.mark.parametrize(("zone", "day", "clock", "label"), [
    ("Asia/Vladivostok", "Dec 5, 2026", "7:30:00 AM", "UTC+10"),
    ("America/New_York", "Dec 4, 2026", "4:30:00 PM", "America/New_York"),
    ("UTC", "Dec 4, 2026", "9:30:00 PM", "UTC"),
])
def test_a_user_sees_times_in_their_own_zone(
    client, sign_in, contact_at, moscow_office, app, zone, day, clock, label
):
    contact_id = contact_at(NIGHT)
    staff = sign_in()
    choose(app, staff.user_id, zone)
    line = received(text(client.get(f"/contacts/{contact_id}")))
    assert day in line and clock in line and label in line


def test_a_zone_with_summer_time_shows_each_time_with_its_own_offset(client, sign_in, contact_at, app):
    summer, winter = contact_at(SUMMER), contact_at(SUMMER.replace(month=12))
    staff = sign_in()
    choose(app, staff.user_id, "America/New_York")
    assert "8:00:00 AM" in received(text(client.get(f"/contacts/{summer}")))  # EDT, UTC−4
    assert "7:00:00 AM" in received(text(client.get(f"/contacts/{winter}")))  # EST, UTC−5


def test_the_api_keeps_utc(client, sign_in, contact_at, moscow_office, factory, app):
    contact_id = contact_at(NIGHT)
    staff = factory.staff()
    choose(app, staff.user_id, "Asia/Vladivostok")
    body = client.get(f"/api/v1/contacts/{contact_id}", headers=staff.headers).get_json()
    created = datetime.fromisoformat(body["created_at"])
    assert created == NIGHT and created.utcoffset() == timedelta(0)


def new_today(client) -> int:
    match = re.search(r"New today</div>\s*<div class=\"big\">(\d+)", text(client.get("/")))
    assert match, "no New today on the overview"
    return int(match.group(1))


def test_new_today_counts_from_the_viewers_midnight(client, sign_in, contact_at, app):
    """A contact two hours old is yesterday's where the day began less than two hours ago."""
    now = datetime.now(UTC)
    contact_at(now - timedelta(hours=2))
    # Fixed offsets from UTC−12 to UTC+14: in some the day began under two hours ago, in others not.
    zones = [ZoneInfo(f"Etc/GMT{-hours:+d}") for hours in range(-12, 15)]
    just_begun = next(z for z in zones if now.astimezone(z).hour < 2)
    well_on = next(z for z in zones if 2 <= now.astimezone(z).hour < 22)
    staff = sign_in()
    choose(app, staff.user_id, well_on.key)
    assert new_today(client) == 1
    choose(app, staff.user_id, just_begun.key)
    assert new_today(client) == 0


def test_the_reports_period_names_the_viewers_zone(client, sign_in, app, moscow_office):
    staff = sign_in()
    for path in ("/reports/distribution", "/reports/team"):
        assert re.search(r"Period: .*\(\d+ days, UTC\+3\)\.", text(client.get(path))), path
    choose(app, staff.user_id, "Asia/Vladivostok")
    assert "days, UTC+10)." in text(client.get("/reports/team"))


# --- choosing one's zone ------------------------------------------------------------------------


def test_the_user_menu_leads_to_the_zone_beside_the_language(client, sign_in):
    sign_in()
    menu = text(client.get("/"))
    assert 'href="/account/time-zone"' in menu
    page = text(client.get("/account/time-zone"))
    assert 'action="/language"' in page  # the language choice on the same page
    assert '<option selected value="">The office&#39;s time zone: UTC</option>' in page
    assert '<option value="Asia/Vladivostok">Asia/Vladivostok (UTC+10)</option>' in page


def test_a_user_chooses_a_zone_and_goes_back_to_the_offices(client, sign_in, fetch):
    staff = sign_in()
    token = csrf_from(text(client.get("/account/time-zone")))
    response = client.post("/account/time-zone", data={"csrf_token": token, "timezone": "Asia/Vladivostok"})
    assert response.status_code == 303
    assert fetch(User, staff.user_id).timezone == "Asia/Vladivostok"
    assert '<option selected value="Asia/Vladivostok">' in text(client.get("/account/time-zone"))
    response = client.post("/account/time-zone", data={"csrf_token": token, "timezone": ""})
    assert response.status_code == 303
    assert fetch(User, staff.user_id).timezone is None


@pytest.mark.parametrize("name", ["Mars/Olympus", "+03:00", "../../etc/passwd", "europe/moscow"])
def test_the_form_refuses_a_name_that_is_no_zone(client, sign_in, fetch, name):
    staff = sign_in()
    token = csrf_from(text(client.get("/account/time-zone")))
    response = client.post("/account/time-zone", data={"csrf_token": token, "timezone": name})
    assert response.status_code == 422
    assert "Choose a time zone from the list." in text(response)
    assert fetch(User, staff.user_id).timezone is None


def test_the_form_needs_its_csrf_token(client, sign_in, fetch):
    staff = sign_in()
    response = client.post("/account/time-zone", data={"timezone": "Asia/Vladivostok"})
    assert response.status_code == 400
    assert fetch(User, staff.user_id).timezone is None


def test_a_stored_zone_no_longer_known_falls_back_to_the_offices(
    client, sign_in, contact_at, app, moscow_office
):
    contact_id = contact_at(NIGHT)
    staff = sign_in()
    with app.app_context():
        db.session.execute(update(User).where(User.id == staff.user_id).values(timezone="Gone/Away"))
        db.session.commit()
        db.session.remove()
    assert "12:30:00 AM" in received(text(client.get(f"/contacts/{contact_id}")))
