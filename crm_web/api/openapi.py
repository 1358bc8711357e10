"""The OpenAPI 3.1 document of the JSON API, the webhook and /healthz.

Schemas are not written here: they are the JSON Schemas of the pydantic
models that validate the requests and serialise the answers
(services/operators.py, services/sources.py, api/schemas.py,
crm_web/api/serializers.py). This module adds what only a document has: the
table of routes (path, method, request and answer models, statuses) and
the words around them.

Kept true by tests/api/test_openapi.py (every route documented, observed
responses validate) and tests/fuzz/test_schemathesis.py (Schemathesis
against a live server). Served at GET /api/v1/openapi.json without a token,
and rendered for people at /docs/api (crm_web/api/docs.py).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from ..core.body_limit import size_text
from ..core.config import MAX_REQUEST_BODY
from ..services.operators import OperatorCreate, OperatorPatch
from ..services.sources import DistributionPut, SourceCreate, SourcePatch
from ..services.validation import MAX_ID
from ..webhooks.reading import FORM_TYPES, MAX_IDEMPOTENCY_KEY
from ..webhooks.reading import MAX_BODY as WEBHOOK_MAX_BODY
from . import schemas
from . import serializers as answers
from .schemas import (
    Assign,
    CloseBody,
    ContactCreate,
    ContactQuery,
    LeadQuery,
    NoteCreate,
    PageQuery,
    WebhookFields,
)

JSON = "application/json"
HTML = "text/html"
REF = "#/components/schemas/{model}"

REQUESTS: tuple[type[BaseModel], ...] = (
    OperatorCreate, OperatorPatch, SourceCreate, SourcePatch, DistributionPut, ContactCreate, Assign,
    CloseBody, NoteCreate, WebhookFields,
)
ANSWERS: tuple[type[BaseModel], ...] = (
    schemas.Error, schemas.ValidationError, answers.Contact, answers.IntakeResult, answers.Operator,
    answers.OperatorDeleted, answers.Source, answers.SourceWithToken, answers.Distribution, answers.Lead,
    answers.LeadWithContacts, answers.OperatorPage, answers.SourcePage, answers.ContactPage,
    answers.LeadPage, answers.ClosedContact, answers.Note, answers.NotePage, schemas.Health,
)


# --- schemas: the models' own ---------------------------------------------------------


class Schemas(GenerateJsonSchema):
    """pydantic's JSON Schema as the document shows it: no generated titles, no defaults in answers."""

    def field_title_should_be_set(self, schema) -> bool:
        return False

    def sort(self, value, parent_key=None):
        return value  # as declared: examples read in the fields' order

    def default_schema(self, schema):
        if self.mode == "serialization":  # an answer always carries the field
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


def _one_line(node):
    """Docstrings wrap; a description is one paragraph."""
    if isinstance(node, dict):
        return {
            key: " ".join(value.split()) if key == "description" and isinstance(value, str)
            else _one_line(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_one_line(value) for value in node]
    return node


def component_schemas() -> dict[str, dict]:
    _, document = models_json_schema(
        [(model, "validation") for model in REQUESTS] + [(model, "serialization") for model in ANSWERS],
        ref_template=REF,
        schema_generator=Schemas,
    )
    return _one_line(document["$defs"])


def ref(model: type[BaseModel]) -> dict:
    return {"$ref": REF.format(model=model.__name__)}


def query_parameters(model: type[BaseModel]) -> list[dict]:
    """One parameter per field of a query model; a query parameter is absent or a value, never null."""
    schema = _one_line(model.model_json_schema(schema_generator=Schemas))
    parameters = []
    for name, prop in schema["properties"].items():
        description = prop.pop("description", "")
        not_null = [part for part in prop.pop("anyOf", []) if part != {"type": "null"}]
        if not_null:
            prop.update(not_null[0])
        if prop.get("default", 0) is None:
            del prop["default"]
        parameters.append({
            "name": name, "in": "query", "required": name in schema.get("required", ()),
            "description": description, "schema": prop,
        })
    return parameters


def id_parameter(name: str) -> dict:
    what = name.removesuffix("_id")
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"The {what}'s id. An id no {what} has (or beyond 2^31-1) is 404.",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    }


# --- responses ------------------------------------------------------------------------

RETRY_AFTER = {"description": "Seconds to wait before retrying.", "schema": {"type": "string"}}
BAD_JSON = ("Malformed JSON (also text that is not Unicode, such as a lone surrogate `\\ud800`), "
            "or the body is not a JSON object.")


def media(schema: dict, description: str, example: object = None) -> dict:
    content: dict = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {JSON: content}}


def error_response(
    description: str, model: type[BaseModel] = schemas.Error, headers: dict | None = None
) -> dict:
    response = media(ref(model), description)
    if headers:
        response["headers"] = headers
    return response


def webhook_error(
    description: str, model: type[BaseModel] = schemas.Error, headers: dict | None = None
) -> dict:
    """A webhook error: JSON, or a short HTML page for a plain form post to a source with a thank-you URL."""
    response = error_response(description, model, headers)
    response["content"][HTML] = {"schema": {"type": "string"}}
    return response


# status → (component name, response)
ERRORS: dict[int, tuple[str, dict]] = {
    400: ("BadRequest", error_response(BAD_JSON)),
    401: ("Unauthorized", error_response(
        "Missing, unknown, expired or revoked token.",
        headers={
            "WWW-Authenticate": {"description": "Bearer realm=\"mini-crm\"", "schema": {"type": "string"}}
        },
    )),
    403: ("Forbidden", error_response("The user's role may not do this (operator users).")),
    404: ("NotFound", error_response("No such object.")),
    409: ("Conflict", error_response(
        "A conflict: a duplicate name or key, an operator at capacity, a closed contact."
    )),
    413: ("PayloadTooLarge", error_response(
        f"The body is larger than {size_text(MAX_REQUEST_BODY)} (any route); nothing of it is read."
    )),
    415: ("UnsupportedMediaType", error_response("The body is not application/json.")),
    422: ("Unprocessable", error_response(
        "Invalid input; `fields` says which and why.", schemas.ValidationError
    )),
    429: ("TooManyRequests", error_response(
        "Over the webhook's rate limit (CRM_WEBHOOK_RATE_LIMIT, per client address).",
        headers={"Retry-After": RETRY_AFTER},
    )),
    503: ("Unavailable", error_response(
        "The database is unreachable; retry after the given seconds.", headers={"Retry-After": RETRY_AFTER}
    )),
}


def error(status: int) -> dict:
    return {"$ref": f"#/components/responses/{ERRORS[status][0]}"}


# --- the API's routes --------------------------------------------------------------------

SUPERVISOR = " Supervisors only (operator users get 403)."


@dataclass(frozen=True)
class Route:
    """One operation of /api/v1: its models, and the statuses beyond those its shape implies.

    Every one may answer 401 and 503; a body adds 400, 413, 415 and 422, a
    query model 422, an id in the path 404, `supervisor` 403.
    """

    method: str
    path: str
    operation_id: str
    tag: str
    summary: str
    answer: type[BaseModel]
    answer_text: str
    description: str = ""
    status: int = 200
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    supervisor: bool = False
    errors: tuple[int, ...] = ()

    def operation(self) -> dict:
        statuses = {401, 503, *self.errors}
        if self.body:
            statuses |= {400, 413, 415, 422}
        if self.query:
            statuses.add(422)
        if "{" in self.path:
            statuses.add(404)
        if self.supervisor:
            statuses.add(403)
        operation = {
            "tags": [self.tag],
            "summary": self.summary,
            "description": self.description + (SUPERVISOR if self.supervisor else ""),
            "operationId": self.operation_id,
        }
        if self.query:
            operation["parameters"] = query_parameters(self.query)
        if self.body:
            operation["requestBody"] = {
                "required": self.body_required, "description": "" if self.body_required else "Optional.",
                "content": {JSON: {"schema": ref(self.body)}},
            }
        operation["responses"] = {
            str(self.status): media(ref(self.answer), self.answer_text),
            **{str(status): error(status) for status in sorted(statuses)},
        }
        return operation


ROUTES = (
    Route("get", "/api/v1/operators", "listOperators", "Operators", "List operators",
          answers.OperatorPage, "A page of operators.", "Ordered by name.", query=PageQuery),
    Route("post", "/api/v1/operators", "createOperator", "Operators", "Create an operator",
          answers.Operator, "Created.", "Unknown fields are 422; a duplicate name is 409.", status=201,
          body=OperatorCreate, supervisor=True, errors=(409,)),
    Route("get", "/api/v1/operators/{operator_id}", "getOperator", "Operators", "Read an operator",
          answers.Operator, "The operator."),
    Route("patch", "/api/v1/operators/{operator_id}", "updateOperator", "Operators", "Change an operator",
          answers.Operator, "Changed.", "Unknown fields are 422; a duplicate name is 409.",
          body=OperatorPatch, supervisor=True, errors=(409,)),
    Route("delete", "/api/v1/operators/{operator_id}", "deleteOperator", "Operators", "Delete an operator",
          answers.OperatorDeleted, "Deleted.",
          "Its open contacts go back to the unassigned queue and its rules are removed; closed contacts "
          "keep its name.", supervisor=True),
    Route("get", "/api/v1/sources", "listSources", "Sources", "List sources",
          answers.SourcePage, "A page of sources.", "Ordered by name; `webhook_token` only for supervisors.",
          query=PageQuery),
    Route("post", "/api/v1/sources", "createSource", "Sources", "Create a source",
          answers.SourceWithToken, "Created.",
          "The answer includes the new `webhook_token`. A duplicate name or key is 409.", status=201,
          body=SourceCreate, supervisor=True, errors=(409,)),
    Route("get", "/api/v1/sources/{source_id}", "getSource", "Sources", "Read a source",
          answers.Source, "The source.", "With `webhook_token` for supervisors."),
    Route("patch", "/api/v1/sources/{source_id}", "updateSource", "Sources", "Change a source",
          answers.SourceWithToken, "Changed.",
          "Unknown fields are 422; a duplicate name or key is 409. A disabled source's webhook answers 404.",
          body=SourcePatch, supervisor=True, errors=(409,)),
    Route("post", "/api/v1/sources/{source_id}/token", "rotateSourceToken", "Sources",
          "Issue a new webhook token", answers.SourceWithToken, "The source with its new token.",
          "The old token stops working at once. No body.", supervisor=True),
    Route("get", "/api/v1/sources/{source_id}/distribution", "getDistribution", "Sources",
          "Read the weight table of a source", answers.Distribution, "The rules.",
          "One rule per operator, ordered by operator id."),
    Route("put", "/api/v1/sources/{source_id}/distribution", "putDistribution", "Sources",
          "Replace the weight table of a source", answers.Distribution, "The new rules.",
          "All rules at once, in one transaction; `{\"rules\": []}` removes them all.",
          body=DistributionPut, supervisor=True),
    Route("get", "/api/v1/contacts", "listContacts", "Contacts", "List contacts",
          answers.ContactPage, "A page of contacts.",
          "Newest first; `status=unassigned` is the queue, oldest first. For deep pages pass `after` = the "
          "last id received. `outcome` finds closed contacts by how they ended. `q` searches the contact's "
          "name and message and its lead's phone and email, with the other filters.", query=ContactQuery),
    Route("post", "/api/v1/contacts", "createContact", "Contacts", "Register a contact (staff intake)",
          answers.IntakeResult, "Created.",
          "As the webhook, for a source given by id: the lead is matched or created and an operator chosen "
          "by weight. An unknown or disabled source_id is 422.", status=201, body=ContactCreate),
    Route("get", "/api/v1/contacts/{contact_id}", "getContact", "Contacts", "Read a contact",
          answers.Contact, "The contact."),
    Route("post", "/api/v1/contacts/{contact_id}/assign", "assignContact", "Contacts",
          "Assign an unassigned contact", answers.Contact, "The contact, now assigned.",
          "To an active operator with free capacity, atomically; otherwise 409 and nothing changes (also "
          "when the contact is not unassigned). An unknown operator_id is 422. Operator users may assign "
          "only to themselves (403).", body=Assign, errors=(403, 409)),
    Route("post", "/api/v1/contacts/{contact_id}/close", "closeContact", "Contacts", "Close a contact",
          answers.ClosedContact, "The contact, now closed, with its outcome.",
          "With an outcome (done when none is given) and an optional note, stored as a note of the contact, "
          "in one transaction; frees one unit of its operator's load. An unknown outcome or an invalid note "
          "is 422 and changes nothing. Closing a closed contact is 409. Operator users may close only their "
          "own contacts (403).", body=CloseBody, body_required=False, errors=(403, 409)),
    Route("get", "/api/v1/contacts/{contact_id}/notes", "listContactNotes", "Contacts",
          "List a contact's notes", answers.NotePage, "A page of notes, oldest first.",
          "Any staff user may read the notes of any contact.", query=PageQuery),
    Route("post", "/api/v1/contacts/{contact_id}/notes", "addContactNote", "Contacts",
          "Add a note to a contact", answers.Note, "Added.",
          "Any staff user may add a note to any contact, open or closed; the author is the token's user.",
          status=201, body=NoteCreate),
    Route("get", "/api/v1/leads", "listLeads", "Leads", "List or look up leads",
          answers.LeadPage, "A page of leads.",
          "Newest first. The filters are normalised like intake (`8 (999) 123-45-67` finds `+79991234567`); "
          "an invalid phone or email is 422. `q` searches as the /leads page does: name, phone digits, part "
          "of the email or the exact external id.", query=LeadQuery),
    Route("get", "/api/v1/leads/{lead_id}", "getLead", "Leads", "Read a lead with all its contacts",
          answers.LeadWithContacts, "The lead."),
)


# --- the webhook, this document and /healthz ----------------------------------------------------


def webhook_paths() -> dict:
    source_key = {
        "name": "source_key",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
        "example": "site-form",
    }
    kib = WEBHOOK_MAX_BODY // 1024
    post = {
        "tags": ["Webhook"],
        "summary": "Submit a site form or a request from any source",
        "description": "The public intake. Authenticated by the source's webhook token in the "
        "`X-Webhook-Token` header or the `token` query parameter (for form builders that cannot set "
        "headers). The body is JSON or a form; the contact is created and handed to an operator at random, "
        "weighted per source, never above an operator's max_load. When nobody is free it is still created "
        "(201) and waits in the queue: `operator_available` is false. Nothing is written on any error. "
        "Errors are checked in this order: 404 (source), 401 (token), then the body's (413, 415, 400, "
        f"422); a body over {size_text(MAX_REQUEST_BODY)} is 413 before anything else.",
        "operationId": "receiveWebhook",
        "security": [{"webhookToken": []}, {"webhookTokenQuery": []}],
        "parameters": [
            {**source_key, "description": "The source's key. An unknown or disabled source is 404."},
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": f"1 to {MAX_IDEMPOTENCY_KEY} characters. A repeat with the same key for the "
                "same source creates nothing and answers 200 with the first answer's body. The key is "
                "bound to its request: the same key with a different body (other identifiers, name or "
                "message, once normalised) is 422 on `Idempotency-Key`, writes nothing and shows nothing "
                "of the first.",
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY},
                "example": "form-7f3a9c",
            },
        ],
        "requestBody": {
            "required": True,
            "description": f"At most {kib} KiB.",
            "content": {kind: {"schema": ref(WebhookFields)} for kind in (JSON, *FORM_TYPES)},
        },
        "responses": {
            "201": media(ref(answers.IntakeResult), "Created: the contact, its lead and whether an operator "
                         "took it.", answers.IntakeResult.model_config["json_schema_extra"]["example"]),
            "200": media(ref(answers.IntakeResult), "A repeat of an Idempotency-Key: the first body."),
            "303": {
                "description": "A plain HTML form post (a form body, and an Accept header that does not rank "
                "JSON above HTML) to a source with a `thank_you_url`, saved: go there.",
                "headers": {"Location": {"description": "The source's thank_you_url.",
                                         "schema": {"type": "string"}}},
                "content": {HTML: {"schema": {"type": "string"}}},
            },
            "400": webhook_error(BAD_JSON),
            "401": webhook_error("Missing or wrong webhook token."),
            "404": webhook_error("Unknown or disabled source key."),
            "413": webhook_error(f"The body is larger than {kib} KiB."),
            "415": webhook_error(f"Not {', '.join((JSON, *FORM_TYPES))}."),
            "422": webhook_error("Invalid fields, no identifier at all, a bad Idempotency-Key, or one first "
                                 "used with a different body; `fields` says which and why.",
                                 schemas.ValidationError),
            "429": webhook_error("Over the rate limit (CRM_WEBHOOK_RATE_LIMIT, per client address).",
                                 headers={"Retry-After": RETRY_AFTER}),
            "503": webhook_error("The database is unreachable; retry after the given seconds.",
                                 headers={"Retry-After": RETRY_AFTER}),
        },
    }
    preflight = {
        "tags": ["Webhook"],
        "summary": "CORS preflight",
        "description": "For the pages of a source's `allowed_origins`: when `Origin` is one of them the "
        "answer carries `Access-Control-Allow-Origin` and the allowed method and headers; otherwise none "
        "(the browser then refuses the post). No token needed.",
        "operationId": "webhookPreflight",
        "security": [],
        "parameters": [
            source_key,
            {
                "name": "Origin",
                "in": "header",
                "required": False,
                "description": "The page's origin, as browsers send it.",
                "schema": {"type": "string"},
                "example": "https://www.example.com",
            },
        ],
        "responses": {
            "204": {
                "description": "Preflight answered (CORS headers only for an allowed origin).",
                "headers": {
                    name: {"schema": {"type": "string"}}
                    for name in (
                        "Access-Control-Allow-Origin",
                        "Access-Control-Allow-Methods",
                        "Access-Control-Allow-Headers",
                        "Access-Control-Max-Age",
                    )
                },
            },
            "429": error(429),
        },
    }
    return {"/webhooks/{source_key}": {"post": post, "options": preflight}}


def meta_paths() -> dict:
    health = ref(schemas.Health)
    return {
        "/api/v1/openapi.json": {"get": {
            "tags": ["Meta"],
            "summary": "This document",
            "description": "OpenAPI 3.1; no token needed.",
            "operationId": "getOpenApi",
            "security": [],
            "responses": {"200": media({"type": "object"}, "The OpenAPI document.")},
        }},
        "/healthz": {"get": {
            "tags": ["Meta"],
            "summary": "Health check",
            "description": "200 when the database answers, 503 otherwise. No token needed.",
            "operationId": "health",
            "security": [],
            "responses": {
                "200": media(health, "The database answers.", {"status": "ok"}),
                "503": {
                    **media(health, "The database is unreachable.",
                            {"status": "unavailable", "database": "unreachable"}),
                    "headers": {"Retry-After": RETRY_AFTER},
                },
            },
        }},
    }


def paths() -> dict:
    result = webhook_paths()
    for route in ROUTES:
        item = result.setdefault(route.path, {})
        names = [part[1:-1] for part in route.path.split("/") if part.startswith("{")]
        if names:
            item["parameters"] = [id_parameter(name) for name in names]
        item[route.method] = route.operation()
    return result | meta_paths()


# --- the document ----------------------------------------------------------------------------

INFO = {
    "title": "Mini CRM",
    "version": "1.0.0",
    "summary": "The public webhook and the JSON API for staff and integrations.",
    "description": "Requests (contacts) come in through `POST /webhooks/{source_key}` or the API; "
    "each is matched to a client (lead) by external id, phone or email and handed to an "
    "operator, at random by weight per source, never above an operator's max_load.\n\n"
    "The API takes `Authorization: Bearer <token>` of a staff user (`flask users token EMAIL` "
    "prints one). Bodies are JSON (`Content-Type: application/json`, else 415). Every error "
    "has one shape, `{\"error\": {\"code\", \"message\", \"fields\"?}}`, with `fields` only on "
    "422. Every list is paginated: `?page=`, `?per_page=` (default 50, max 100). "
    "Answers may gain fields over time: ignore the ones you do not know.",
}
TAGS = [
    {"name": "Webhook", "description": "Public intake, authenticated by the source's webhook token."},
    {"name": "Operators"},
    {"name": "Sources", "description": "Channels, their webhook tokens and their weight tables."},
    {"name": "Contacts"},
    {"name": "Leads"},
    {"name": "Meta"},
]
SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "A staff user's API token (`flask users token EMAIL`).",
    },
    "webhookToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Webhook-Token",
        "description": "The source's webhook token.",
    },
    "webhookTokenQuery": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "The same token as a query parameter, for form builders that cannot set headers.",
    },
}


@cache
def _frozen() -> dict:
    return {
        "openapi": "3.1.0",
        "info": INFO,
        "servers": [{"url": "/"}],
        "tags": TAGS,
        "security": [{"bearerAuth": []}],
        "paths": paths(),
        "components": {
            "schemas": component_schemas(),
            "responses": dict(ERRORS.values()),
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def openapi_document() -> dict:
    """A copy of the document, safe to change."""
    return copy.deepcopy(_frozen())
