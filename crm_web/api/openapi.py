"""The OpenAPI 3.1 document of the JSON API, the webhook and /healthz.

Kept true by tests/api/test_openapi.py (every route documented, observed
responses validate) and tests/fuzz/test_schemathesis.py (Schemathesis
against a live server). Served at GET /api/v1/openapi.json without a token,
and rendered for people at /docs/api (crm_web/api/docs.py).
"""

from __future__ import annotations

import copy
from functools import cache

from ..body_limit import size_text
from ..config import MAX_REQUEST_BODY
from ..domain.identifiers import MAX_EXTERNAL_ID, MAX_MESSAGE, MAX_NAME
from ..domain.site_forms import MAX_THANK_YOU_URL
from ..services.operators import MAX_LOAD_LIMIT
from ..services.pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE
from ..services.validation import MAX_ID

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
HTML = "text/html"
MAX_PAGE = 10_000_000
WEBHOOK_MAX_BODY = 64 * 1024
KEY_PATTERN = "^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$"
WEIGHT_PATTERN = r"^\+?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)$"
STAMP = "2026-11-25T09:30:00.123456+00:00"


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def json_body(schema: dict, example: object = None, description: str = "") -> dict:
    content: dict = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {JSON: content}}


def error(description: str) -> dict:
    return {"$ref": f"#/components/responses/{description}"}


def id_param(name: str, what: str) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"The {what}'s id. An id no {what} has (or beyond 2^31-1) is 404.",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    }


def query_id(name: str, what: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": f"Only items of this {what}.",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    }


def query_text(name: str, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


PAGING = [{"$ref": "#/components/parameters/page"}, {"$ref": "#/components/parameters/per_page"}]
AFTER = {"$ref": "#/components/parameters/after"}

# --- schemas ----------------------------------------------------------------

DATETIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with a UTC offset."}
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
READ_ONLY_ECHO = {
    "readOnly": True,
    "description": "Read-only: accepted and ignored, so that a read can be sent back as it is.",
}
INTAKE_TEXT = {
    "external_id": {
        "type": ["string", "null"],
        "maxLength": MAX_EXTERNAL_ID,
        "description": "Your id of the client; trimmed, 1 to 255 characters.",
    },
    "phone": {
        "type": ["string", "null"],
        "maxLength": 64,
        "description": "Parsed with the default region (CRM_PHONE_REGION); stored in E.164.",
    },
    "email": {
        "type": ["string", "null"],
        "description": "Trimmed and lower-cased; must be a syntactically valid address.",
    },
    "name": {"type": ["string", "null"], "maxLength": MAX_NAME, "description": "At most 255 characters."},
    "message": {
        "type": ["string", "null"],
        "maxLength": MAX_MESSAGE,
        "description": "At most 10,000 characters.",
    },
}
SITE_FORM_FIELDS = {
    "allowed_origins": {
        "type": ["array", "null"],
        "items": {"type": "string"},
        "description": "Origins of the sites whose forms post to the webhook, e.g. "
        "\"https://www.example.com\" (no '*', at most 20). null or [] clears the list.",
    },
    "thank_you_url": {
        "type": ["string", "null"],
        "maxLength": MAX_THANK_YOU_URL,
        "description": "An absolute http(s) URL; plain HTML form posts are redirected there. null clears it.",
    },
}
IDENTIFIER_REQUIRED = "At least one of external_id, phone and email (null or blank counts as not given)."

SCHEMAS: dict[str, dict] = {
    "Error": {
        "type": "object",
        "description": "The one error shape of the webhook and the API. `fields` only on 422.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {
                        "type": "string",
                        "minLength": 1,
                        "description": "Machine-readable: not_found, conflict, duplicate_name, "
                        "operator_full, validation_error, ...",
                    },
                    "message": {"type": "string", "minLength": 1, "description": "For people."},
                    "request_id": {"type": "string", "description": "The request's id, as in the logs."},
                },
            }
        },
        "example": {"error": {"code": "not_found", "message": "Operator 9 not found."}},
    },
    "ValidationError": {
        "type": "object",
        "description": "422: which fields are wrong and why (a field may be `_body`, `rules[0].weight`...).",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "fields"],
                "properties": {
                    "code": {"type": "string", "minLength": 1},
                    "message": {"type": "string", "minLength": 1},
                    "fields": {
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    },
                    "request_id": {"type": "string"},
                },
            }
        },
        "example": {
            "error": {
                "code": "validation_error",
                "message": "Some fields are invalid.",
                "fields": {"phone": ["Not a possible phone number."]},
            }
        },
    },
    "OperatorRef": {
        "type": "object",
        "required": ["id", "name"],
        "properties": {"id": ID, "name": {"type": "string"}},
    },
    "Contact": {
        "type": "object",
        "required": [
            "id", "lead_id", "source_id", "status", "operator", "created_at",
            "name", "message", "assigned_at", "closed_at",
        ],
        "properties": {
            "id": ID,
            "lead_id": ID,
            "source_id": ID,
            "status": {
                "type": "string",
                "enum": ["unassigned", "assigned", "closed"],
                "description": "unassigned: open, no operator; assigned: open with an operator; closed.",
            },
            "operator": nullable(ref("OperatorRef")),
            "created_at": DATETIME,
            "name": {"type": ["string", "null"]},
            "message": {"type": ["string", "null"]},
            "assigned_at": nullable(DATETIME),
            "closed_at": nullable(DATETIME),
        },
        "example": {
            "id": 17, "lead_id": 5, "source_id": 2, "status": "assigned",
            "operator": {"id": 3, "name": "Anna"}, "created_at": STAMP, "name": "Ivan",
            "message": "Call me back", "assigned_at": STAMP, "closed_at": None,
        },
    },
    "IntakeResult": {
        "type": "object",
        "required": ["contact", "lead", "operator_available"],
        "properties": {
            "contact": ref("Contact"),
            "lead": {
                "type": "object",
                "required": ["id", "created"],
                "properties": {
                    "id": ID,
                    "created": {"type": "boolean", "description": "True when this request created the lead."},
                },
            },
            "operator_available": {
                "type": "boolean",
                "description": "False when nobody could take the contact: it waits in the queue.",
            },
        },
    },
    "Operator": {
        "type": "object",
        "required": ["id", "name", "is_active", "max_load", "load", "created_at"],
        "properties": {
            "id": ID,
            "name": {"type": "string"},
            "is_active": {"type": "boolean"},
            "max_load": {"type": "integer", "minimum": 0, "maximum": MAX_LOAD_LIMIT},
            "load": {"type": "integer", "minimum": 0, "description": "Open contacts held now."},
            "created_at": DATETIME,
        },
        "example": {
            "id": 3, "name": "Anna", "is_active": True, "max_load": 10, "load": 4, "created_at": STAMP,
        },
    },
    "OperatorCreate": {
        "type": "object",
        "required": ["name", "max_load"],
        "additionalProperties": False,
        "properties": {
            "name": {
                "type": "string", "minLength": 1, "maxLength": 120,
                "description": "Trimmed; unique among operators (409).",
            },
            "is_active": {"type": "boolean", "default": True},
            "max_load": {"type": "integer", "minimum": 0, "maximum": MAX_LOAD_LIMIT},
            "id": READ_ONLY_ECHO,
            "load": READ_ONLY_ECHO,
            "created_at": READ_ONLY_ECHO,
            "webhook_token": READ_ONLY_ECHO,
        },
        "example": {"name": "Anna", "max_load": 10},
    },
    "OperatorPatch": {
        "type": "object",
        "description": "Only the fields given change; null means unchanged. max_load may go below "
        "the current load: the operator keeps its contacts and gets no new ones.",
        "additionalProperties": False,
        "properties": {
            "name": {"type": ["string", "null"], "minLength": 1, "maxLength": 120},
            "is_active": {"type": ["boolean", "null"]},
            "max_load": {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_LOAD_LIMIT},
            "id": READ_ONLY_ECHO,
            "load": READ_ONLY_ECHO,
            "created_at": READ_ONLY_ECHO,
            "webhook_token": READ_ONLY_ECHO,
        },
        "example": {"max_load": 12, "is_active": False},
    },
    "OperatorDeleted": {
        "type": "object",
        "required": ["deleted", "contacts_returned_to_queue"],
        "properties": {
            "deleted": ID,
            "contacts_returned_to_queue": {"type": "integer", "minimum": 0},
        },
        "example": {"deleted": 3, "contacts_returned_to_queue": 4},
    },
    "Source": {
        "type": "object",
        "required": ["id", "name", "key", "is_active", "created_at"],
        "properties": {
            "id": ID,
            "name": {"type": "string"},
            "key": {"type": "string", "pattern": KEY_PATTERN, "description": "In /webhooks/{key}."},
            "is_active": {"type": "boolean"},
            "created_at": DATETIME,
            "webhook_token": {
                "type": "string",
                "description": "The secret the webhook expects. This and the next two: supervisors only.",
            },
            "allowed_origins": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Origins (scheme://host[:port]) whose pages may post to the webhook (CORS).",
            },
            "thank_you_url": {
                "type": ["string", "null"],
                "description": "Where a plain HTML form post is redirected (303) after it is saved.",
            },
        },
        "example": {
            "id": 2, "name": "Site form", "key": "site-form", "is_active": True, "created_at": STAMP,
            "webhook_token": "3q2-7wEAAAAx9Jd0LzF4bmRvbS10b2tlbi1leGFtcGxlAA",
            "allowed_origins": ["https://www.example.com"], "thank_you_url": "https://www.example.com/thanks",
        },
    },
    "SourceCreate": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {
                "type": "string", "minLength": 1, "maxLength": 120,
                "description": "Trimmed; unique among sources (409).",
            },
            "key": {
                "type": "string", "pattern": KEY_PATTERN, "maxLength": 64,
                "description": "Unique (409); defaults to a slug of the name.",
            },
            "is_active": {"type": "boolean", "default": True},
            **SITE_FORM_FIELDS,
            "id": READ_ONLY_ECHO,
            "load": READ_ONLY_ECHO,
            "created_at": READ_ONLY_ECHO,
            "webhook_token": READ_ONLY_ECHO,
        },
        "example": {"name": "Site form", "key": "site-form", "allowed_origins": ["https://www.example.com"]},
    },
    "SourcePatch": {
        "type": "object",
        "description": "Only the fields given change; null means unchanged.",
        "additionalProperties": False,
        "properties": {
            "name": {"type": ["string", "null"], "minLength": 1, "maxLength": 120},
            "key": {"type": ["string", "null"], "pattern": KEY_PATTERN, "maxLength": 64},
            "is_active": {"type": ["boolean", "null"]},
            **SITE_FORM_FIELDS,
            "id": READ_ONLY_ECHO,
            "load": READ_ONLY_ECHO,
            "created_at": READ_ONLY_ECHO,
            "webhook_token": READ_ONLY_ECHO,
        },
        "example": {"is_active": False, "thank_you_url": None},
    },
    "Distribution": {
        "type": "object",
        "required": ["rules"],
        "properties": {
            "rules": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["operator_id", "operator_name", "weight", "share"],
                    "properties": {
                        "operator_id": ID,
                        "operator_name": {"type": "string"},
                        "weight": {
                            "type": "string", "pattern": r"^[0-9]{1,3}\.[0-9]{2}$",
                            "description": "Two decimals, 0.01..999.99.",
                        },
                        "share": {
                            "type": "number", "minimum": 0, "maximum": 1,
                            "description": "The weight's fraction of the source's total weight.",
                        },
                    },
                },
            }
        },
        "example": {
            "rules": [
                {"operator_id": 3, "operator_name": "Anna", "weight": "10.50", "share": 0.677419},
                {"operator_id": 4, "operator_name": "Boris", "weight": "5.00", "share": 0.322581},
            ]
        },
    },
    "DistributionPut": {
        "type": "object",
        "required": ["rules"],
        "description": "The whole new table; operators left out lose their rule. An unknown or "
        "repeated operator is 422 and nothing changes.",
        "properties": {
            "rules": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["operator_id", "weight"],
                    "properties": {
                        "operator_id": ID,
                        "weight": {
                            "type": ["string", "number"],
                            "pattern": WEIGHT_PATTERN,
                            "minimum": 0.01,
                            "maximum": 999.99,
                            "description": "0.01..999.99, at most two decimals (\"10.5\", 10.5, "
                            "\"10.500\"); true, null, \"NaN\" or \"10.505\" are 422.",
                        },
                    },
                },
            }
        },
        "example": {"rules": [{"operator_id": 3, "weight": "10.5"}, {"operator_id": 4, "weight": 5}]},
    },
    "ContactCreate": {
        "type": "object",
        "required": ["source_id"],
        "description": f"Staff intake. {IDENTIFIER_REQUIRED} Other fields are ignored.",
        "properties": {
            "source_id": {**ID, "description": "An existing, enabled source (else 422)."}, **INTAKE_TEXT
        },
        "example": {"source_id": 2, "phone": "8 (999) 123-45-67", "name": "Ivan", "message": "Call me back"},
    },
    "Assign": {
        "type": "object",
        "required": ["operator_id"],
        "properties": {"operator_id": ID},
        "example": {"operator_id": 3},
    },
    "WebhookFields": {
        "type": "object",
        "description": f"{IDENTIFIER_REQUIRED} Unknown fields are ignored.",
        "properties": INTAKE_TEXT,
        "example": {"phone": "+7 999 123-45-67", "email": "Ivan@Example.com", "name": "Ivan"},
    },
    "Lead": {
        "type": "object",
        "required": ["id", "external_id", "phone", "email", "name", "created_at"],
        "properties": {
            "id": ID,
            "external_id": {"type": ["string", "null"]},
            "phone": {"type": ["string", "null"], "description": "E.164."},
            "email": {"type": ["string", "null"]},
            "name": {"type": ["string", "null"]},
            "created_at": DATETIME,
        },
        "example": {
            "id": 5, "external_id": None, "phone": "+79991234567", "email": "ivan@example.com",
            "name": "Ivan", "created_at": STAMP,
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "database": {"type": "string"},
        },
        "example": {"status": "ok"},
    },
}
SCHEMAS["LeadWithContacts"] = {
    "type": "object",
    "required": [*SCHEMAS["Lead"]["required"], "contacts"],
    "properties": {**SCHEMAS["Lead"]["properties"], "contacts": {"type": "array", "items": ref("Contact")}},
}
SCHEMAS["SourceWithToken"] = {
    **SCHEMAS["Source"],
    "required": [*SCHEMAS["Source"]["required"], "webhook_token", "allowed_origins", "thank_you_url"],
}


def page_of(item: str) -> dict:
    return {
        "type": "object",
        "required": ["items", "page", "per_page", "total"],
        "properties": {
            "items": {"type": "array", "items": ref(item)},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
            "total": {
                "type": "integer",
                "minimum": 0,
                "description": "Exact up to 2,000; above that an estimate (3 significant digits).",
            },
        },
    }


for _item in ("Operator", "Source", "Contact", "Lead"):
    SCHEMAS[f"{_item}Page"] = page_of(_item)

# --- responses ---------------------------------------------------------------

RETRY_AFTER = {"description": "Seconds to wait before retrying.", "schema": {"type": "string"}}


def error_response(description: str, schema: str = "Error", headers: dict | None = None) -> dict:
    response: dict = {"description": description, "content": {JSON: {"schema": ref(schema)}}}
    if headers:
        response["headers"] = headers
    return response


def webhook_error(description: str, schema: str = "Error", headers: dict | None = None) -> dict:
    """A webhook error: JSON, or a short HTML page for a plain form post to a source with a thank-you URL."""
    response = error_response(description, schema, headers)
    response["content"][HTML] = {"schema": {"type": "string"}}
    return response


RESPONSES = {
    "BadRequest": error_response(
        "Malformed JSON (also text that is not Unicode, such as a lone surrogate `\\ud800`), "
        "or the body is not a JSON object."
    ),
    "Unauthorized": error_response(
        "Missing, unknown, expired or revoked token.",
        headers={
            "WWW-Authenticate": {"description": "Bearer realm=\"mini-crm\"", "schema": {"type": "string"}}
        },
    ),
    "Forbidden": error_response("The user's role may not do this (operator users)."),
    "NotFound": error_response("No such object."),
    "Conflict": error_response(
        "A conflict: a duplicate name or key, an operator at capacity, a closed contact."
    ),
    "PayloadTooLarge": error_response(
        f"The body is larger than {size_text(MAX_REQUEST_BODY)} (any route); nothing of it is read."
    ),
    "UnsupportedMediaType": error_response("The body is not application/json."),
    "Unprocessable": error_response("Invalid input; `fields` says which and why.", "ValidationError"),
    "TooManyRequests": error_response(
        "Over the webhook's rate limit (CRM_WEBHOOK_RATE_LIMIT, per client address).",
        headers={"Retry-After": RETRY_AFTER},
    ),
    "Unavailable": error_response(
        "The database is unreachable; retry after the given seconds.", headers={"Retry-After": RETRY_AFTER}
    ),
}


def responses(ok: dict, *errors: str) -> dict:
    """`ok` maps statuses to success responses; errors name components (401 and 503 always)."""
    names = {
        400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
        413: "PayloadTooLarge", 415: "UnsupportedMediaType", 422: "Unprocessable",
        429: "TooManyRequests", 503: "Unavailable",
    }
    result = {str(status): value for status, value in ok.items()}
    for status in sorted({*errors, 401, 503}):
        result[str(status)] = error(names[status])
    return result


def ok(schema: str, description: str) -> dict:
    return json_body(ref(schema), description=description)


def op(summary: str, description: str, tag: str, operation_id: str, **extra) -> dict:
    return {"tags": [tag], "summary": summary, "description": description, "operationId": operation_id,
            **extra}


def request(schema: str, description: str = "") -> dict:
    return {"required": True, "description": description, "content": {JSON: {"schema": ref(schema)}}}


SUPERVISOR = " Supervisors only (operator users get 403)."
JSON_BODY_ERRORS = (400, 413, 415, 422)

# --- paths -------------------------------------------------------------------

PATHS = {
    "/webhooks/{source_key}": {
        "post": op(
            "Submit a site form or a request from any source",
            "The public intake. Authenticated by the source's webhook token in the `X-Webhook-Token` "
            "header or the `token` query parameter (for form builders that cannot set headers). "
            "The body is JSON or a form; the contact is created and handed to an operator at random, "
            "weighted per source, never above an operator's max_load. When nobody is free it is "
            "still created (201) and waits in the queue: `operator_available` is false. "
            "Nothing is written on any error. Errors are checked in this order: 404 (source), "
            "401 (token), then the body's (413, 415, 400, 422); a body over "
            f"{size_text(MAX_REQUEST_BODY)} is 413 before anything else.",
            "Webhook",
            "receiveWebhook",
            security=[{"webhookToken": []}, {"webhookTokenQuery": []}],
            parameters=[
                {
                    "name": "source_key",
                    "in": "path",
                    "required": True,
                    "description": "The source's key. An unknown or disabled source is 404.",
                    "schema": {"type": "string", "minLength": 1},
                    "example": "site-form",
                },
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "1 to 255 characters. A repeat with the same key for the same source "
                    "creates nothing and answers 200 with the first answer's body. The key is bound to its "
                    "request: the same key with a different body (other identifiers, name or message, once "
                    "normalised) is 422 on `Idempotency-Key`, writes nothing and shows nothing of the first.",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    "example": "form-7f3a9c",
                },
            ],
            requestBody={
                "required": True,
                "description": f"At most {WEBHOOK_MAX_BODY // 1024} KiB.",
                "content": {
                    JSON: {"schema": ref("WebhookFields")},
                    FORM: {"schema": ref("WebhookFields")},
                    MULTIPART: {"schema": ref("WebhookFields")},
                },
            },
            responses={
                "201": json_body(
                    ref("IntakeResult"),
                    {
                        "contact": SCHEMAS["Contact"]["example"],
                        "lead": {"id": 5, "created": False},
                        "operator_available": True,
                    },
                    "Created: the contact, its lead and whether an operator took it.",
                ),
                "200": json_body(
                    ref("IntakeResult"), description="A repeat of an Idempotency-Key: the first body."
                ),
                "303": {
                    "description": "A plain HTML form post (a form body, and an Accept header that does not "
                    "rank JSON above HTML) to a source with a `thank_you_url`, saved: go there.",
                    "headers": {"Location": {"description": "The source's thank_you_url.",
                                             "schema": {"type": "string"}}},
                    "content": {HTML: {"schema": {"type": "string"}}},
                },
                "400": webhook_error(
                    "Malformed JSON (also text that is not Unicode, such as a lone surrogate `\\ud800`), "
                    "or the body is not a JSON object."
                ),
                "401": webhook_error("Missing or wrong webhook token."),
                "404": webhook_error("Unknown or disabled source key."),
                "413": webhook_error(f"The body is larger than {WEBHOOK_MAX_BODY // 1024} KiB."),
                "415": webhook_error(
                    "Not application/json, application/x-www-form-urlencoded or multipart/form-data."
                ),
                "422": webhook_error("Invalid fields, no identifier at all, a bad Idempotency-Key, or one "
                                     "first used with a different body; `fields` says which and why.",
                                     "ValidationError"),
                "429": webhook_error("Over the rate limit (CRM_WEBHOOK_RATE_LIMIT, per client address).",
                                     headers={"Retry-After": RETRY_AFTER}),
                "503": webhook_error("The database is unreachable; retry after the given seconds.",
                                     headers={"Retry-After": RETRY_AFTER}),
            },
        ),
        "options": op(
            "CORS preflight",
            "For the pages of a source's `allowed_origins`: when `Origin` is one of them the answer "
            "carries `Access-Control-Allow-Origin` and the allowed method and headers; otherwise none "
            "(the browser then refuses the post). No token needed.",
            "Webhook",
            "webhookPreflight",
            security=[],
            parameters=[
                {
                    "name": "source_key",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1},
                    "example": "site-form",
                },
                {
                    "name": "Origin",
                    "in": "header",
                    "required": False,
                    "description": "The page's origin, as browsers send it.",
                    "schema": {"type": "string"},
                    "example": "https://www.example.com",
                },
            ],
            responses={
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
                "429": error("TooManyRequests"),
            },
        ),
    },
    "/api/v1/operators": {
        "get": op(
            "List operators",
            "Ordered by name.",
            "Operators",
            "listOperators",
            parameters=PAGING,
            responses=responses({200: ok("OperatorPage", "A page of operators.")}, 422),
        ),
        "post": op(
            "Create an operator",
            "Unknown fields are 422; a duplicate name is 409." + SUPERVISOR,
            "Operators",
            "createOperator",
            requestBody=request("OperatorCreate"),
            responses=responses({201: ok("Operator", "Created.")}, 403, 409, *JSON_BODY_ERRORS),
        ),
    },
    "/api/v1/operators/{operator_id}": {
        "parameters": [id_param("operator_id", "operator")],
        "get": op(
            "Read an operator",
            "",
            "Operators",
            "getOperator",
            responses=responses({200: ok("Operator", "The operator.")}, 404),
        ),
        "patch": op(
            "Change an operator",
            "Unknown fields are 422; a duplicate name is 409." + SUPERVISOR,
            "Operators",
            "updateOperator",
            requestBody=request("OperatorPatch"),
            responses=responses({200: ok("Operator", "Changed.")}, 403, 404, 409, *JSON_BODY_ERRORS),
        ),
        "delete": op(
            "Delete an operator",
            "Its open contacts go back to the unassigned queue and its rules are removed; closed "
            "contacts keep its name." + SUPERVISOR,
            "Operators",
            "deleteOperator",
            responses=responses({200: ok("OperatorDeleted", "Deleted.")}, 403, 404),
        ),
    },
    "/api/v1/sources": {
        "get": op(
            "List sources",
            "Ordered by name; `webhook_token` only for supervisors.",
            "Sources",
            "listSources",
            parameters=PAGING,
            responses=responses({200: ok("SourcePage", "A page of sources.")}, 422),
        ),
        "post": op(
            "Create a source",
            "The answer includes the new `webhook_token`. A duplicate name or key is 409." + SUPERVISOR,
            "Sources",
            "createSource",
            requestBody=request("SourceCreate"),
            responses=responses({201: ok("SourceWithToken", "Created.")}, 403, 409, *JSON_BODY_ERRORS),
        ),
    },
    "/api/v1/sources/{source_id}": {
        "parameters": [id_param("source_id", "source")],
        "get": op(
            "Read a source",
            "With `webhook_token` for supervisors.",
            "Sources",
            "getSource",
            responses=responses({200: ok("Source", "The source.")}, 404),
        ),
        "patch": op(
            "Change a source",
            "Unknown fields are 422; a duplicate name or key is 409. A disabled source's webhook "
            "answers 404." + SUPERVISOR,
            "Sources",
            "updateSource",
            requestBody=request("SourcePatch"),
            responses=responses({200: ok("SourceWithToken", "Changed.")}, 403, 404, 409, *JSON_BODY_ERRORS),
        ),
    },
    "/api/v1/sources/{source_id}/token": {
        "parameters": [id_param("source_id", "source")],
        "post": op(
            "Issue a new webhook token",
            "The old token stops working at once. No body." + SUPERVISOR,
            "Sources",
            "rotateSourceToken",
            responses=responses({200: ok("SourceWithToken", "The source with its new token.")}, 403, 404),
        ),
    },
    "/api/v1/sources/{source_id}/distribution": {
        "parameters": [id_param("source_id", "source")],
        "get": op(
            "Read the weight table of a source",
            "One rule per operator, ordered by operator id.",
            "Sources",
            "getDistribution",
            responses=responses({200: ok("Distribution", "The rules.")}, 404),
        ),
        "put": op(
            "Replace the weight table of a source",
            "All rules at once, in one transaction; `{\"rules\": []}` removes them all." + SUPERVISOR,
            "Sources",
            "putDistribution",
            requestBody=request("DistributionPut"),
            responses=responses({200: ok("Distribution", "The new rules.")}, 403, 404, *JSON_BODY_ERRORS),
        ),
    },
    "/api/v1/contacts": {
        "get": op(
            "List contacts",
            "Newest first; `status=unassigned` is the queue, oldest first. For deep pages pass "
            "`after` = the last id received.",
            "Contacts",
            "listContacts",
            parameters=[
                *PAGING,
                AFTER,
                {
                    "name": "status",
                    "in": "query",
                    "required": False,
                    "description": "Only contacts in this status.",
                    "schema": {"type": "string", "enum": ["unassigned", "assigned", "closed"]},
                },
                query_id("operator_id", "operator"),
                query_id("source_id", "source"),
                query_id("lead_id", "lead"),
            ],
            responses=responses({200: ok("ContactPage", "A page of contacts.")}, 422),
        ),
        "post": op(
            "Register a contact (staff intake)",
            "As the webhook, for a source given by id: the lead is matched or created and an "
            "operator chosen by weight. An unknown or disabled source_id is 422.",
            "Contacts",
            "createContact",
            requestBody=request("ContactCreate"),
            responses=responses({201: ok("IntakeResult", "Created.")}, *JSON_BODY_ERRORS),
        ),
    },
    "/api/v1/contacts/{contact_id}": {
        "parameters": [id_param("contact_id", "contact")],
        "get": op(
            "Read a contact",
            "",
            "Contacts",
            "getContact",
            responses=responses({200: ok("Contact", "The contact.")}, 404),
        ),
    },
    "/api/v1/contacts/{contact_id}/assign": {
        "parameters": [id_param("contact_id", "contact")],
        "post": op(
            "Assign an unassigned contact",
            "To an active operator with free capacity, atomically; otherwise 409 and nothing "
            "changes (also when the contact is not unassigned). An unknown operator_id is 422. "
            "Operator users may assign only to themselves (403).",
            "Contacts",
            "assignContact",
            requestBody=request("Assign"),
            responses=responses({200: ok("Contact", "The contact, now assigned.")}, 403, 404, 409,
                                *JSON_BODY_ERRORS),
        ),
    },
    "/api/v1/contacts/{contact_id}/close": {
        "parameters": [id_param("contact_id", "contact")],
        "post": op(
            "Close a contact",
            "Frees one unit of its operator's load. Closing a closed contact is 409. Operator users "
            "may close only their own contacts (403). No body.",
            "Contacts",
            "closeContact",
            responses=responses({200: ok("Contact", "The contact, now closed.")}, 403, 404, 409),
        ),
    },
    "/api/v1/leads": {
        "get": op(
            "List or look up leads",
            "Newest first. The filters are normalised like intake (`8 (999) 123-45-67` finds "
            "`+79991234567`); an invalid phone or email is 422.",
            "Leads",
            "listLeads",
            parameters=[
                *PAGING,
                AFTER,
                query_text("phone", "A phone number in any format the intake takes."),
                query_text("email", "An email address (case does not matter)."),
                query_text("external_id", "An external id (trimmed)."),
            ],
            responses=responses({200: ok("LeadPage", "A page of leads.")}, 422),
        ),
    },
    "/api/v1/leads/{lead_id}": {
        "parameters": [id_param("lead_id", "lead")],
        "get": op(
            "Read a lead with all its contacts",
            "",
            "Leads",
            "getLead",
            responses=responses({200: ok("LeadWithContacts", "The lead.")}, 404),
        ),
    },
    "/api/v1/openapi.json": {
        "get": op(
            "This document",
            "OpenAPI 3.1; no token needed.",
            "Meta",
            "getOpenApi",
            security=[],
            responses={"200": json_body({"type": "object"}, description="The OpenAPI document.")},
        ),
    },
    "/healthz": {
        "get": op(
            "Health check",
            "200 when the database answers, 503 otherwise. No token needed.",
            "Meta",
            "health",
            security=[],
            responses={
                "200": json_body(ref("Health"), {"status": "ok"}, "The database answers."),
                "503": {
                    "description": "The database is unreachable.",
                    "headers": {"Retry-After": RETRY_AFTER},
                    "content": {
                        JSON: {
                            "schema": ref("Health"),
                            "example": {"status": "unavailable", "database": "unreachable"},
                        }
                    },
                },
            },
        ),
    },
}

PARAMETERS = {
    "page": {
        "name": "page",
        "in": "query",
        "required": False,
        "description": "1-based page number.",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
    },
    "per_page": {
        "name": "per_page",
        "in": "query",
        "required": False,
        "description": f"Items per page, at most {MAX_PER_PAGE} (above is 422).",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": DEFAULT_PER_PAGE},
    },
    "after": {
        "name": "after",
        "in": "query",
        "required": False,
        "description": "The id of the last item of the previous page: the page starts right after it "
        "(a keyset page, fast at any depth).",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    },
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
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
    },
    "servers": [{"url": "/"}],
    "tags": [
        {"name": "Webhook", "description": "Public intake, authenticated by the source's webhook token."},
        {"name": "Operators"},
        {"name": "Sources", "description": "Channels, their webhook tokens and their weight tables."},
        {"name": "Contacts"},
        {"name": "Leads"},
        {"name": "Meta"},
    ],
    "security": [{"bearerAuth": []}],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "responses": RESPONSES,
        "parameters": PARAMETERS,
        "securitySchemes": {
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
                "description": "The same token as a query parameter, for form builders that cannot "
                "set headers.",
            },
        },
    },
}


@cache
def _frozen() -> dict:
    return copy.deepcopy(DOCUMENT)


def openapi_document() -> dict:
    """A copy of the document, safe to change."""
    return copy.deepcopy(_frozen())
