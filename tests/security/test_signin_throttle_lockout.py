"""Lock-out windows of the sign-in throttle: one audit row each, Retry-After, pruning, racing attempts."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from crm_web.core.extensions import db
from crm_web.services import signin_throttle
from crm_web.services.signin_throttle import SigninThrottle
from tests.helpers import PASSWORD

from .helpers import attempt, fails, throttled


class Clock:
    """The throttle's clock, frozen; `advance(minutes=…)` moves it."""

    def __init__(self) -> None:
        self.now = signin_throttle.utcnow()

    def __call__(self):
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(signin_throttle, "utcnow", clock)
    return clock


def throttled_rows(audit_rows) -> list[dict]:
    return [r for r in audit_rows("signin.failed") if r["details"]["reason"] == "throttled"]


def test_a_flood_on_one_account_writes_one_audit_row_per_lockout_window(client, factory, audit_rows, clock):
    staff = factory.staff("supervisor")
    for i in range(5):
        assert fails(attempt(client, staff.email, "wrong-password", f"10.30.0.{i}"))
    for i in range(60):  # anonymous, from anywhere, the right password now and then
        password = PASSWORD if i % 10 == 0 else f"guess-{i}"
        assert throttled(attempt(client, staff.email, password, f"10.30.1.{i}"))

    [row] = throttled_rows(audit_rows)
    assert row["subject_id"] == staff.user_id
    assert row["details"] == {"email": staff.email, "reason": "throttled", "by": "account", "attempts": 60}
    assert row["ip"] == "10.30.1.0"  # where the window's first refusal came from
    assert len(audit_rows("signin.failed")) == 5 + 1
    # Refused attempts are not counted: the failures table holds the five, per account and per address.
    assert factory.count("signin_failures") == 5 * 2
    assert factory.count("signin_lockouts") == 1

    # The window is over: five more failures lock the account again, in a new window with a new row.
    clock.advance(minutes=15, seconds=1)
    for i in range(5):
        assert fails(attempt(client, staff.email, "wrong-password", f"10.30.2.{i}"))
    for i in range(3):
        assert throttled(attempt(client, staff.email, PASSWORD, f"10.30.3.{i}"))
    first, second = throttled_rows(audit_rows)
    assert first["details"]["attempts"] == 60
    assert second["details"]["attempts"] == 3
    assert factory.count("signin_lockouts") == 1


def test_a_flood_from_one_address_writes_one_audit_row_for_that_address(client, factory, audit_rows, clock):
    for i in range(20):
        assert fails(attempt(client, f"guess-{i}@example.com", "wrong-password", "10.31.0.1"))
    for i in range(20, 80):  # a new email every time: no account is locked, the address is
        assert throttled(attempt(client, f"guess-{i}@example.com", "wrong-password", "10.31.0.1"))
    [row] = throttled_rows(audit_rows)
    assert row["details"] == {
        "email": "guess-20@example.com",
        "reason": "throttled",
        "by": "address",
        "attempts": 60,
    }
    assert row["subject_id"] is None
    assert len(audit_rows("signin.failed")) == 20 + 1


def test_retry_after_is_when_the_oldest_counted_failure_leaves_the_window(client, factory, clock):
    staff = factory.staff("supervisor")
    assert fails(attempt(client, staff.email, "wrong-password", "10.32.0.1"))
    clock.advance(minutes=2)
    for i in range(4):
        assert fails(attempt(client, staff.email, "wrong-password", f"10.32.0.{i + 2}"))
    clock.advance(minutes=3)
    response = attempt(client, staff.email, PASSWORD, "10.32.0.9")
    assert throttled(response)
    assert response.headers["Retry-After"] == str(10 * 60)  # the first failure, 5 minutes ago
    clock.advance(minutes=10)  # it has left the window: four remain, one more try is allowed
    assert attempt(client, staff.email, PASSWORD, "10.32.0.9").status_code == 303


def test_failures_that_left_the_window_are_pruned(app, factory, clock, monkeypatch):
    throttle = SigninThrottle(5, 20, 15)
    with app.app_context():
        for i in range(3):
            assert throttle.attempt(db.session, "old@example.com", f"10.33.0.{i}").allowed
        db.session.remove()
    assert factory.count("signin_failures") == 3 * 2

    clock.advance(minutes=16)
    monkeypatch.setattr(signin_throttle, "SWEEP_SECONDS", 0)
    with app.app_context():
        assert throttle.attempt(db.session, "new@example.com", "10.33.1.1").allowed
        db.session.remove()
    # The old keys' rows are gone though nobody tried them again; the new ones stay.
    assert factory.count("signin_failures") == 2


def test_racing_attempts_cannot_pass_the_limit(app, factory):
    """Twelve attempts at once on one account from twelve workers: five at most get through."""
    throttle = SigninThrottle(5, 20, 15)
    start = threading.Barrier(12)
    verdicts = []

    def one(i: int) -> None:
        with app.app_context():
            start.wait()
            verdicts.append(throttle.attempt(db.session, "raced@example.com", f"10.34.0.{i}").allowed)
            db.session.remove()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(verdicts) == 12
    assert verdicts.count(True) <= 5
