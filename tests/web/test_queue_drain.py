"""Distributing the queue from the page, by CLI, and by itself (CRM_AUTO_DRAIN)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crm_web.core.extensions import db
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


def drain_page(client, csrf) -> str:
    response = client.post("/queue/drain", data={"csrf_token": csrf("/queue")}, follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_when_nothing_is_distributed_the_page_names_who_is_free_without_a_weight(
    app, client, factory, sign_in, csrf, make_contact
):
    anna = factory.operator("Anna", max_load=0)  # has the weight but no room
    clara = factory.operator("Clara", max_load=10)
    night = factory.source("Night", weights={anna: 1})
    new_contact(make_contact, factory.source("Day", weights={clara: 1}))  # Clara: 1 of 10
    waiting = new_contact(make_contact, night)
    sign_in("supervisor")

    html = drain_page(client, csrf)

    assert "No contact could be distributed; 1 still in the queue." in html
    link = f'<a href="/sources/{night.id}/weights#weight-{clara.id}">“Night”</a>'
    assert (f"Clara has free places (9 of 10) but no weight for {link}; "
            "add the operator to its weight table.") in html
    assert "Anna has free places" not in html
    assert operator_of(app, waiting.id) is None


def test_free_operators_without_weights_are_named_at_most_five_and_escaped(
    app, client, factory, sign_in, csrf, make_contact
):
    night, day = factory.source("Night"), factory.source("Day")
    new_contact(make_contact, night), new_contact(make_contact, day)
    factory.operator("<b>Zed</b>", max_load=10)
    for n in range(4):
        factory.operator(f"Op {n}", max_load=5)
    factory.operator("Last", max_load=1)  # the sixth, fewest places: counted, not named
    sign_in("supervisor")

    html = drain_page(client, csrf)

    assert html.count("has free places (") == 5
    assert "&lt;b&gt;Zed&lt;/b&gt; has free places (10 of 10)" in html and "<b>Zed" not in html
    assert "Last has free places" not in html
    assert "1 more operator has free places but no weights for them." in html
    assert (f'no weight for <a href="/sources/{day.id}/weights#weight-') in html
    assert "add the operator to their weight tables." in html


def test_when_nobody_has_free_places_the_page_says_so(app, client, factory, sign_in, csrf, make_contact):
    anna = factory.operator("Anna", max_load=0)
    new_contact(make_contact, factory.source("Night", weights={anna: 1}))
    sign_in("supervisor")
    html = drain_page(client, csrf)
    assert "Nobody with free capacity for the queued contacts; 1 still in the queue." in html
    assert "has free places" not in html


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


def test_auto_drain_on_close_skips_an_older_contact_nobody_free_may_take(
    app, client, factory, sign_in, csrf, make_contact
):
    """The oldest *eligible* one: an older contact of a source she does not serve stays queued."""
    app.config["CRM_AUTO_DRAIN"] = True
    anna = factory.operator("Anna", max_load=1)
    boris = factory.operator("Boris", max_load=0)  # full: serves "Night" only
    site = factory.source("Site", weights={anna: 1})
    night = factory.source("Night", weights={boris: 1})
    held = make_contact(site, phone="+79990001001")  # Anna is now full
    oldest_night = make_contact(night, phone="+79990001002")
    older_site = make_contact(site, phone="+79990001003")
    newer_site = make_contact(site, phone="+79990001004")
    assert [operator_of(app, c.id) for c in (oldest_night, older_site, newer_site)] == [None] * 3
    sign_in("supervisor")

    response = client.post(f"/contacts/{held.id}/close", data={"csrf_token": csrf(f"/contacts/{held.id}")})
    assert response.status_code in (200, 303)

    assert operator_of(app, oldest_night.id) is None  # Anna may not take it; Boris is full
    assert operator_of(app, older_site.id) == anna.id  # the oldest she may take
    assert operator_of(app, newer_site.id) is None


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


# --- the other changes that free capacity (CRM_AUTO_DRAIN), through the API ----------


def _queued_pair(app, factory, make_contact, *, anna_active=True, anna_max_load=0, rule=True):
    """Anna (and a source ruled to her, or not) and two queued contacts, oldest first."""
    anna = factory.operator("Anna", max_load=anna_max_load, is_active=anna_active)
    source = factory.source("Site", weights={anna: 1} if rule else None)
    older, newer = new_contact(make_contact, source), new_contact(make_contact, source)
    assert operator_of(app, older.id) is None and operator_of(app, newer.id) is None
    return anna, source, older, newer


def test_auto_drain_when_an_operator_is_activated(app, client, factory, make_contact):
    anna, _, older, newer = _queued_pair(app, factory, make_contact, anna_active=False, anna_max_load=1)
    app.config["CRM_AUTO_DRAIN"] = True
    headers = factory.staff("supervisor").headers
    response = client.patch(f"/api/v1/operators/{anna.id}", json={"is_active": True}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert (operator_of(app, older.id), operator_of(app, newer.id)) == (anna.id, None)


def test_auto_drain_when_an_operator_gets_a_larger_max_load(app, client, factory, make_contact):
    anna, _, older, newer = _queued_pair(app, factory, make_contact)
    app.config["CRM_AUTO_DRAIN"] = True
    headers = factory.staff("supervisor").headers
    response = client.patch(f"/api/v1/operators/{anna.id}", json={"max_load": 1}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert (operator_of(app, older.id), operator_of(app, newer.id)) == (anna.id, None)


def test_auto_drain_when_a_rule_is_added(app, client, factory, make_contact):
    anna, source, older, newer = _queued_pair(app, factory, make_contact, anna_max_load=1, rule=False)
    app.config["CRM_AUTO_DRAIN"] = True
    headers = factory.staff("supervisor").headers
    rules = {"rules": [{"operator_id": anna.id, "weight": "1"}]}
    response = client.put(f"/api/v1/sources/{source.id}/distribution", json=rules, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert (operator_of(app, older.id), operator_of(app, newer.id)) == (anna.id, None)


def test_without_auto_drain_a_larger_max_load_leaves_the_queue_alone(app, client, factory, make_contact):
    anna, _, older, newer = _queued_pair(app, factory, make_contact)
    headers = factory.staff("supervisor").headers
    response = client.patch(f"/api/v1/operators/{anna.id}", json={"max_load": 5}, headers=headers)
    assert response.status_code == 200
    assert (operator_of(app, older.id), operator_of(app, newer.id)) == (None, None)


def test_auto_drain_hands_a_deleted_operators_contacts_to_the_others(app, client, factory, make_contact):
    anna = factory.operator("Anna", max_load=5)
    boris = factory.operator("Boris", max_load=5)
    source = factory.source("Site", weights={anna: 1})
    held = new_contact(make_contact, source)
    assert operator_of(app, held.id) == anna.id
    from crm_web.services.sources import replace_distribution

    # Boris gets a rule now, through the service (no request: nothing drains).
    factory._call(replace_distribution, source.id, {anna.id: "1", boris.id: "1"})
    app.config["CRM_AUTO_DRAIN"] = True
    headers = factory.staff("supervisor").headers
    assert client.delete(f"/api/v1/operators/{anna.id}", headers=headers).status_code in (200, 204)
    assert operator_of(app, held.id) == boris.id


# --- unopened contacts with auto-drain on, and the cron command --------------------------


def _backdate_assignment(app, contact_id, minutes):
    from sqlalchemy import update

    with app.app_context():
        db.session.execute(
            update(Contact)
            .where(Contact.id == contact_id)
            .values(assigned_at=utcnow() - timedelta(minutes=minutes))
        )
        db.session.commit()
        db.session.remove()


def test_with_auto_drain_an_unopened_contact_goes_straight_to_another_operator(
    app, client, factory, make_contact
):
    from crm_web import autodrain

    anna = factory.operator("Anna", max_load=5)
    boris = factory.operator("Boris", max_load=0)
    source = factory.source("Site", weights={anna: 999, boris: 1})  # Anna would win every draw
    contact = new_contact(make_contact, source)
    assert operator_of(app, contact.id) == anna.id
    set_max_load(app, boris, 5)
    _backdate_assignment(app, contact.id, 20)
    app.config.update(CRM_RETURN_AFTER_MINUTES=15, CRM_AUTO_DRAIN=True)
    autodrain._next_sweep = 0.0

    client.get("/login", environ_base={"REMOTE_ADDR": "203.0.113.9"})  # any request sweeps

    assert operator_of(app, contact.id) == boris.id  # never back to the one who left it
    with app.app_context():
        actions = list(db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject_id == contact.id).order_by(AuditEvent.id)
        ))
        db.session.remove()
    assert actions[-2:] == ["contact.returned", "contact.assigned"]


def test_cli_return_unopened(app, runner, factory, make_contact):
    anna = factory.operator("Anna", max_load=5)
    source = factory.source("Site", weights={anna: 1})
    late, recent = new_contact(make_contact, source), new_contact(make_contact, source)
    _backdate_assignment(app, late.id, 20)
    result = runner.invoke(args=["crm", "return-unopened", "--minutes", "15"])
    assert result.exit_code == 0, result.output
    assert "Returned 1 unopened contact(s) to the queue." in result.output
    assert (operator_of(app, late.id), operator_of(app, recent.id)) == (None, anna.id)
