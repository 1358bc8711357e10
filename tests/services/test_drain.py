"""Draining the queue and returning unopened contacts (services/drain.py)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm_web.core.extensions import db
from crm_web.domain.identifiers import ContactInput, Identifiers
from crm_web.models import AuditEvent, Contact, Operator, utcnow
from crm_web.services.drain import drain_queue, mark_opened, return_unopened
from crm_web.services.intake import register_contact
from crm_web.services.operators import update_operator


def queue_contacts(app, source, n: int, start: int = 0) -> list[int]:
    """n contacts that arrive while nobody is free (oldest first)."""
    ids = []
    with app.app_context():
        for i in range(start, start + n):
            data = ContactInput(Identifiers(phone=f"+7999{i:07d}"), name=None, message=None)
            result = register_contact(db.session, source, data, random.Random(i))
            assert result.contact.operator_id is None
            ids.append(result.contact.id)
        db.session.remove()
    return ids


def open_up(app, *operators_and_loads):
    with app.app_context():
        for operator, max_load in operators_and_loads:
            update_operator(db.session, operator.id, {"max_load": max_load})
        db.session.remove()


def state(app):
    with app.app_context():
        contacts = {c.id: c.operator_id for c in db.session.scalars(select(Contact))}
        loads = {o.id: (o.active_load, o.max_load) for o in db.session.scalars(select(Operator))}
        active = select(Contact.operator_id).where(
            Contact.is_active.is_(True), Contact.operator_id.is_not(None)
        )
        counted = Counter(op for (op,) in db.session.execute(active))
        db.session.remove()
    return contacts, loads, counted


def drain(app, seed=0, **kwargs):
    with app.app_context():
        result = drain_queue(db.session, random.Random(seed), **kwargs)
        db.session.remove()
    return result


def test_drain_takes_the_oldest_first_up_to_free_capacity(app, factory):
    anna = factory.operator("Anna", max_load=0)
    source = factory.source("Site", weights={anna: 1})
    queued = queue_contacts(app, source, 5)
    open_up(app, (anna, 3))

    result = drain(app)

    contacts, loads, counted = state(app)
    assert result.assigned == 3
    assert [cid for cid in queued if contacts[cid] == anna.id] == queued[:3]  # age order
    assert [contacts[cid] for cid in queued[3:]] == [None, None]
    assert loads[anna.id] == (3, 3) and counted[anna.id] == 3


def test_drain_follows_the_weights(app, factory):
    anna = factory.operator("Anna", max_load=0)
    boris = factory.operator("Boris", max_load=0)
    source = factory.source("Site", weights={anna: 1, boris: 3})
    queue_contacts(app, source, 400)
    open_up(app, (anna, 1000), (boris, 1000))

    result = drain(app, seed=3)

    assert result.assigned == 400
    share_boris = result.by_operator["Boris"] / 400
    assert 0.68 <= share_boris <= 0.82  # 75 % expected; ±3.5 sd


def test_drain_skips_sources_without_free_operators_and_goes_on(app, factory):
    anna = factory.operator("Anna", max_load=0)
    boris = factory.operator("Boris", max_load=0)
    night = factory.source("Night", weights={anna: 1})
    site = factory.source("Site", weights={boris: 1})
    night_ids = queue_contacts(app, night, 3)
    site_ids = queue_contacts(app, site, 2, start=100)
    open_up(app, (boris, 5))

    assert drain(app).assigned == 2

    contacts, _, _ = state(app)
    assert all(contacts[c] is None for c in night_ids)
    assert all(contacts[c] == boris.id for c in site_ids)


def test_drain_records_each_assignment_with_its_draw(app, factory):
    anna = factory.operator("Anna", max_load=0)
    source = factory.source("Site", weights={anna: 2})
    [cid] = queue_contacts(app, source, 1)
    open_up(app, (anna, 1))
    drain(app)
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "contact.assigned", AuditEvent.subject_id == cid)
        ).one()
        assert '"mode": "drain"' in event.details and '"total": 200' in event.details


def test_limit_and_empty_queue(app, factory):
    anna = factory.operator("Anna", max_load=0)
    source = factory.source("Site", weights={anna: 1})
    assert drain(app).assigned == 0
    queue_contacts(app, source, 4)
    open_up(app, (anna, 10))
    assert drain(app, limit=1).assigned == 1
    assert drain(app).assigned == 3


@pytest.mark.parametrize("drainers", [6])
def test_concurrent_drainers_never_assign_twice_nor_exceed_max_load(app, factory, drainers):
    operators = [factory.operator(f"Op {i}", max_load=0) for i in range(4)]
    source = factory.source("Site", weights={op: i + 1 for i, op in enumerate(operators)})
    queued = queue_contacts(app, source, 60)
    open_up(app, *[(op, 7) for op in operators])  # 28 places for 60 contacts

    results, errors = [], []
    barrier = threading.Barrier(drainers)

    def run(seed):
        try:
            barrier.wait()
            results.append(drain(app, seed=seed))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(drainers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    contacts, loads, counted = state(app)
    assigned = [cid for cid in queued if contacts[cid] is not None]
    assert sum(r.assigned for r in results) == len(assigned) == 28
    assert assigned == queued[:28]  # still the oldest ones
    for op in operators:
        assert loads[op.id] == (7, 7) and counted[op.id] == 7
    with app.app_context():
        audit_rows = db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "contact.assigned")
        )
    assert audit_rows == 28  # one per assignment: no double assignment recorded


def test_unopened_contacts_return_and_opened_ones_stay(app, factory):
    anna = factory.operator("Anna", max_load=10)
    source = factory.source("Site", weights={anna: 1})
    with app.app_context():
        ids = []
        for i in range(2):
            data = ContactInput(Identifiers(phone=f"+7999555000{i}"), name=None, message=None)
            ids.append(register_contact(db.session, source, data, random.Random(i)).contact.id)
        mark_opened(db.session, ids[1], anna.id)
        now = utcnow()
        assert return_unopened(db.session, 30, now=now + timedelta(minutes=29)) == []
        returned = return_unopened(db.session, 30, now=now + timedelta(minutes=31))
        assert [(r.contact_id, r.operator_id) for r in returned] == [(ids[0], anna.id)]
        db.session.remove()

    contacts, loads, counted = state(app)
    assert contacts == {ids[0]: None, ids[1]: anna.id}
    assert loads[anna.id][0] == counted[anna.id] == 1
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "contact.returned")).one()
        assert event.subject_id == ids[0] and '"reason": "not_opened"' in event.details


def test_a_returned_contact_is_not_drained_back_to_the_same_operator(app, factory):
    anna = factory.operator("Anna", max_load=10)
    boris = factory.operator("Boris", max_load=0)
    source = factory.source("Site", weights={anna: 999, boris: 1})
    with app.app_context():
        data = ContactInput(Identifiers(phone="+79995550009"), name=None, message=None)
        cid = register_contact(db.session, source, data, random.Random(1)).contact.id
        db.session.remove()
    open_up(app, (boris, 1))
    with app.app_context():
        [r] = return_unopened(db.session, 5, now=utcnow() + timedelta(minutes=6))
        result = drain_queue(db.session, random.Random(0), exclude={r.contact_id: r.operator_id})
        db.session.remove()
    contacts, _, _ = state(app)
    assert result.assigned == 1 and contacts[cid] == boris.id


def test_an_excluded_operator_does_not_hold_back_the_rest_of_the_source(app, factory):
    anna = factory.operator("Anna", max_load=0)
    source = factory.source("Site", weights={anna: 1})
    first, second = queue_contacts(app, source, 2)
    open_up(app, (anna, 5))

    result = drain(app, exclude={first: anna.id})  # the first came back from Anna

    contacts, _, _ = state(app)
    assert result.assigned == 1
    assert (contacts[first], contacts[second]) == (None, anna.id)
