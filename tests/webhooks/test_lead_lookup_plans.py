"""PostgreSQL finds a returning client's lead by index, whatever the table's size.

The intake's statements are prepared on the server (psycopg prepares a
statement run five times) and PostgreSQL then keeps one generic plan per
connection. A look-up written `external_id = $1 OR phone = $2 OR email = $3`
gets a sequential scan as its generic plan while `leads` is small, and keeps
it as the table grows: on 4 December that made every returning client scan
all leads, and the bench's PostgreSQL throughput fell by a quarter within a
run. Each identifier is looked up on its own unique index instead; here the
generic plans are read back, on a small and never analysed `leads` table
(a database of this module's own: the shared test database's tables have
grown on disk by the time these run), where the OR form would scan.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from crm_web.core.extensions import db
from crm_web.services.intake_sql import AT_ONCE_ASSIGNED, AT_ONCE_QUEUED
from crm_web.services.leads import _match_statement

from ..conftest import fresh_postgresql_database
from .helpers import assert_created, post_json

_PARAM = re.compile(r"%\((\w+)\)s")
_DOLLAR = re.compile(r"\$(\d+)")


@pytest.fixture(scope="module")
def database_url():
    yield from fresh_postgresql_database("crm_test_plans")


def generic_plan(conn, sql: str) -> str:
    """EXPLAIN of the plan PostgreSQL keeps for `sql` once it is prepared."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    conn.execute(text("SET plan_cache_mode = force_generic_plan"))
    sql = _PARAM.sub(number, sql).replace("%%", "%")
    # SQL sent with PostgreSQL's own placeholders ($1, $2, ...) as it is.
    count = max([len(names), *(int(n) for n in _DOLLAR.findall(sql))])
    conn.exec_driver_sql("PREPARE lookup AS " + sql)
    try:
        nulls = ", ".join(["NULL"] * count)
        rows = conn.exec_driver_sql(f"EXPLAIN EXECUTE lookup({nulls})" if count else "EXPLAIN EXECUTE lookup")
        return "\n".join(row[0] for row in rows)
    finally:
        conn.exec_driver_sql("DEALLOCATE lookup")
        conn.execute(text("RESET plan_cache_mode"))


def driver_sql(driver_statement, conn) -> str:
    """The SQL of a statement run on the driver, as sent (every parameter given)."""
    binds = driver_statement.statement.compile(dialect=conn.dialect).binds
    return driver_statement.sql(conn, {name: None for name, bind in binds.items() if bind.required})


def test_a_few_leads_are_small_enough_for_the_or_form_to_scan(app):
    """The premise: without it the tests below could not fail."""
    with app.app_context(), db.engine.connect() as conn:
        plan = generic_plan(
            conn,
            "SELECT id FROM leads WHERE external_id = %(a)s::VARCHAR OR phone = %(b)s::VARCHAR "
            "OR email = %(c)s::VARCHAR",
        )
    assert "Seq Scan on leads" in plan, plan


@pytest.mark.parametrize("statement", [AT_ONCE_ASSIGNED, AT_ONCE_QUEUED], ids=["assigned", "queued"])
def test_the_at_once_statement_finds_the_lead_by_index(app, client, factory, statement):
    source = factory.source(weights={factory.operator(): 1})
    # A few leads, as when the connection's first requests prepare the statement.
    for n in range(3):
        assert_created(post_json(client, source, {"phone": f"+7916000000{n}"}))
    with app.app_context(), db.engine.connect() as conn:
        plan = generic_plan(conn, driver_sql(statement, conn))
    assert "Seq Scan on leads" not in plan, plan
    for index in ("uq_leads_external_id", "uq_leads_phone", "uq_leads_email"):
        assert index in plan, plan


@pytest.mark.parametrize(
    "fields", [("phone", "email"), ("external_id", "phone", "email"), ("email",)], ids="+".join
)
def test_the_transactions_lead_look_up_is_by_index(app, fields):
    with app.app_context(), db.engine.connect() as conn:
        plan = generic_plan(conn, driver_sql(_match_statement(fields), conn))
    assert "Seq Scan on leads" not in plan, plan
    assert plan.count("Index Scan") == len(fields), plan
