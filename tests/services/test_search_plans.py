"""The search of /contacts and /leads is served by its indexes (migration 0009), on both databases.

Every statement a search sends is captured as sent and explained with its
own parameters. SQLite: the FTS5 tables find the rows, and the contacts or
leads are then read by primary key, never scanned. PostgreSQL: with
sequential and plain index scans switched off only bitmap scans are left,
which need an index whose expression is the condition's; were the query's
folding to differ by a character from the index's, the plan would be a
(penalised) sequential scan and these tests would fail. That the planner
prefers these indexes at a million contacts is measured by bench/scale.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from crm_web.domain.search import parse_query
from crm_web.services.contacts import ContactFilters, list_contacts
from crm_web.services.leads import search_leads
from tests.helpers import before_statements

FULL_SCAN = re.compile(r"^(SCAN (contacts|leads)\b(?!_search))|Seq Scan on (contacts|leads)\b", re.M)


@pytest.fixture
def people(make_contact, factory):
    source = factory.source(name="Site")
    make_contact(source, phone="+7 999 123-45-67", email="anna.petrova@mail.ru", name="Анна",
                 message="Перезвоните после обеда")
    make_contact(source, phone="+7 916 555-00-11", email="ivan@example.org", name="Ivan", message="Quote")
    make_contact(source, phone="+7 916 555-00-12", name="Олег", message="Анна посоветовала")


def plans(app, session, search) -> list[tuple[str, str]]:
    """(statement, plan) of each statement `search()` sends that reads contacts or leads."""
    sent: list[tuple[str, object]] = []

    def listener(_conn, _cursor, statement, parameters, _context, _executemany):
        if re.search(r"\b(contacts|leads)\b", statement):
            sent.append((statement, parameters))

    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        for setting in ("enable_seqscan", "enable_indexscan", "enable_indexonlyscan"):
            session.execute(text(f"SET {setting} = off"))
    with before_statements(app, listener):
        search()
    explain = "EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN "
    conn = session.connection()
    result = []
    for statement, parameters in sent:
        rows = conn.exec_driver_sql(explain + statement, parameters).all()
        result.append((statement, "\n".join(str(row[-1]) for row in rows)))
    return result


def assert_served_by(found: list[tuple[str, str]], indexes: dict[str, str]) -> None:
    assert found
    postgresql = "Bitmap" in found[0][1] or "Seq Scan" in found[0][1] or "Result" in found[0][1]
    for statement, plan in found:
        assert not FULL_SCAN.search(plan), (statement, plan)
    every_plan = "\n".join(plan for _, plan in found)
    for kind, index in indexes.items():
        expected = index if postgresql else f"SCAN {kind}_search VIRTUAL TABLE"
        assert expected in every_plan, every_plan


@pytest.mark.parametrize(
    ("q", "indexes"),
    [
        ("анна", {"leads": "ix_leads_search"}),
        ("petrova@", {"leads": "ix_leads_search"}),
        ("123-45-67", {"leads": "ix_leads_phone_search"}),
    ],
)
def test_the_lead_search_reads_its_index(app, session, people, q, indexes):
    region = app.config["CRM_PHONE_REGION"]
    found = plans(app, session, lambda: search_leads(session, q, region, 1, 50))
    assert_served_by(found, indexes)


@pytest.mark.parametrize(
    ("q", "indexes"),
    [
        ("анна", {"contacts": "ix_contacts_search", "leads": "ix_leads_search"}),  # also a lead's email
        ("обеда", {"contacts": "ix_contacts_search"}),
        ("555-00", {"leads": "ix_leads_phone_search"}),
    ],
)
def test_the_contact_search_reads_its_indexes(app, session, people, q, indexes):
    search = parse_query(q, app.config["CRM_PHONE_REGION"])
    found = plans(app, session, lambda: list_contacts(session, ContactFilters(search=search), 1, 50))
    assert_served_by(found, indexes)


@pytest.mark.parametrize("status", ["unassigned", "assigned", "closed"])
def test_the_contact_search_with_a_status_scans_nothing(app, session, people, status):
    """With a filter the planner may start from the filter's own index (the queue's, say): never a scan."""
    search = parse_query("анна", app.config["CRM_PHONE_REGION"])
    filters = ContactFilters(status=status, search=search)
    for statement, plan in plans(app, session, lambda: list_contacts(session, filters, 1, 50)):
        assert not FULL_SCAN.search(plan), (statement, plan)
