"""POST /webhooks/<source_key>: the public intake of site forms."""

from __future__ import annotations

import io
import json

from flask import Blueprint, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from ..domain.identifiers import ContactInput, parse_contact_input
from ..extensions import db, limiter
from ..json_errors import error_response
from ..request_context import set_request_actor
from ..services.errors import NotFound, ValidationError
from ..services.intake import WrongToken, webhook_intake

bp = Blueprint("webhooks", __name__)

MAX_BODY = 64 * 1024
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_IDEMPOTENCY_KEY = 255


def _rate_limit() -> str:
    return current_app.config["CRM_WEBHOOK_RATE_LIMIT"] or "1000000/second"


def _rate_limit_off() -> bool:
    return not current_app.config["CRM_WEBHOOK_RATE_LIMIT"]


# The limit is the blueprint's (its only route is this one): checked in the
# limiter's before_request hook, which costs nothing when the limit is off
# (RATELIMIT_ENABLED follows CRM_WEBHOOK_RATE_LIMIT), unlike a route decorator.
limiter.limit(_rate_limit, exempt_when=_rate_limit_off)(bp)


@bp.post("/webhooks/<source_key>")
def receive(source_key: str):
    set_request_actor(f"webhook {source_key[:64]}")
    token = request.headers.get("X-Webhook-Token") or request.args.get("token") or ""
    # The request is read and checked before the database is touched, so
    # the source, the token and the contact take one transaction; its own
    # errors are answered after the source's and the token's, in the
    # documented order.
    key = request.headers.get("Idempotency-Key")
    data, failure = _prepare(key)
    try:
        result = webhook_intake(
            db.session, source_key, token, data, current_app.extensions["crm_rng"], idempotency_key=key
        )
    except NotFound as exc:
        return error_response(404, exc.message)
    except WrongToken as exc:
        return error_response(401, exc.message)
    if result is None:
        return failure
    return result.body, 200 if result.replayed else 201


def _prepare(key: str | None) -> tuple[ContactInput | None, object]:
    """The parsed request, or None and its error response (413, 415, 400, 422)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None, _too_large()
    fields, failure = _read_body()
    if failure is not None:
        return None, failure
    if key is not None and (not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or "\x00" in key):
        return None, error_response(
            422,
            "Idempotency-Key must be 1 to 255 characters.",
            fields={"Idempotency-Key": ["Must be 1 to 255 characters."]},
        )
    try:
        return parse_contact_input(fields, current_app.config["CRM_PHONE_REGION"]), None
    except ValidationError as exc:
        return None, error_response(422, exc.message, "validation_error", exc.fields)


def _too_large():
    return error_response(413, f"Body is larger than {MAX_BODY // 1024} KiB.")


def _read_limited() -> bytes | None:
    """The raw body, or None when it exceeds MAX_BODY.

    Read by hand because a chunked body has no Content-Length, and Werkzeug
    would silently cut it at the limit instead of refusing it.
    """
    raw = request.stream.read(MAX_BODY + 1)
    return None if len(raw) > MAX_BODY else raw


def _parse_form(raw: bytes):
    environ = dict(request.environ)
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ.update({"wsgi.input": io.BytesIO(raw), "CONTENT_LENGTH": str(len(raw))})
    return Request(environ).form


def _read_body():
    """The request's fields as a mapping, or an error response."""
    mimetype = request.mimetype
    if mimetype != "application/json" and mimetype not in FORM_TYPES:
        return None, error_response(
            415, "Send application/json, application/x-www-form-urlencoded or multipart/form-data."
        )
    try:
        raw = _read_limited()
    except RequestEntityTooLarge:
        raw = None
    if raw is None:
        return None, _too_large()
    if mimetype in FORM_TYPES:
        try:
            return _parse_form(raw), None
        except RequestEntityTooLarge:
            return None, _too_large()
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        return None, error_response(400, "Body is not valid JSON.")
    if not isinstance(payload, dict):
        return None, error_response(400, "Body must be a JSON object.")
    return payload, None
