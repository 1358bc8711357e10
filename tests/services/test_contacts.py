"""Assignment, closing and deletion keep the load exact and lose nothing."""

import contextlib
import random

import pytest
from sqlalchemy import func, select

from crm_web.api.serializers import intake_body
from crm_web.domain.errors import Conflict, Forbidden, NotFound
from crm_web.domain.identifiers import parse_contact_input
from crm_web.models import Contact, Distribution, Operator, User
from crm_web.services.contacts import assign_manually, close_contact
from crm_web.services.intake import register_contact
from crm_web.services.operators import delete_operator, update_operator


def intake(app, session, source, phone):
    data = parse_contact_input({"phone": phone}, "RU")
    return intake_body(register_contact(session, source, data, app.extensions["crm_rng"]))


BOSS = User(id=0, email="boss@example.com", role="supervisor", password_hash="")


def load_invariant(session):
    """Each operator's maintained counter equals its number of active contacts."""
    counted = dict(
        session.execute(
            select(Contact.operator_id, func.count())
            .where(Contact.is_active.is_(True), Contact.operator_id.is_not(None))
            .group_by(Contact.operator_id)
        ).all()
    )
    for op in session.scalars(select(Operator).where(Operator.deleted_at.is_(None))):
        assert op.active_load == counted.get(op.id, 0), op.name


def test_full_operators_leave_contacts_queued(app, factory, session):
    a = factory.operator("A", max_load=1)
    b = factory.operator("B", max_load=2)
    source = factory.source(weights={a: 1, b: 1})
    bodies = [intake(app, session, source, f"+7999000000{i}") for i in range(5)]
    assert [b_["operator_available"] for b_ in bodies].count(True) == 3
    assert [b_["contact"]["status"] for b_ in bodies][3:] == ["unassigned", "unassigned"]
    assert [session.get(Operator, o.id).active_load for o in (a, b)] == [1, 2]
    load_invariant(session)


def test_manual_assign_and_close(app, factory, session):
    op = factory.operator("A", max_load=1)
    source = factory.source()
    boss = BOSS
    first = intake(app, session, source, "+79990000001")["contact"]["id"]
    second = intake(app, session, source, "+79990000002")["contact"]["id"]
    contact = assign_manually(session, first, op.id, boss)
    assert contact.status == "assigned"
    with pytest.raises(Conflict) as full:
        assign_manually(session, second, op.id, boss)
    assert full.value.code == "operator_at_capacity"
    with pytest.raises(Conflict):
        assign_manually(session, first, op.id, boss)
    close_contact(session, first, boss)
    with pytest.raises(Conflict):
        close_contact(session, first, boss)
    assert assign_manually(session, second, op.id, boss).operator_id == op.id
    load_invariant(session)


def test_assign_refuses_inactive_operator(app, factory, session):
    op = factory.operator("A", max_load=3, is_active=False)
    source = factory.source()
    boss = BOSS
    contact_id = intake(app, session, source, "+79990000001")["contact"]["id"]
    with pytest.raises(Conflict) as exc:
        assign_manually(session, contact_id, op.id, boss)
    assert exc.value.code == "operator_inactive"
    assert session.get(Contact, contact_id).operator_id is None
    with pytest.raises(NotFound):
        assign_manually(session, 999_999, op.id, boss)


def test_operator_user_acts_only_for_itself(app, factory, session):
    mine = factory.operator("Mine", max_load=3)
    other = factory.operator("Other", max_load=3)
    source = factory.source()
    user = User(id=0, email="op", role="operator", operator_id=mine.id, password_hash="")
    contact_id = intake(app, session, source, "+79990000001")["contact"]["id"]
    with pytest.raises(Forbidden):
        assign_manually(session, contact_id, other.id, user)
    assert assign_manually(session, contact_id, mine.id, user).operator_id == mine.id
    boss = BOSS
    second = intake(app, session, source, "+79990000002")["contact"]["id"]
    assign_manually(session, second, other.id, boss)
    with pytest.raises(Forbidden):
        close_contact(session, second, user)
    assert close_contact(session, contact_id, user).status == "closed"


def test_delete_operator_returns_contacts_to_queue(app, factory, session):
    a = factory.operator("A", max_load=5)
    source = factory.source(weights={a: 1})
    ids = [intake(app, session, source, f"+7999000000{i}")["contact"]["id"] for i in range(3)]
    boss = BOSS
    close_contact(session, ids[0], boss)
    assert delete_operator(session, a.id) == 2
    session.expire_all()
    statuses = [session.get(Contact, i).status for i in ids]
    assert statuses == ["closed", "unassigned", "unassigned"]
    assert session.get(Contact, ids[0]).operator_id == a.id  # history kept
    assert session.scalar(select(func.count(Distribution.id))) == 0
    assert session.scalar(select(func.count(Contact.id))) == 3


def test_lowering_max_load_keeps_contacts_and_stops_new_ones(app, factory, session):
    a = factory.operator("A", max_load=3)
    source = factory.source(weights={a: 1})
    for i in range(3):
        intake(app, session, source, f"+7999000000{i}")
    update_operator(session, a.id, {"max_load": 1})
    assert intake(app, session, source, "+79990000009")["operator_available"] is False
    assert session.get(Operator, a.id).active_load == 3
    load_invariant(session)


def test_random_sequence_keeps_load_exact(app, factory, session):
    """Any mix of intake, manual assignment, closing and deletion keeps counters exact."""
    ops = [factory.operator(f"Op{i}", max_load=m) for i, m in enumerate((2, 3, 4))]
    source = factory.source(weights={ops[0]: 1, ops[1]: 2, ops[2]: 3})
    boss = BOSS
    rng = random.Random(5)
    for step in range(120):
        action = rng.random()
        contacts = session.scalars(select(Contact)).all()
        if action < 0.5 or not contacts:
            intake(app, session, source, f"+7999{step:07d}")
        elif action < 0.8:
            with contextlib.suppress(Conflict):
                close_contact(session, rng.choice(contacts).id, boss)
        else:
            with contextlib.suppress(Conflict):
                assign_manually(session, rng.choice(contacts).id, rng.choice(ops[:2]).id, boss)
        session.expire_all()
        load_invariant(session)
    delete_operator(session, ops[2].id)
    load_invariant(session)
