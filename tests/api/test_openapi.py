"""GET /api/v1/openapi.json: a valid OpenAPI 3.1 document that says exactly what the app does.

Every route under /api/v1 and /webhooks is documented and every documented
path exists; the answers of a typical session (every operation, most of
their statuses, on both databases) validate against the documented
schemas; the reference page /docs/api is rendered from the same document.
"""

from __future__ import annotations

import json
import re

from openapi_spec_validator import validate
from sqlalchemy import update

from crm_web.api.openapi import openapi_document
from crm_web.core.extensions import db
from crm_web.models import Contact

from .helpers import API, UNKNOWN_TOKEN, bearer
from .openapi_check import (
    check_response,
    documented_operations,
    resolve,
    schema_validator,
    strict_document,
)

DOCUMENTED_PREFIXES = ("/api/v1", "/webhooks")
EXTRA_DOCUMENTED = {"/healthz"}


def test_document_is_served_without_a_token_and_validates(client):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    validate(document)  # openapi-spec-validator: raises on any violation of OpenAPI 3.1
    assert document["openapi"] == "3.1.0"
    assert document == json.loads(json.dumps(openapi_document()))
    # A wrong token is ignored, not refused: the document is public.
    assert client.get(f"{API}/openapi.json", headers=bearer(UNKNOWN_TOKEN)).status_code == 200


def _werkzeug_to_template(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_every_route_is_documented_and_every_documented_path_exists(app):
    routes: set[tuple[str, str]] = set()
    converters: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(DOCUMENTED_PREFIXES) and rule.rule not in EXTRA_DOCUMENTED:
            continue
        template = _werkzeug_to_template(rule.rule)
        methods = set(rule.methods) - {"HEAD"}
        if rule.provide_automatic_options:
            methods.discard("OPTIONS")
        routes |= {(template, method) for method in methods}
        for name, converter in rule._converters.items():
            converters[(template, name)] = type(converter).__name__
    assert routes == documented_operations()

    document = openapi_document()
    for template, item in document["paths"].items():
        names = set(re.findall(r"{([a-z_]+)}", template))
        for method in ("get", "post", "put", "patch", "delete", "options"):
            if method not in item:
                continue
            params = [resolve(p) for p in [*item.get("parameters", []), *item[method].get("parameters", [])]]
            in_path = {p["name"]: p for p in params if p["in"] == "path"}
            assert set(in_path) == names, (template, method)
            for name, param in in_path.items():
                expected = "integer" if converters[(template, name)] == "IntegerConverter" else "string"
                assert param["schema"]["type"] == expected, (template, name)


def test_every_operation_documents_its_errors():
    """Bearer routes say 401, database-backed ones 503, JSON bodies 400/415/422, lists 422."""
    document = openapi_document()
    for template, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            statuses = set(operation["responses"])
            bearer_auth = operation.get("security", document["security"]) == [{"bearerAuth": []}]
            if bearer_auth:
                assert {"401", "503"} <= statuses, (template, method)
            body = operation.get("requestBody", {}).get("content", {})
            if "application/json" in body:
                assert {"400", "415", "422"} <= statuses, (template, method)
            if operation.get("parameters") and any(
                resolve(p)["in"] == "query" for p in operation["parameters"]
            ):
                assert "422" in statuses, (template, method)
            if "{" in template and bearer_auth:
                assert "404" in statuses, (template, method)
            for status, response in operation["responses"].items():
                response = resolve(response)
                if status.startswith(("4", "5")) and template != "/healthz":
                    assert resolve(response["content"]["application/json"]["schema"])["required"] == ["error"]


def test_request_bodies_refuse_unknown_fields_exactly_where_the_app_does():
    """additionalProperties: false on the bodies whose unknown fields are 422 (operators, sources)."""
    schemas = openapi_document()["components"]["schemas"]
    closed = {name for name, schema in schemas.items() if schema.get("additionalProperties") is False}
    assert closed == {"OperatorCreate", "OperatorPatch", "SourceCreate", "SourcePatch"}


def test_examples_validate_against_their_schemas():
    document = strict_document()
    for name, schema in document["components"]["schemas"].items():
        if "example" in schema:
            validator = schema_validator({"$ref": f"#/components/schemas/{name}"})
            errors = list(validator.iter_errors(schema["example"]))
            assert not errors, (name, errors[:3])
    for template, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            media = [operation.get("requestBody", {}).get("content", {}).get("application/json", {})]
            for response in operation["responses"].values():
                media.append(resolve(response).get("content", {}).get("application/json", {}))
            for one in media:
                if "example" in one:
                    errors = list(schema_validator(one["schema"]).iter_errors(one["example"]))
                    assert not errors, (template, method, errors[:3])


class Session:
    """The test client, checking every answer against the document and noting what it saw."""

    def __init__(self, client) -> None:
        self.client = client
        self.seen: set[tuple[str, str, int]] = set()

    def call(self, method: str, path: str, status: int, **kwargs):
        response = self.client.open(path, method=method, **kwargs)
        assert response.status_code == status, (method, path, response.get_data(as_text=True)[:500])
        self.seen.add(check_response(method, path, response))
        return response


def test_typical_answers_validate_against_the_document(client, factory):
    s = Session(client)
    sup = factory.staff("supervisor")
    h = sup.headers
    anna = factory.operator("Anna", max_load=2)
    full = factory.operator("Full", max_load=0)

    s.call("GET", f"{API}/openapi.json", 200)
    s.call("GET", "/healthz", 200)

    # operators
    s.call("GET", f"{API}/operators", 401)
    s.call("GET", f"{API}/operators", 401, headers=bearer(UNKNOWN_TOKEN))
    s.call("GET", f"{API}/operators", 200, headers=h)
    s.call("GET", f"{API}/operators?per_page=101", 422, headers=h)
    boris = s.call("POST", f"{API}/operators", 201, headers=h, json={"name": "Boris", "max_load": 5})
    boris = boris.get_json()
    s.call("POST", f"{API}/operators", 409, headers=h, json={"name": "Boris", "max_load": 5})
    s.call("POST", f"{API}/operators", 422, headers=h, json={"name": "C", "max_load": 1, "max_laod": 2})
    s.call("POST", f"{API}/operators", 415, headers=h, data="name=C", content_type="text/plain")
    s.call("POST", f"{API}/operators", 400, headers=h, data="{", content_type="application/json")
    s.call("POST", f"{API}/operators", 400, headers=h, json=[1])
    s.call("GET", f"{API}/operators/{boris['id']}", 200, headers=h)
    s.call("GET", f"{API}/operators/999999", 404, headers=h)
    s.call("PATCH", f"{API}/operators/{boris['id']}", 200, headers=h, json={**boris, "max_load": 6})
    s.call("PATCH", f"{API}/operators/{boris['id']}", 409, headers=h, json={"name": "Anna"})
    s.call("PATCH", f"{API}/operators/999999", 404, headers=h, json={"max_load": 1})

    # sources and weights
    src = s.call("POST", f"{API}/sources", 201, headers=h, json={"name": "Site"}).get_json()
    s.call("POST", f"{API}/sources", 409, headers=h, json={"name": "Site"})
    s.call("GET", f"{API}/sources", 200, headers=h)
    s.call("GET", f"{API}/sources/{src['id']}", 200, headers=h)
    s.call("GET", f"{API}/sources/999999", 404, headers=h)
    s.call(
        "PATCH", f"{API}/sources/{src['id']}", 200, headers=h,
        json={"allowed_origins": ["https://shop.example"], "thank_you_url": "https://shop.example/thanks"},
    )
    s.call("PATCH", f"{API}/sources/{src['id']}", 422, headers=h, json={"key": "Not A Key"})
    s.call("PATCH", f"{API}/sources/{src['id']}", 200, headers=h,
           json={"form_format": "standard", "field_map": {"tel-715": "phone"}, "vk_confirmation": "a1b2"})
    s.call("PATCH", f"{API}/sources/{src['id']}", 422, headers=h, json={"field_map": {"city": "address"}})
    src = s.call("POST", f"{API}/sources/{src['id']}/token", 200, headers=h).get_json()
    s.call("POST", f"{API}/sources/999999/token", 404, headers=h)
    s.call("GET", f"{API}/sources/{src['id']}/distribution", 200, headers=h)
    rules = {"rules": [{"operator_id": anna.id, "weight": "10.5"}, {"operator_id": full.id, "weight": 1}]}
    s.call("PUT", f"{API}/sources/{src['id']}/distribution", 200, headers=h, json=rules)
    s.call("PUT", f"{API}/sources/{src['id']}/distribution", 422, headers=h,
           json={"rules": [{"operator_id": anna.id, "weight": "10.505"}]})
    s.call("PUT", f"{API}/sources/999999/distribution", 404, headers=h, json=rules)
    s.call("GET", f"{API}/sources/{src['id']}/distribution", 200, headers=h)
    queue_only = factory.source("Queue only", key="queue-only", weights={full: 1})

    # contacts: staff intake, lists, assignment, closing
    first = s.call("POST", f"{API}/contacts", 201, headers=h,
                   json={"source_id": src["id"], "phone": "8 (999) 123-45-67", "name": "Ivan"}).get_json()
    waiting = s.call("POST", f"{API}/contacts", 201, headers=h,
                     json={"source_id": queue_only.id, "email": "Olga@Example.com"}).get_json()
    assert waiting["operator_available"] is False
    s.call("POST", f"{API}/contacts", 422, headers=h, json={"source_id": src["id"], "name": "No ids"})
    s.call("POST", f"{API}/contacts", 422, headers=h, json={"source_id": 999999, "phone": "+79990001122"})
    s.call("GET", f"{API}/contacts", 200, headers=h)
    s.call("GET", f"{API}/contacts?status=unassigned&source_id={queue_only.id}", 200, headers=h)
    s.call("GET", f"{API}/contacts?after={first['contact']['id']}&per_page=1", 200, headers=h)
    s.call("GET", f"{API}/contacts?status=open", 422, headers=h)
    s.call("GET", f"{API}/contacts/{first['contact']['id']}", 200, headers=h)
    with client.application.app_context():  # what a site form adds (contract §2a)
        db.session.execute(update(Contact).where(Contact.id == first["contact"]["id"]).values(
            form_fields={"City": "Kazan"}, utm={"utm_source": "google"}, utm_source="google",
            page_url="https://shop.example/?utm_source=google", warnings=["Phone could not be read."],
        ))
        db.session.commit()
        db.session.remove()
    s.call("GET", f"{API}/contacts/{first['contact']['id']}", 200, headers=h)
    s.call("GET", f"{API}/contacts?utm_source=google", 200, headers=h)
    s.call("GET", f"{API}/contacts?utm_source={'x' * 256}", 422, headers=h)
    s.call("GET", f"{API}/contacts/999999", 404, headers=h)
    waiting_id = waiting["contact"]["id"]
    s.call("POST", f"{API}/contacts/{waiting_id}/assign", 409, headers=h, json={"operator_id": full.id})
    s.call("POST", f"{API}/contacts/{waiting_id}/assign", 422, headers=h, json={"operator_id": "x"})
    s.call("POST", f"{API}/contacts/{waiting_id}/assign", 200, headers=h, json={"operator_id": anna.id})
    s.call("POST", f"{API}/contacts/{waiting_id}/assign", 409, headers=h, json={"operator_id": anna.id})
    s.call("POST", f"{API}/contacts/999999/assign", 404, headers=h, json={"operator_id": anna.id})
    s.call("POST", f"{API}/contacts/{waiting_id}/close", 422, headers=h, json={"outcome": "won"})
    s.call("POST", f"{API}/contacts/{waiting_id}/close", 200, headers=h,
           json={"outcome": "spam", "note": "A bot.", "also_close_same_source": True})
    s.call("POST", f"{API}/contacts/{waiting_id}/close", 409, headers=h)
    s.call("POST", f"{API}/contacts/999999/close", 404, headers=h)
    s.call("GET", f"{API}/contacts?outcome=spam", 200, headers=h)
    s.call("POST", f"{API}/contacts/{waiting_id}/notes", 201, headers=h, json={"text": "Blocked the number."})
    s.call("POST", f"{API}/contacts/{waiting_id}/notes", 422, headers=h, json={"text": "  "})
    s.call("POST", f"{API}/contacts/999999/notes", 404, headers=h, json={"text": "Nobody."})
    s.call("GET", f"{API}/contacts/{waiting_id}/notes", 200, headers=h)
    s.call("GET", f"{API}/contacts/{waiting_id}/notes?per_page=101", 422, headers=h)
    s.call("GET", f"{API}/contacts/999999/notes", 404, headers=h)

    # leads
    s.call("GET", f"{API}/leads?phone=%2B7%20999%201234567", 200, headers=h)
    s.call("GET", f"{API}/leads?email=not-an-email", 422, headers=h)
    s.call("GET", f"{API}/leads/{first['lead']['id']}", 200, headers=h)
    s.call("GET", f"{API}/leads/999999", 404, headers=h)

    # an operator user: reads, and 403 on what only supervisors may do
    op_user = factory.staff("operator", operator_id=boris["id"]).headers
    s.call("GET", f"{API}/sources", 200, headers=op_user)
    s.call("GET", f"{API}/sources/{src['id']}", 200, headers=op_user)
    s.call("POST", f"{API}/operators", 403, headers=op_user, json={"name": "X", "max_load": 1})
    s.call("PATCH", f"{API}/sources/{src['id']}", 403, headers=op_user, json={"name": "X"})
    s.call("DELETE", f"{API}/operators/{anna.id}", 403, headers=op_user)
    s.call("POST", f"{API}/contacts/{first['contact']['id']}/close", 403, headers=op_user)

    # the webhook
    hook = f"/webhooks/{src['key']}"
    token = {"X-Webhook-Token": src["webhook_token"]}
    s.call("POST", hook, 201, headers={**token, "Idempotency-Key": "k-1"}, json={"phone": "+79995550000"})
    s.call("POST", hook, 200, headers={**token, "Idempotency-Key": "k-1"}, json={"phone": "+79995550000"})
    s.call("POST", f"{hook}?token={src['webhook_token']}", 201, data={"email": "form@example.com"},
           headers={"Accept": "application/json"})
    s.call("POST", hook, 303, headers={**token, "Accept": "text/html"}, data={"email": "form@example.com"})
    s.call("POST", hook, 422, headers={**token, "Accept": "text/html"}, data={"email": "nope"})
    s.call("POST", hook, 401, json={"phone": "+79995550000"})
    s.call("POST", "/webhooks/no-such-source", 404, headers=token, json={"phone": "+79995550000"})
    s.call("POST", hook, 415, headers=token, data="phone=1", content_type="text/plain")
    s.call("POST", hook, 400, headers=token, data="{", content_type="application/json")
    s.call("POST", hook, 422, headers=token, json={"name": "No ids"})
    s.call("POST", hook, 413, headers=token, json={"phone": "+79995550000", "pad": "x" * 70_000})
    s.call("OPTIONS", hook, 204, headers={"Origin": "https://shop.example"})

    # deleting an operator returns its contacts to the queue
    s.call("DELETE", f"{API}/operators/{anna.id}", 200, headers=h)
    s.call("DELETE", f"{API}/operators/{anna.id}", 404, headers=h)

    assert {(path, method) for path, method, _ in s.seen} == documented_operations()


def test_reference_page_is_rendered_from_the_document(client, factory):
    assert client.get("/docs/api").status_code == 302  # a page like the others: sign in first
    staff = factory.staff("operator", operator_id=factory.operator().id)
    login = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login).group(1)
    form = {"email": staff.email, "password": "password-123", "csrf_token": csrf}
    signed_in = client.post("/login", data=form)
    assert signed_in.status_code == 303
    response = client.get("/docs/api")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for template, item in openapi_document()["paths"].items():
        for method in item:
            if method != "parameters":
                assert f'id="{item[method]["operationId"]}"' in html
                assert f"<code>{template}</code>" in html
    for name in openapi_document()["components"]["schemas"]:
        assert f'id="schema-{name}"' in html
    assert "<script>" not in html and "style=" not in html and "<style" not in html
    assert 'href="/docs/api"' in client.get("/").get_data(as_text=True)  # linked from every page
