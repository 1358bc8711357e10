"""Merging duplicate leads: every contact moves, identifiers combine, one transaction (both engines)."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import event, func, select

from crm_web.core.extensions import db
from crm_web.domain.errors import Conflict, NotFound, ValidationError
from crm_web.domain.identifiers import parse_contact_input
from crm_web.models import AuditEvent, Contact, Lead, LeadDuplicate
from crm_web.services.intake import register_contact
from crm_web.services.merge import (
    AlreadyMerged,
    dismiss_pair,
    list_duplicate_pairs,
    merge_leads,
    preview_merge,
)
from tests.helpers import before_statements


@pytest.fixture
def source(factory):
    return factory.source(name="Website form")


@pytest.fixture
def intake(app, session, source):
    def register(**fields):
        data = parse_contact_input(fields, "RU")
        return register_contact(session, source, data, app.extensions["crm_rng"]).contact

    return register


@pytest.fixture
def pair(intake):
    """Ivan by phone (3 contacts) and, apparently the same man, by email and CRM id (2 contacts);
    a fourth request names Ivan's phone and the other's email, which records the pair."""
    ivan = [intake(phone="+7 999 100-00-01", name="Ivan", message=f"call {i}") for i in range(3)]
    other = [intake(email="ivan@example.org", external_id="crm-7", name="I. Petrov") for _ in range(2)]
    both = intake(phone="+7 999 100-00-01", email="ivan@example.org", message="both")
    assert both.lead_id == ivan[0].lead_id
    return {
        "keep": ivan[0].lead_id,
        "other": other[0].lead_id,
        "contacts": sorted(c.id for c in [*ivan, *other, both]),
    }


def contact_ids(session, lead_id):
    return sorted(session.scalars(select(Contact.id).where(Contact.lead_id == lead_id)))


def merged_events(session):
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "lead.merged")))


def test_merge_moves_every_contact_combines_identifiers_and_deletes_the_other(session, pair):
    keep, other = pair["keep"], pair["other"]
    result = merge_leads(session, keep, other)

    assert result.moved_contacts == 2
    assert contact_ids(session, keep) == pair["contacts"]  # none lost
    assert session.scalar(select(func.count(Contact.id))) == len(pair["contacts"])
    assert session.get(Lead, other) is None
    lead = session.get(Lead, keep)
    # Filled in from the other lead; the kept lead's name wins over the other's.
    assert (lead.phone, lead.email, lead.external_id, lead.name) == (
        "+79991000001", "ivan@example.org", "crm-7", "Ivan"
    )
    assert session.scalar(select(func.count(LeadDuplicate.id))) == 0  # the pair went by cascade

    [event_] = merged_events(session)
    details = json.loads(event_.details)
    assert (event_.subject_type, event_.subject_id) == ("lead", keep)
    assert details["merged_lead_id"] == other
    assert details["moved_contacts"] == 2
    assert details["identifiers_before"] == {
        "external_id": None, "phone": "+79991000001", "email": None, "name": "Ivan"
    }
    assert details["identifiers_after"] == {
        "external_id": "crm-7", "phone": "+79991000001", "email": "ivan@example.org", "name": "Ivan"
    }
    assert details["dropped"] == {"name": "I. Petrov"}


def test_the_kept_leads_values_win_and_the_others_are_dropped(session, intake):
    keep = intake(phone="+7 999 200-00-01", email="a@example.org", name="A").lead_id
    other = intake(phone="+7 999 200-00-02", external_id="x-2").lead_id

    plan = preview_merge(session, keep, other)
    assert plan.filled == {"external_id": "x-2"}
    assert plan.dropped == {"phone": "+79992000002"}
    assert plan.result == {
        "external_id": "x-2", "phone": "+79992000001", "email": "a@example.org", "name": "A"
    }

    merge_leads(session, keep, other, plan.token)
    lead = session.get(Lead, keep)
    assert (lead.phone, lead.external_id) == ("+79992000001", "x-2")
    # The dropped phone belongs to nobody now: a new request with it is a new lead
    # (SQLite may give it the merged lead's id again: ids without AUTOINCREMENT).
    fresh = session.get(Lead, intake(phone="+7 999 200-00-02").lead_id)
    assert fresh.id != keep
    assert (fresh.phone, fresh.external_id) == ("+79992000002", None)


def test_preview_writes_nothing(session, pair):
    before = (contact_ids(session, pair["keep"]), contact_ids(session, pair["other"]))
    plan = preview_merge(session, pair["keep"], pair["other"])
    assert [c.id for c in plan.contacts] == contact_ids(session, pair["other"])
    assert (plan.keep.contact_count, plan.other.contact_count, plan.total_contacts) == (4, 2, 6)
    session.rollback()
    assert (contact_ids(session, pair["keep"]), contact_ids(session, pair["other"])) == before
    assert session.get(Lead, pair["other"]) is not None
    assert merged_events(session) == []


def test_the_audit_row_is_written_in_the_merges_transaction(app, session, pair):
    """Between the merge's BEGIN and its COMMIT: the moves, the delete and the audit insert."""
    log: list[str] = []
    engine = db.engine
    listeners = {
        "begin": lambda conn: log.append("BEGIN"),
        "commit": lambda conn: log.append("COMMIT"),
        "rollback": lambda conn: log.append("ROLLBACK"),
    }

    def statement(conn, cursor, statement, *rest):
        log.append(statement.split()[0].upper() + " " + statement)

    for name, fn in listeners.items():
        event.listen(engine, name, fn)
    try:
        with before_statements(app, statement):
            merge_leads(session, pair["keep"], pair["other"])
    finally:
        for name, fn in listeners.items():
            event.remove(engine, name, fn)
    moved = next(i for i, s in enumerate(log) if s.startswith("UPDATE") and "contacts" in s)
    audit = next(i for i, s in enumerate(log) if s.startswith("INSERT") and "audit_events" in s)
    commits = [i for i, s in enumerate(log) if s == "COMMIT"]
    assert moved < audit
    assert not [i for i in commits if moved < i < audit]
    assert [i for i in commits if i > audit], "the merge committed after the audit row"
    assert "ROLLBACK" not in log[moved:]


def test_a_lead_is_not_merged_into_itself(session, pair):
    with pytest.raises(ValidationError):
        merge_leads(session, pair["keep"], pair["keep"])
    with pytest.raises(ValidationError):
        preview_merge(session, pair["keep"], pair["keep"])
    assert contact_ids(session, pair["keep"]) != []
    assert merged_events(session) == []


def test_unknown_leads_are_not_found(session, pair):
    for keep, other in ((pair["keep"], 999_999), (999_999, pair["other"]), (999_998, 999_999)):
        with pytest.raises(NotFound):
            merge_leads(session, keep, other)
        with pytest.raises(NotFound):
            preview_merge(session, keep, other)
    assert session.get(Lead, pair["other"]) is not None


def test_a_second_merge_of_the_same_pair_is_a_conflict(session, pair):
    token = preview_merge(session, pair["keep"], pair["other"]).token
    merge_leads(session, pair["keep"], pair["other"], token)
    with pytest.raises(AlreadyMerged) as again:
        merge_leads(session, pair["keep"], pair["other"], token)
    assert (again.value.lead_id, again.value.kept_id) == (pair["other"], pair["keep"])
    # The other way round, too: the lead to keep is the one that went.
    with pytest.raises(AlreadyMerged):
        preview_merge(session, pair["other"], pair["keep"])
    assert len(merged_events(session)) == 1
    assert contact_ids(session, pair["keep"]) == pair["contacts"]


def test_an_intake_after_the_preview_makes_the_merge_a_conflict(session, pair, intake):
    stale = preview_merge(session, pair["keep"], pair["other"]).token
    late = intake(email="ivan@example.org", message="arrived after the preview")
    assert late.lead_id == pair["other"]
    with pytest.raises(Conflict) as changed:
        merge_leads(session, pair["keep"], pair["other"], stale)
    assert changed.value.code == "changed"
    assert session.get(Lead, pair["other"]) is not None  # nothing written
    assert contact_ids(session, pair["other"])[-1] == late.id
    fresh = preview_merge(session, pair["keep"], pair["other"]).token
    assert merge_leads(session, pair["keep"], pair["other"], fresh).moved_contacts == 3
    assert contact_ids(session, pair["keep"]) == sorted([*pair["contacts"], late.id])


def test_pairs_with_third_leads_carry_over_to_the_kept_lead(session, intake, pair):
    third = intake(phone="+7 999 300-00-03", name="Third").lead_id
    # Names the other lead's CRM id and the third lead's phone: records (third, other).
    intake(external_id="crm-7", phone="+7 999 300-00-03")
    merge_leads(session, pair["keep"], pair["other"])
    rows = session.execute(select(LeadDuplicate.lead_id, LeadDuplicate.duplicate_of_id)).all()
    assert [tuple(r) for r in rows] == [(third, pair["keep"])]


def test_list_and_dismiss_pairs(session, pair):
    page = list_duplicate_pairs(session, 1, 50)
    assert page.total == 1
    [item] = page.items
    assert (item.lead.id, item.duplicate_of.id) == (pair["other"], pair["keep"])
    assert (item.lead_contacts, item.duplicate_of_contacts) == (2, 4)

    assert dismiss_pair(session, pair["keep"], pair["other"]) == 1  # either way round
    assert list_duplicate_pairs(session, 1, 50).items == []
    with pytest.raises(NotFound):
        dismiss_pair(session, pair["keep"], pair["other"])
    events = session.scalars(select(AuditEvent.action).where(AuditEvent.action == "lead.duplicate_dismissed"))
    assert list(events) == ["lead.duplicate_dismissed"]


@pytest.mark.parametrize("opposite", [False, True], ids=["same-pair", "opposite-directions"])
def test_concurrent_merges_one_wins_and_no_contact_is_lost(app, session, pair, opposite):
    """Several supervisors confirm at once: one merge, the others a clear conflict."""
    directions = [(pair["keep"], pair["other"]), (pair["other"], pair["keep"])] if opposite else [
        (pair["keep"], pair["other"])] * 2
    directions = directions * 2
    session.rollback()  # no transaction of this thread's session stays open meanwhile
    barrier = threading.Barrier(len(directions))
    outcomes: list[object] = [None] * len(directions)

    def run(i, keep, other):
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                outcomes[i] = merge_leads(db.session, keep, other)
            except Exception as exc:  # noqa: BLE001 - recorded and asserted below
                outcomes[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, *d)) for i, d in enumerate(directions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    wins = [o for o in outcomes if not isinstance(o, Exception)]
    losses = [o for o in outcomes if isinstance(o, Exception)]
    assert len(wins) == 1, outcomes
    assert all(isinstance(o, AlreadyMerged) for o in losses), losses
    survivor = wins[0].kept_id
    assert contact_ids(session, survivor) == pair["contacts"]
    assert session.scalar(select(func.count(Lead.id))) == 1
    assert len(merged_events(session)) == 1
