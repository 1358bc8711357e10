"""The services write one audit row per change, in the change's own transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from crm_web.core.actor import Actor, acting_as
from crm_web.core.extensions import db
from crm_web.domain.errors import Conflict, Forbidden, NotFound, ValidationError
from crm_web.models import Operator, Source, User
from crm_web.services import contacts as contact_service
from crm_web.services import operators as operator_service
from crm_web.services import sources as source_service
from crm_web.services.audit import record
from crm_web.services.tx import write_transaction
from tests.helpers import before_statements

ALICE = Actor("alice@example.com", user_id=7, ip="203.0.113.5", request_id="req-0001")


def user(app, user_id):
    with app.app_context():
        found = db.session.get(User, user_id)
        db.session.expunge(found)
        db.session.remove()
        return found


def call(app, fn, *args, actor=ALICE):
    with app.app_context(), acting_as(actor):
        try:
            return fn(db.session, *args)
        finally:
            db.session.remove()


# --- operators ------------------------------------------------------------------------


def test_operator_create_update_delete(app, factory, make_contact, events):
    anna = call(app, operator_service.create_operator, {"name": "Anna", "max_load": 3})
    (created,) = events("operator.")
    assert (created.action, created.subject_type, created.subject_id) == (
        "operator.created", "operator", anna.id,
    )
    assert (created.actor_label, created.actor_user_id, created.ip, created.request_id) == (
        "alice@example.com", 7, "203.0.113.5", "req-0001",
    )
    assert created.parsed == {"after": {"name": "Anna", "is_active": True, "max_load": 3}}

    call(app, operator_service.update_operator, anna.id, {"max_load": 5, "is_active": False, "name": "Anna"})
    updated = events("operator.updated")
    assert len(updated) == 1
    assert updated[0].parsed == {"before": {"is_active": True, "max_load": 3},
                                 "after": {"is_active": False, "max_load": 5}}

    call(app, operator_service.update_operator, anna.id, {"max_load": 5})  # changes nothing
    assert len(events("operator.updated")) == 1

    call(app, operator_service.update_operator, anna.id, {"is_active": True})
    source = factory.source(weights={anna: 1})
    first = make_contact(source, phone="+79990000001")
    second = make_contact(source, phone="+79990000002")
    returned = call(app, operator_service.delete_operator, anna.id)
    assert returned == 2
    (deleted,) = events("operator.deleted")
    assert deleted.subject_id == anna.id
    assert deleted.parsed == {
        "before": {"name": "Anna", "is_active": True, "max_load": 5}, "contacts_returned_to_queue": 2,
    }
    back = events("contact.returned")
    assert sorted(e.subject_id for e in back) == sorted([first.id, second.id])
    assert back[0].parsed == {"reason": "operator_deleted", "operator_id": anna.id, "operator_name": "Anna"}


def test_failed_operator_changes_leave_no_row(app, factory, events):
    factory.operator("Anna")
    boris = factory.operator("Boris")
    before = len(events())
    with pytest.raises(ValidationError):
        call(app, operator_service.create_operator, {"name": "", "max_load": 3})
    with pytest.raises(ValidationError):
        call(app, operator_service.update_operator, boris.id, {"max_load": 10_001})
    with pytest.raises(Conflict):
        call(app, operator_service.create_operator, {"name": "Anna", "max_load": 3})
    with pytest.raises(Conflict):
        call(app, operator_service.update_operator, boris.id, {"name": "Anna"})
    with pytest.raises(NotFound):
        call(app, operator_service.delete_operator, 999_999)
    assert len(events()) == before


# --- sources and weights ------------------------------------------------------------


def test_source_create_update_rotate_never_write_the_token(app, events, fetch):
    source = call(app, source_service.create_source, {"name": "Landing", "key": "landing"})
    call(app, source_service.update_source, source.id, {"name": "Landing page", "is_active": False})
    call(app, source_service.update_source, source.id, {"name": "Landing page"})  # no change: no row
    call(app, source_service.rotate_token, source.id)
    rows = events("source.")
    assert [e.action for e in rows] == ["source.created", "source.updated", "source.token_rotated"]
    assert all(e.subject_id == source.id and e.subject_type == "source" for e in rows)
    assert rows[0].parsed["after"]["name"] == "Landing"
    assert rows[0].parsed["after"]["key"] == "landing"
    assert rows[1].parsed == {"before": {"name": "Landing", "is_active": True},
                              "after": {"name": "Landing page", "is_active": False}}
    # Secrets stay out: neither the first nor the rotated token is anywhere in the trail.
    token = fetch(Source, source.id).webhook_token
    for row in rows:
        assert "webhook_token" not in (row.details or "")
        assert source.webhook_token not in (row.details or "")
        assert token not in (row.details or "")


def test_weights_updated_records_the_whole_table(app, factory, events):
    anna, boris, vera = factory.operator("Anna"), factory.operator("Boris"), factory.operator("Vera")
    source = factory.source(weights={anna: "10", boris: "5.5"})
    call(app, source_service.replace_distribution, source.id, {boris.id: "5.50", vera.id: "1"})
    rows = events("weights.")
    assert [e.actor_label for e in rows] == ["system", "alice@example.com"]  # the factory's, then ours
    last = rows[-1]
    assert (last.subject_type, last.subject_id) == ("source", source.id)
    assert last.parsed == {
        "before": {str(anna.id): "10.00", str(boris.id): "5.50"},
        "after": {str(boris.id): "5.50", str(vera.id): "1.00"},
        "names": {str(anna.id): "Anna", str(boris.id): "Boris", str(vera.id): "Vera"},
    }
    # The same table again: nothing changed, nothing recorded.
    call(app, source_service.replace_distribution, source.id, {boris.id: "5.5", vera.id: "1.00"})
    assert len(events("weights.")) == 2
    with pytest.raises(ValidationError):  # an unknown operator: nothing replaced, nothing recorded
        call(app, source_service.replace_distribution, source.id, {999_999: "1"})
    assert len(events("weights.")) == 2


def test_failed_source_changes_leave_no_row(app, factory, events):
    factory.source("Taken", key="taken")
    other = factory.source("Other", key="other")
    before = len(events())
    with pytest.raises(Conflict):
        call(app, source_service.create_source, {"name": "Taken"})
    with pytest.raises(Conflict):
        call(app, source_service.update_source, other.id, {"key": "taken"})
    with pytest.raises(ValidationError):
        call(app, source_service.update_source, other.id, {"key": "Not A Key"})
    with pytest.raises(NotFound):
        call(app, source_service.rotate_token, 999_999)
    assert len(events()) == before


# --- contacts -----------------------------------------------------------------------


def test_manual_assignment_and_close(app, factory, make_contact, events):
    anna = factory.operator("Anna", max_load=3)
    boss = factory.staff("supervisor")
    source = factory.source()  # no weights: contacts wait in the queue
    busy = factory.source(weights={anna: 1})
    make_contact(busy, phone="+79990000009")  # Anna holds one already
    contact = make_contact(source, phone="+79990000001")
    call(app, contact_service.assign_manually, contact.id, anna.id, user(app, boss.user_id))
    (assigned,) = events("contact.assigned", subject_id=contact.id)
    assert assigned.parsed == {"mode": "manual", "operator_id": anna.id, "operator_name": "Anna",
                               "load_before": 1, "max_load": 3}
    call(app, contact_service.close_contact, contact.id, user(app, boss.user_id))
    (closed,) = events("contact.closed")
    assert (closed.subject_id, closed.actor_label) == (contact.id, "alice@example.com")
    assert closed.parsed == {"operator_id": anna.id, "operator_name": "Anna", "outcome": "done"}


def test_failed_contact_changes_leave_no_row(app, factory, make_contact, events):
    anna = factory.operator("Anna", max_load=1)
    paused = factory.operator("Paused", is_active=False)
    boris = factory.operator("Boris", max_load=1)
    boss = user(app, factory.staff("supervisor").user_id)
    boris_user = user(app, factory.staff("operator", operator_id=boris.id).user_id)
    source = factory.source()
    full = factory.source(weights={anna: 1})
    make_contact(full, phone="+79990000009")  # Anna is full now
    contact = make_contact(source, phone="+79990000001")
    before = len(events())
    for operator_id, error in ((anna.id, Conflict), (paused.id, Conflict), (999_999, ValidationError)):
        with pytest.raises(error):
            call(app, contact_service.assign_manually, contact.id, operator_id, boss)
    with pytest.raises(Forbidden):  # an operator user takes only for itself
        call(app, contact_service.assign_manually, contact.id, anna.id, boris_user)
    with pytest.raises(Forbidden):  # ... and closes only its own contacts
        call(app, contact_service.close_contact, contact.id, boris_user)
    with pytest.raises(NotFound):
        call(app, contact_service.close_contact, 999_999, boss)
    assert len(events()) == before
    call(app, contact_service.close_contact, contact.id, boss)
    with pytest.raises(Conflict):  # closed twice
        call(app, contact_service.close_contact, contact.id, boss)
    assert len(events()) == before + 1


# --- one transaction ----------------------------------------------------------------


def test_a_failure_after_record_rolls_the_audit_row_back(session, events):
    """record() then an IntegrityError in the same transaction: neither row survives."""
    with pytest.raises(IntegrityError), write_transaction(session):
        record(session, "operator.created", "operator", None, {"after": {"name": "Twin"}})
        twins = [{"name": "Twin", "max_load": 1}, {"name": "Twin", "max_load": 1}]
        session.execute(insert(Operator), twins)
    assert events() == []
    assert session.scalar(select(Operator.id).where(Operator.name == "Twin")) is None


def test_a_service_failing_at_its_audit_row_keeps_neither(app, factory, events, fetch):
    """The database fails at the audit INSERT inside update_operator, after the change: the change
    rolls back too."""
    anna = factory.operator("Anna", max_load=3)
    before = len(events())

    def fail_at_audit(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS"):
            raise IntegrityError(statement, parameters, Exception("injected at the audit row"))

    with before_statements(app, fail_at_audit), pytest.raises(IntegrityError):
        call(app, operator_service.update_operator, anna.id, {"max_load": 9})
    assert len(events()) == before
    assert fetch(Operator, anna.id).max_load == 3
    call(app, operator_service.update_operator, anna.id, {"max_load": 9})  # and without the fault
    assert len(events()) == before + 1
    assert fetch(Operator, anna.id).max_load == 9
