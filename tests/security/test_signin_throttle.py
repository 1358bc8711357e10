"""Sign-in throttling per account and per client address, one generic answer, an audit row per failure."""

from __future__ import annotations

import difflib
import re
import uuid

from tests.conftest import make_app
from tests.helpers import PASSWORD, csrf_from

from .helpers import attempt, fails, throttled


def without_form_values(page: str) -> str:
    """The page with its field values and CSRF tokens blanked: tokens carry a timestamp, so two
    answers a second apart differ there and nowhere else."""
    page = re.sub(r'value="[^"]*"', 'value=""', page)
    return re.sub(r'"X-CSRFToken": "[^"]*"', '"X-CSRFToken": ""', page)


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def sign_out(client) -> None:
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})


def test_five_failures_on_one_account_from_five_addresses_throttle_that_account(app, client, factory):
    staff = factory.staff("supervisor")
    for i in range(5):
        assert fails(attempt(client, staff.email, "wrong-password", f"10.1.0.{i}"))
    # From a sixth address, even the right password is refused: the guessing stops.
    response = attempt(client, staff.email, PASSWORD, "10.1.0.99")
    assert throttled(response)
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 15 * 60
    assert not signed_in(client)
    # Other accounts from those addresses are not affected.
    other = factory.staff("supervisor")
    assert attempt(client, other.email, PASSWORD, "10.1.0.0").status_code == 303


def test_the_account_limit_does_not_care_how_the_email_is_written(client, factory):
    staff = factory.staff("supervisor")
    for i, email in enumerate(
        [staff.email, staff.email.upper(), f"  {staff.email} ", staff.email.title(), staff.email]
    ):
        assert fails(attempt(client, email, "wrong-password", f"10.2.0.{i}"))
    assert throttled(attempt(client, staff.email, PASSWORD, "10.2.0.50"))


def test_twenty_failures_from_one_address_throttle_that_address_for_every_account(client, factory):
    staff = factory.staff("supervisor")
    for i in range(20):  # different accounts, most of them unknown: fewer than 5 per account
        email = staff.email if i < 3 else f"guess-{i}@example.com"
        assert fails(attempt(client, email, "wrong-password", "10.3.0.1"))
    assert throttled(attempt(client, staff.email, PASSWORD, "10.3.0.1"))
    assert throttled(attempt(client, "someone-else@example.com", "whatever-1", "10.3.0.1"))
    assert not signed_in(client)
    # The same account from another address still signs in (3 failures < 5).
    assert attempt(client, staff.email, PASSWORD, "10.3.0.2").status_code == 303


def test_throttled_answers_tell_nothing_about_the_account(client, factory):
    staff = factory.staff("supervisor")
    unknown = f"nobody-{uuid.uuid4().hex[:6]}@example.com"
    pages = {}
    for email in (staff.email, unknown):
        for i in range(5):
            assert fails(attempt(client, email, "wrong-password", f"10.4.{len(pages)}.{i}"))
        response = attempt(client, email, "wrong-password", "10.4.9.9")
        assert throttled(response)
        assert "Retry-After" in response.headers
        pages[email] = without_form_values(response.get_data(as_text=True))
    assert pages[staff.email] == pages[unknown]


def test_every_failure_gets_the_same_page(client, factory, app):
    from crm_web.core.extensions import db
    from crm_web.models import User

    staff = factory.staff("supervisor")
    disabled = factory.staff("supervisor")
    with app.app_context():
        db.session.get(User, disabled.user_id).is_enabled = False
        db.session.commit()
    answers = [
        attempt(client, staff.email, "wrong-password", "10.5.0.1"),
        attempt(client, "nobody@example.com", "wrong-password", "10.5.0.2"),
        attempt(client, disabled.email, PASSWORD, "10.5.0.3"),  # right password, disabled account
    ]
    bodies = {without_form_values(r.get_data(as_text=True)) for r in answers}
    assert all(fails(r) for r in answers)
    assert len(bodies) == 1, "\n".join(
        difflib.unified_diff(*[b.splitlines() for b in list(bodies)[:2]], lineterm="")
    )


def test_a_success_clears_the_account_but_not_the_address(client, factory):
    staff = factory.staff("supervisor")
    for i in range(4):
        assert fails(attempt(client, staff.email, "wrong-password", f"10.6.0.{i}"))
    assert attempt(client, staff.email, PASSWORD, "10.6.0.9").status_code == 303
    sign_out(client)
    # The account starts afresh: four more mistakes and the right password still work.
    for i in range(4):
        assert fails(attempt(client, staff.email, "wrong-password", f"10.6.1.{i}"))
    assert attempt(client, staff.email, PASSWORD, "10.6.1.9").status_code == 303
    sign_out(client)

    # An attacker with one valid account cannot reset its address's count by signing in.
    for i in range(19):
        assert fails(attempt(client, f"guess-{i}@example.com", "wrong-password", "10.6.2.1"))
    assert attempt(client, staff.email, PASSWORD, "10.6.2.1").status_code == 303
    sign_out(client)
    assert fails(attempt(client, "guess-19@example.com", "wrong-password", "10.6.2.1"))
    assert throttled(attempt(client, staff.email, PASSWORD, "10.6.2.1"))


def test_failures_are_audited_without_the_password(client, factory, app, audit_rows):
    from crm_web.core.extensions import db
    from crm_web.models import User

    staff = factory.staff("supervisor")
    disabled = factory.staff("supervisor")
    with app.app_context():
        db.session.get(User, disabled.user_id).is_enabled = False
        db.session.commit()
    secret = "Sekret-" + uuid.uuid4().hex
    attempt(client, staff.email, secret, "10.7.0.1")
    attempt(client, "Nobody@Example.com", secret, "10.7.0.2")
    attempt(client, disabled.email, PASSWORD, "10.7.0.3")
    for _ in range(4):
        attempt(client, staff.email, secret, "10.7.0.4")
    attempt(client, staff.email, secret, "10.7.0.5")  # the sixth: throttled
    assert attempt(client, disabled.email, "x" * 9, "10.7.0.6").status_code == 200

    rows = audit_rows("signin.failed")
    seen = [(r["subject_id"], r["details"]["email"], r["details"]["reason"], r["ip"]) for r in rows]
    assert seen[:3] == [
        (staff.user_id, staff.email, "bad_password", "10.7.0.1"),
        (None, "nobody@example.com", "unknown", "10.7.0.2"),
        (disabled.user_id, disabled.email, "disabled", "10.7.0.3"),
    ]
    assert [s[2] for s in seen[3:]] == ["bad_password"] * 4 + ["throttled", "bad_password"]
    assert seen[7][0] == staff.user_id
    assert all(r["actor_user_id"] is None for r in rows)
    assert all(secret not in r["raw"] and PASSWORD not in r["raw"] for r in rows)
    # A success is no failure.
    other = factory.staff("supervisor")
    assert attempt(client, other.email, PASSWORD, "10.7.0.7").status_code == 303
    assert len(audit_rows("signin.failed")) == len(rows)


def test_limits_come_from_the_settings(database_url):
    app = make_app(database_url, CRM_LOGIN_MAX_FAILURES_ACCOUNT=2, CRM_LOGIN_THROTTLE_MINUTES=1)
    from tests.conftest import Factory

    staff = Factory(app).staff("supervisor")
    client = app.test_client()
    assert fails(attempt(client, staff.email, "wrong-password", "10.8.0.1"))
    assert fails(attempt(client, staff.email, "wrong-password", "10.8.0.2"))
    response = attempt(client, staff.email, PASSWORD, "10.8.0.3")
    assert throttled(response)
    assert 1 <= int(response.headers["Retry-After"]) <= 60

    off = make_app(database_url, CRM_LOGIN_MAX_FAILURES_ACCOUNT=0, CRM_LOGIN_MAX_FAILURES_ADDRESS=0)
    client = off.test_client()
    for _ in range(8):
        assert fails(attempt(client, staff.email, "wrong-password", "10.8.0.4"))
    assert attempt(client, staff.email, PASSWORD, "10.8.0.4").status_code == 303
    dispose(app, off)


def test_apps_over_one_database_share_the_counts(database_url):
    """Two apps (as two workers or hosts) over one database, no Redis: failures on either count for both."""
    workers = [make_app(database_url) for _ in range(2)]
    from tests.conftest import Factory

    staff = Factory(workers[0]).staff("supervisor", email=f"shared-{uuid.uuid4().hex[:8]}@example.com")
    clients = [w.test_client() for w in workers]
    net = f"10.{uuid.uuid4().int % 200 + 20}.{uuid.uuid4().int % 250}"
    for i in range(5):
        assert fails(attempt(clients[i % 2], staff.email, "wrong-password", f"{net}.{i}"))
    assert throttled(attempt(clients[0], staff.email, PASSWORD, f"{net}.10"))
    assert throttled(attempt(clients[1], staff.email, PASSWORD, f"{net}.11"))
    dispose(*workers)


def dispose(*apps) -> None:
    from crm_web.core.extensions import db

    for some_app in apps:
        with some_app.app_context():
            db.engine.dispose()
