"""Who acted, through the pages and the API; refused requests (403, 409, 422) record nothing."""

from __future__ import annotations

import pytest

from tests.api.helpers import Api
from tests.helpers import csrf_from


def token_for(client, path: str = "/") -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


# --- the pages: the signed-in user's email --------------------------------------------


def test_pages_record_the_signed_in_user(client, sign_in, factory, make_contact, events, forget):
    boss = sign_in("supervisor", email="boss@example.com")
    anna = factory.operator("Anna", max_load=2)
    source = factory.source("Site", key="site")
    contact = make_contact(source, phone="+79990000001")  # no weights: queued
    forget()
    token = token_for(client)

    assert client.post("/operators/new", data={"name": "Boris", "max_load": "4", "is_active": "y",
                                                "csrf_token": token}).status_code == 303
    assert client.post(f"/operators/{anna.id}/edit", data={"name": "Anna", "max_load": "3", "is_active": "y",
                                                           "csrf_token": token}).status_code == 303
    site = {"name": "Site form", "key": "site", "is_active": "y", "csrf_token": token}
    assert client.post(f"/sources/{source.id}/edit", data=site).status_code == 303
    assert client.post(f"/sources/{source.id}/token", data={"csrf_token": token}).status_code == 303
    assert client.post(f"/sources/{source.id}/weights",
                       data={f"weight-{anna.id}": "2.5", "csrf_token": token}).status_code == 303
    assert client.post(f"/queue/{contact.id}/assign",
                       data={"operator_id": anna.id, "csrf_token": token}).status_code == 303
    assert client.post(f"/contacts/{contact.id}/close", data={"csrf_token": token}).status_code == 303
    assert client.post(f"/operators/{anna.id}/delete", data={"csrf_token": token}).status_code == 303

    rows = events()
    assert [e.action for e in rows] == [
        "operator.created", "operator.updated", "source.updated", "source.token_rotated",
        "weights.updated", "contact.assigned", "contact.closed", "operator.deleted",
    ]
    assert {(e.actor_label, e.actor_user_id) for e in rows} == {("boss@example.com", boss.user_id)}
    assert all(e.request_id and e.ip for e in rows)
    assert len({e.request_id for e in rows}) == len(rows)  # one request each
    assert rows[1].parsed == {"before": {"max_load": 2}, "after": {"max_load": 3}}
    assert rows[2].parsed == {"before": {"name": "Site"}, "after": {"name": "Site form"}}
    assert rows[4].parsed["after"] == {str(anna.id): "2.50"}
    assert rows[5].parsed["mode"] == "manual"


def test_operator_users_are_refused_and_nothing_is_recorded(client, sign_in, factory, make_contact, events,
                                                            forget):
    me = factory.operator("Me")
    other = factory.operator("Other")
    source = factory.source()
    queued = make_contact(source, phone="+79990000001")
    sign_in("operator", operator_id=me.id)
    forget()
    token = token_for(client)
    refused = [
        ("/operators/new", {"name": "X", "max_load": "1"}),
        (f"/operators/{other.id}/edit", {"name": "Y", "max_load": "1"}),
        (f"/operators/{other.id}/delete", {}),
        (f"/operators/{other.id}/active", {}),
        ("/sources/new", {"name": "Z"}),
        (f"/sources/{source.id}/token", {}),
        (f"/sources/{source.id}/weights", {f"weight-{me.id}": "1"}),
        (f"/queue/{queued.id}/assign", {"operator_id": other.id}),  # not for another operator
    ]
    for path, data in refused:
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 403, path
    assert client.get("/audit").status_code == 403
    assert events() == []


def test_refused_form_posts_record_nothing(client, sign_in, factory, events, forget):
    sign_in("supervisor")
    factory.operator("Anna")
    forget()
    token = token_for(client)
    # invalid, duplicate, and without a CSRF token
    assert client.post("/operators/new", data={"name": "", "max_load": "1",
                                               "csrf_token": token}).status_code == 422
    assert client.post("/operators/new", data={"name": "Anna", "max_load": "1",
                                               "csrf_token": token}).status_code == 422
    assert client.post("/operators/new", data={"name": "Vera", "max_load": "1"}).status_code == 400
    assert events() == []


# --- the API: "api <email>" -----------------------------------------------------------


def test_api_records_api_and_the_email(client, factory, make_contact, events, forget):
    sup = factory.staff("supervisor", email="robot@example.com")
    api = Api(client, sup)
    forget()
    op = api.post("/operators", {"name": "Anna", "max_load": 2}).get_json()
    assert api.patch(f"/operators/{op['id']}", {"max_load": 5}).status_code == 200
    src = api.post("/sources", {"name": "Landing"}).get_json()
    assert api.patch(f"/sources/{src['id']}", {"is_active": False}).status_code == 200
    assert api.post(f"/sources/{src['id']}/token").status_code == 200
    assert api.put(f"/sources/{src['id']}/distribution",
                   {"rules": [{"operator_id": op["id"], "weight": "1"}]}).status_code == 200
    queue = factory.source()
    contact = make_contact(queue, phone="+79990000001")
    assert api.post(f"/contacts/{contact.id}/assign", {"operator_id": op["id"]}).status_code == 200
    assert api.post(f"/contacts/{contact.id}/close").status_code == 200
    assert api.delete(f"/operators/{op['id']}").status_code == 200
    rows = [e for e in events() if e.actor_label != "system"]
    assert [e.action for e in rows] == [
        "operator.created", "operator.updated", "source.created", "source.updated", "source.token_rotated",
        "weights.updated", "contact.assigned", "contact.closed", "operator.deleted",
    ]
    assert {(e.actor_label, e.actor_user_id) for e in rows} == {("api robot@example.com", sup.user_id)}
    for row in rows:
        assert src["webhook_token"] not in (row.details or "")


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/operators", {"name": "", "max_load": 1}, 422),
        ("POST", "/operators", {"name": "Anna", "max_load": 1}, 409),
        ("PATCH", "/operators/{anna}", {"max_load": -1}, 422),
        ("PUT", "/sources/{source}/distribution", {"rules": [{"operator_id": 999999, "weight": "1"}]}, 422),
        ("PUT", "/sources/{source}/distribution",
         {"rules": [{"operator_id": "{anna}", "weight": "1.001"}]}, 422),
        ("POST", "/contacts/{contact}/assign", {"operator_id": "{full}"}, 409),
        ("POST", "/contacts/{closed}/close", None, 409),
    ],
)
def test_refused_api_calls_record_nothing(client, factory, make_contact, events, forget, method, path, body,
                                          status):
    api = Api(client, factory.staff("supervisor"))
    anna = factory.operator("Anna")
    full = factory.operator("Full", max_load=1)
    source = factory.source(weights={full: 1})
    make_contact(source, phone="+79990000009")  # Full is full
    queue = factory.source()
    contact = make_contact(queue, phone="+79990000001")
    closed = make_contact(queue, phone="+79990000002")
    api.post(f"/contacts/{closed.id}/close")
    ids = {"anna": anna.id, "full": full.id, "source": source.id, "contact": contact.id, "closed": closed.id}
    forget()

    def fill(value):
        if isinstance(value, str) and value.startswith("{"):
            return ids[value.strip("{}")]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    response = api.open(method, path.format(**ids), json=fill(body))
    assert response.status_code == status, response.get_data(as_text=True)
    assert events() == []


def test_operator_api_user_gets_403_and_nothing_is_recorded(client, factory, make_contact, events, forget):
    me = factory.operator("Me")
    other = factory.operator("Other")
    api = Api(client, factory.staff("operator", operator_id=me.id))
    source = factory.source(weights={other: 1})
    theirs = make_contact(source, phone="+79990000001")
    forget()
    assert api.post("/operators", {"name": "X", "max_load": 1}).status_code == 403
    assert api.patch(f"/operators/{other.id}", {"max_load": 1}).status_code == 403
    assert api.post(f"/sources/{source.id}/token").status_code == 403
    assert api.put(f"/sources/{source.id}/distribution", {"rules": []}).status_code == 403
    assert api.post(f"/contacts/{theirs.id}/close").status_code == 403
    assert events() == []
