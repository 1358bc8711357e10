"""Distributing the queue from the page, by CLI, and by itself (CRM_AUTO_DRAIN)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crm_web.extensions import db
from crm_web.models import AuditEvent, Contact, utcnow

_phones = iter(range(10**6))


def new_contact(make_contact, source):
    return make_contact(source, phone=f"+7999{next(_phones):07d}")


def operator_of(app, contact_id):
    with app.app_context():
        value = db.session.get(Contact, contact_id).operator_id
        db.session.remove()
        return value


def set_max_load(app, operator, max_load):
    from crm_web.services.operators import update_operator

    with app.app_context():
        update_operator(db.session, operator.id, {"max_load": max_load})
        db.session.remove()


def test_supervisor_distributes_the_queue_from_the_page(app, client, factory, sign_in, csrf, make_contact):
    anna = factory.operator("Anna", max_load=0)
    source = factory.source("Site", weights={anna: 1})
    first, second = new_contact(make_contact, source), new_contact(make_contact, source)
    set_max_load(app, anna, 1)
    sign_in("supervisor")

    page = client.get("/queue").get_data(as_text=True)
    assert "Distribute the queue" in page
    response = client.post("/queue/drain", data={"csrf_token": csrf("/queue")}, follow_redirects=True)

    assert response.status_code == 200
    assert "1 contact distributed; 1 still in the queue." in response.get_data(as_text=True)
    assert (operator_of(app, first.id), operator_of(app, second.id)) == (anna.id, None)


def test_operators_may_not_distribute_and_csrf_is_required(app, client, factory, sign_in, csrf, make_contact):
    anna = factory.operator("Anna", max_load=5)
    source = factory.source("Site", weights={anna: 1})
    set_max_load(app, anna, 0)
    contact = new_contact(make_contact, source)
    set_max_load(app, anna, 5)
    sign_in("operator")
    assert "Distribute the queue" not in client.get("/queue").get_data(as_text=True)
    assert client.post("/queue/drain", data={"csrf_token": csrf("/queue")}).status_code == 403
    assert operator_of(app, contact.id) is None


def test_drain_without_csrf_changes_nothing(app, client, factory, sign_in, make_contact):
    anna = factory.operator("Anna", max_load=0)
    source = factory.source("Site", weights={anna: 1})
    contact = new_contact(make_contact, source)
    set_max_load(app, anna, 5)
    sign_in("supervisor")
    assert client.post("/queue/drain", data={}).status_code == 400
    assert operator_of(app, contact.id) is None


def test_cli_drain_queue(app, runner, factory, make_contact):
    anna = factory.operator("Anna", max_load=0)
    source = factory.source("Site", weights={anna: 1})
    contacts = [new_contact(make_contact, source) for _ in range(3)]
    set_max_load(app, anna, 2)
    result = runner.invoke(args=["crm", "drain-queue"])
    assert result.exit_code == 0, result.output
    assert "Assigned 2 contact(s) (Anna 2); 1 still queued." in result.output
    assert [operator_of(app, c.id) for c in contacts] == [anna.id, anna.id, None]


def test_auto_drain_on_close_assigns_the_oldest_queued_contact(
    app, client, factory, sign_in, csrf, make_contact
):
    app.config["CRM_AUTO_DRAIN"] = True
    anna = factory.operator("Anna", max_load=1)
    source = factory.source("Site", weights={anna: 1})
    held = new_contact(make_contact, source)  # Anna is now full
    older, newer = new_contact(make_contact, source), new_contact(make_contact, source)
    assert operator_of(app, older.id) is None
    sign_in("supervisor")

    response = client.post(f"/contacts/{held.id}/close", data={"csrf_token": csrf(f"/contacts/{held.id}")})
    assert response.status_code in (200, 303)

    assert operator_of(app, older.id) == anna.id  # the oldest, at once
    assert operator_of(app, newer.id) is None
    with app.app_context():
        assigned = select(AuditEvent.details).where(
            AuditEvent.action == "contact.assigned", AuditEvent.subject_id == older.id
        )
        details = list(db.session.scalars(assigned))
    assert len(details) == 1 and '"mode": "drain"' in details[0]


def test_without_auto_drain_closing_leaves_the_queue_alone(app, client, factory, sign_in, csrf, make_contact):
    anna = factory.operator("Anna", max_load=1)
    source = factory.source("Site", weights={anna: 1})
    held = new_contact(make_contact, source)
    waiting = new_contact(make_contact, source)
    sign_in("supervisor")
    client.post(f"/contacts/{held.id}/close", data={"csrf_token": csrf(f"/contacts/{held.id}")})
    assert operator_of(app, held.id) == anna.id
    assert operator_of(app, waiting.id) is None


def test_my_page_says_which_contacts_went_back(app, client, factory, sign_in, make_contact):
    from crm_web.services.drain import return_unopened

    anna = factory.operator("Anna", max_load=5)
    source = factory.source("Site", weights={anna: 1})
    contact = new_contact(make_contact, source)
    with app.app_context():
        return_unopened(db.session, 15, now=utcnow() + timedelta(minutes=16))
        db.session.remove()
    sign_in("operator", operator_id=anna.id)
    page = client.get("/my").get_data(as_text=True)
    assert "1 contact went back to the queue because it was not opened in time." in page
    assert f"#{contact.id}" in page


def test_opening_a_contact_stops_its_return(app, client, factory, sign_in, log_in, make_contact):
    from crm_web.services.drain import return_unopened

    anna = factory.operator("Anna", max_load=5)
    source = factory.source("Site", weights={anna: 1})
    contact = new_contact(make_contact, source)
    other = new_contact(make_contact, source)
    supervisor = app.test_client()
    log_in(supervisor, factory.staff("supervisor").email)
    supervisor.get(f"/contacts/{contact.id}")  # a supervisor looking does not count
    sign_in("operator", operator_id=anna.id)
    assert client.get(f"/contacts/{contact.id}").status_code == 200
    with app.app_context():
        returned = return_unopened(db.session, 15, now=utcnow() + timedelta(minutes=16))
        db.session.remove()
    assert [r.contact_id for r in returned] == [other.id]
    assert operator_of(app, contact.id) == anna.id


def test_the_sweep_is_recorded_as_the_system_not_the_caller(app, client, factory, make_contact):
    from sqlalchemy import update

    from crm_web import autodrain

    anna = factory.operator("Anna", max_load=5)
    source = factory.source("Site", weights={anna: 1})
    contact = new_contact(make_contact, source)
    with app.app_context():
        db.session.execute(
            update(Contact)
            .where(Contact.id == contact.id)
            .values(assigned_at=utcnow() - timedelta(minutes=20))
        )
        db.session.commit()
        db.session.remove()
    app.config["CRM_RETURN_AFTER_MINUTES"] = 15
    autodrain._next_sweep = 0.0

    client.get("/login", environ_base={"REMOTE_ADDR": "203.0.113.9"})  # any request sweeps

    assert operator_of(app, contact.id) is None
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "contact.returned")).one()
        assert (event.actor_label, event.ip) == ("system", None)
