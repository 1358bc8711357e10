"""The webhook's hot path issues a fixed, small number of SQL statements.

Counted with tests/helpers.py's `recorded_statements` (a `before_cursor_execute`
listener on the app's engine) around a test-client POST, so a regression to
one query per operator, per rule or per matched lead (N+1) fails here. Every
statement that reaches the driver counts, transaction control included
(SQLite's BEGIN IMMEDIATE); COMMIT is not a statement, it is the driver's
commit call.
PostgreSQL opens its transactions implicitly, hence the smaller numbers
there; and it stores a new client in autocommit, with no transaction at
all (two statements, so two round trips), which is counted too. The README
("Performance") quotes these numbers.
"""

from __future__ import annotations

import pytest

from crm_web.core.extensions import db
from tests.helpers import StatementLog, recorded_statements

from .helpers import assert_created, post_json

# Statements per case and database: one transaction per request, which on
# SQLite starts with BEGIN IMMEDIATE (PostgreSQL has no BEGIN statement).
# "source" is one statement reading the source with its eligible operators.
# The intake writes step by step on both databases (capacity claim, lead,
# contact insert, audit row: services/intake.py); on PostgreSQL a new client,
# or a returning one only adding a contact, is stored by one statement
# instead ("at once", in autocommit: WITH new_lead AS (INSERT INTO leads ...),
# matched AS (SELECT ... FROM leads ...) ... claimed AS (UPDATE operators ...)
# ... INSERT INTO audit_events ...). SQLite has no data-modifying WITH.
EXPECTED = {
    # The source's delivery row (services/deliveries.py) is not the intake's:
    # the request hands it to its process's log after answering, and a thread
    # writes those rows in batches.
    # SQLite: source; capacity claim, lead insert, contact insert, audit row
    # PostgreSQL: source; at once
    "new_lead": {"sqlite": 6, "postgresql": 2},
    # SQLite: source; claim, lead insert (conflict), lead look-up, contact insert, audit row
    # PostgreSQL: source; at once (the lead found in it)
    "returning_lead": {"sqlite": 7, "postgresql": 2},
    # as returning, plus the fill-in of an identifier the lead lacked (one
    # update, no savepoint); PostgreSQL: at once writes nothing, then the
    # transaction: claim, lead look-up, update, contact insert, audit row.
    "returning_lead_fills_in": {"sqlite": 8, "postgresql": 7},
    # as new lead, but nobody is free: no claim
    "no_operator_free": {"sqlite": 5, "postgresql": 2},
    # SQLite: source; Idempotency-Key reserved, claim, lead insert, contact
    # insert, audit row, answer stored; in one transaction.
    # PostgreSQL: source; at once with the key; answer stored (one transaction)
    "new_lead_with_idempotency_key": {"sqlite": 8, "postgresql": 3},
    # a replayed Idempotency-Key: source, key (conflict), stored answer;
    # PostgreSQL tries at once first (the key's conflict undoes it)
    "idempotent_replay": {"sqlite": 4, "postgresql": 4},
    # a wrong token: the source look-up only
    "wrong_token": {"sqlite": 2, "postgresql": 1},
}
# Transactions opened (BEGIN sent) per case, where it differs from one.
TRANSACTIONS = {
    case: {"postgresql": 0} for case in ("new_lead", "returning_lead", "no_operator_free", "wrong_token")
} | {"idempotent_replay": {"postgresql": 2}}


def dialect(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


@pytest.fixture
def setup(app, client, factory):
    """A source whose weight table has ten operators, most of them full.

    Full and paused operators in the table must not cost a query each: the
    candidates are read in one statement and only one operator is claimed.
    """
    free = factory.operator("Free", max_load=1000)
    operators = {free: 1}
    for i in range(7):
        operators[factory.operator(f"Full {i}", max_load=0)] = 5
    operators[factory.operator("Paused", max_load=10, is_active=False)] = 5
    operators[factory.operator("Other", max_load=1000)] = 1
    source = factory.source("Site", key="site", weights=operators)
    nobody = factory.source("Night", key="night", weights={factory.operator("Zero", max_load=0): 1})
    # Warm up: first connection, statement caches, lazy imports.
    assert_created(post_json(client, source, {"phone": "+79990000001", "email": "warm@example.com"}))
    return source, nobody


def check(app, case: str, log: StatementLog) -> None:
    expected = EXPECTED[case][dialect(app)]
    assert len(log) == expected, f"{case}: {len(log)} statements, expected {expected}:\n{log}"
    transactions = TRANSACTIONS.get(case, {}).get(dialect(app), 1)
    assert log.transactions == transactions, f"{case}: {log.transactions} transactions, not {transactions}"


def test_new_lead(app, client, setup):
    source, _ = setup
    with recorded_statements(app) as log:
        body = assert_created(
            post_json(client, source, {"phone": "+79991110001", "email": "new@example.com"})
        )
    assert body["lead"]["created"] is True
    assert body["operator_available"] is True
    check(app, "new_lead", log)


def test_returning_lead(app, client, setup):
    source, _ = setup
    first = assert_created(post_json(client, source, {"email": "named@example.com", "name": "Named"}))
    with recorded_statements(app) as log:
        body = assert_created(post_json(client, source, {"email": "NAMED@example.com", "name": "Other"}))
    assert body["lead"] == {"id": first["lead"]["id"], "created": False}
    check(app, "returning_lead", log)


def test_returning_lead_by_phone_fills_in_email(app, client, setup):
    source, _ = setup
    first = assert_created(post_json(client, source, {"phone": "+79991110003", "name": "Fill"}))
    with recorded_statements(app) as log:
        body = assert_created(
            post_json(client, source, {"phone": "+79991110003", "email": "fill@example.com"})
        )
    assert body["lead"] == {"id": first["lead"]["id"], "created": False}
    check(app, "returning_lead_fills_in", log)


def test_no_operator_free(app, client, setup):
    _, nobody = setup
    with recorded_statements(app) as log:
        body = assert_created(post_json(client, nobody, {"phone": "+79991110004"}))
    assert body["operator_available"] is False
    check(app, "no_operator_free", log)


def test_idempotency_key_first_and_replay(app, client, setup):
    source, _ = setup
    with recorded_statements(app) as log:
        first = post_json(client, source, {"phone": "+79991110005"}, **{"Idempotency-Key": "k-1"})
    assert first.status_code == 201
    check(app, "new_lead_with_idempotency_key", log)
    with recorded_statements(app) as log:
        again = post_json(client, source, {"phone": "+79991110005"}, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    check(app, "idempotent_replay", log)


def test_wrong_token(app, client, setup):
    source, _ = setup
    with recorded_statements(app) as log:
        response = client.post(
            f"/webhooks/{source.key}", json={"phone": "+79991110006"}, headers={"X-Webhook-Token": "nope"}
        )
    assert response.status_code == 401
    check(app, "wrong_token", log)
