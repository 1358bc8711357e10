"""SQL-like and very long inputs in every form and API field: a clear 4xx or stored verbatim, never a 5xx."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from crm_web.core.extensions import db
from tests.api.helpers import API, Api, intake
from tests.helpers import assert_error, csrf_from

SQL_OR = "' OR 1=1 --"
SQL_DROP = "Robert'); DROP TABLE leads;--"
LONG = "A" * 100 * 1024
HOSTILE = {"sql_or": SQL_OR, "sql_drop": SQL_DROP, "long": LONG}
TABLES = ("leads", "contacts", "operators", "sources", "users", "api_tokens", "source_operator_distributions")


@pytest.fixture(params=list(HOSTILE))
def hostile(request) -> str:
    return HOSTILE[request.param]


@pytest.fixture
def world(factory, sup, client):
    anna = factory.operator("Anna", max_load=5)
    source = factory.source("Site", key="site", weights={anna: 1})
    queue = factory.source("Queue", key="queue")
    contact = intake(Api(client, sup), queue.id, phone="+79991234567")["contact"]
    return {"operator": anna.id, "source": source, "queue_contact": contact["id"]}


def tables_intact(app) -> dict[str, int]:
    with app.app_context():
        counts = {t: db.session.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}
        db.session.remove()
    return counts


def read(app, model, **where):
    with app.app_context():
        row = db.session.scalars(select(model).filter_by(**where)).first()
        db.session.remove()
    return row


def assert_clean(response, what: str) -> None:
    assert response.status_code < 500, (what, response.status_code, response.get_data(as_text=True)[:300])


def test_api_fields(app, client, sup, world, hostile):
    from crm_web.models import Operator, Source

    api = Api(client, sup)
    op, src = world["operator"], world["source"].id
    bodies = [
        ("POST", "/operators", {"name": hostile, "max_load": 3}),
        ("POST", "/operators", {"name": "Boris", "max_load": hostile}),
        ("POST", "/operators", {"name": "Boris", "max_load": 3, "is_active": hostile}),
        ("PATCH", f"/operators/{op}", {"name": hostile}),
        ("PATCH", f"/operators/{op}", {"max_load": hostile}),
        ("POST", "/sources", {"name": hostile}),
        ("POST", "/sources", {"name": "Other", "key": hostile}),
        ("PATCH", f"/sources/{src}", {"name": hostile}),
        ("PATCH", f"/sources/{src}", {"key": hostile}),
        ("PATCH", f"/sources/{src}", {"is_active": hostile}),
        ("PUT", f"/sources/{src}/distribution", {"rules": [{"operator_id": op, "weight": hostile}]}),
        ("PUT", f"/sources/{src}/distribution", {"rules": [{"operator_id": hostile, "weight": "1"}]}),
        ("POST", f"/contacts/{world['queue_contact']}/assign", {"operator_id": hostile}),
    ]
    for field in ("external_id", "phone", "email", "name", "message"):
        bodies.append(("POST", "/contacts", {"source_id": src, "email": "a@example.com", field: hostile}))
    bodies.append(("POST", "/contacts", {"source_id": hostile, "phone": "+79990000000"}))
    for method, path, body in bodies:
        response = api.open(method, path, body)
        assert_clean(response, (method, path, body.keys()))
        if response.status_code >= 400:
            assert_error(response, response.status_code)

    queries = [
        f"/contacts?{name}={hostile}"
        for name in ("status", "operator_id", "source_id", "lead_id", "page", "per_page", "after")
    ]
    queries += [f"/leads?{name}={hostile}" for name in ("phone", "email", "external_id", "page", "after")]
    for path in queries:
        response = api.get(path)
        assert_clean(response, path)
        if response.status_code >= 400:
            assert_error(response, response.status_code)

    # What the API accepted is stored exactly as sent.
    if hostile != LONG:  # names are at most 120 characters: the long one was refused
        assert read(app, Operator, name=hostile) is not None
        assert read(app, Source, name=hostile) is not None
    assert tables_intact(app)["leads"] >= 1


def test_api_contact_text_is_stored_verbatim(app, client, sup, world):
    api = Api(client, sup)
    for value in (SQL_OR, SQL_DROP):
        body = intake(
            api,
            world["source"].id,
            email=f"{len(value)}@example.com",
            name=value,
            message=value,
            external_id=value,
        )
        lead = api.get(f"/leads/{body['lead']['id']}").get_json()
        assert lead["name"] == value and lead["external_id"] == value
    response = api.post(
        "/contacts", {"source_id": world["source"].id, "email": "l@example.com", "message": LONG}
    )
    assert_error(response, 422)
    assert tables_intact(app)["leads"] == 3


def test_webhook_fields_and_headers(app, client, world, hostile):
    source = world["source"]
    before = tables_intact(app)
    for field in ("external_id", "phone", "email", "name", "message"):
        body = {"email": "w@example.com", field: hostile}
        for response in (
            client.post(
                f"/webhooks/{source.key}", json=body, headers={"X-Webhook-Token": source.webhook_token}
            ),
            client.post(f"/webhooks/{source.key}?token={source.webhook_token}", data=body),
        ):
            assert_clean(response, field)
            if response.status_code >= 400:
                assert_error(response, response.status_code)
    for headers in (
        {"X-Webhook-Token": hostile},
        {"X-Webhook-Token": source.webhook_token, "Idempotency-Key": hostile},
    ):
        response = client.post(f"/webhooks/{source.key}", json={"email": "h@example.com"}, headers=headers)
        assert_clean(response, headers.keys())
    response = client.post(f"/webhooks/{source.key}?token={hostile}", data={"email": "q@example.com"})
    assert_error(response, 401)
    for key in (SQL_OR, SQL_DROP, LONG[:5000]):
        assert_clean(client.post(f"/webhooks/{key}", json={"email": "k@example.com"}), "key")
    assert tables_intact(app)["leads"] >= before["leads"]


def test_webhook_text_is_stored_verbatim(app, client, world):
    source = world["source"]
    for value in (SQL_OR, SQL_DROP):
        response = client.post(
            f"/webhooks/{source.key}",
            json={"external_id": value, "name": value, "message": value},
            headers={"X-Webhook-Token": source.webhook_token},
        )
        assert response.status_code == 201
        from crm_web.models import Contact, Lead

        lead = read(app, Lead, id=response.get_json()["lead"]["id"])
        contact = read(app, Contact, id=response.get_json()["contact"]["id"])
        assert (lead.external_id, lead.name, contact.message) == (value, value, value)


def test_forms(app, client, factory, world, sign_in, hostile):
    sign_in("supervisor")
    token = csrf_from(client.get("/").get_data(as_text=True))
    op, src = world["operator"], world["source"].id
    posts = [
        ("/operators/new", {"name": hostile, "max_load": "3"}),
        ("/operators/new", {"name": "Boris", "max_load": hostile}),
        (f"/operators/{op}/edit", {"name": hostile, "max_load": "3"}),
        (f"/operators/{op}/edit", {"name": "Anna", "max_load": hostile}),
        ("/sources/new", {"name": hostile}),
        ("/sources/new", {"name": "Other", "key": hostile}),
        (f"/sources/{src}/edit", {"name": hostile, "key": "site"}),
        (f"/sources/{src}/edit", {"name": "Site", "key": hostile}),
        (f"/sources/{src}/edit", {"name": "Site", "key": "site", "allowed_origins": hostile}),
        (f"/sources/{src}/edit", {"name": "Site", "key": "site", "thank_you_url": hostile}),
        (f"/sources/{src}/weights", {f"weight-{op}": hostile}),
        (
            "/users/new",
            {"email": hostile, "role": "operator", "operator_id": str(op), "password": "password-123"},
        ),
        (
            "/users/new",
            {"email": "x@example.com", "role": hostile, "operator_id": str(op), "password": "password-123"},
        ),
        (
            "/users/new",
            {"email": "y@example.com", "role": "operator", "operator_id": hostile, "password": hostile},
        ),
        ("/tokens", {"label": hostile}),
        ("/tokens", {"label": "ok", "expires_in_days": hostile}),
        (
            f"/queue/{world['queue_contact']}/assign",
            {"operator_id": hostile, "next": hostile, "page": hostile},
        ),
        ("/my/availability", {"active": hostile}),
        ("/leads/merge", {"keep": hostile, "other": hostile}),
        ("/leads/duplicates/dismiss", {"keep": hostile, "other": hostile, "next": hostile}),
        ("/language", {"locale": hostile, "next": hostile}),
    ]
    for field in ("external_id", "phone", "email", "name", "message"):
        posts.append(("/contacts/new", {"source_id": str(src), "email": "f@example.com", field: hostile}))
    posts.append(("/contacts/new", {"source_id": hostile, "phone": "+79990000000"}))
    for path, data in posts:
        assert_clean(client.post(path, data={**data, "csrf_token": token}), (path, data.keys()))
    gets = [
        f"/leads?q={hostile}",
        f"/contacts?status={hostile}&source_id={hostile}&operator_id={hostile}",
        f"/contacts?after={hostile}&page={hostile}",
        f"/audit?action={hostile}&actor={hostile}&subject_id={hostile}",
        f"/leads/merge?keep={hostile}&other={hostile}",
        f"/queue?page={hostile}",
    ]
    for path in gets:
        assert_clean(client.get(path[:90_000]), path[:40])
    assert tables_intact(app)["leads"] >= 1


def test_form_text_is_stored_verbatim(app, client, world, sign_in):
    from crm_web.models import ApiToken, Lead, Operator

    sign_in("supervisor")
    token = csrf_from(client.get("/").get_data(as_text=True))
    for i, value in enumerate((SQL_OR, SQL_DROP)):
        response = client.post(
            "/contacts/new",
            data={
                "csrf_token": token,
                "source_id": world["source"].id,
                "email": f"v{i}@example.com",
                "name": value,
                "external_id": value,
                "message": value,
            },
        )
        assert response.status_code in (200, 201, 303)
        assert read(app, Lead, external_id=value).name == value
        assert (
            client.post(
                "/operators/new", data={"csrf_token": token, "name": value, "max_load": "2"}
            ).status_code
            == 303
        )
        assert read(app, Operator, name=value) is not None
        assert client.post("/tokens", data={"csrf_token": token, "label": value}).status_code == 200
        assert read(app, ApiToken, label=value) is not None


def test_sign_in_with_hostile_input(app, client, factory, hostile):
    staff = factory.staff("supervisor")
    token = csrf_from(client.get("/login").get_data(as_text=True))
    for data in (
        {"email": hostile, "password": "password-123"},
        {"email": staff.email, "password": hostile},
        {"email": f"{hostile}@example.com", "password": hostile},
    ):
        response = client.post("/login", data={**data, "csrf_token": token})
        assert_clean(response, data.keys())
        assert client.get("/").status_code == 302
    assert tables_intact(app)["users"] == 1
    assert client.get(f"{API}/operators", headers=staff.headers).status_code == 200
