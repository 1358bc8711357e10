"""POST /webhooks/<source_key>: the public intake of site forms.

Browsers get two more things (see `for_browsers`): CORS for the origins a
source allows, and for a plain HTML form post to a source with a thank-you
URL, a 303 to it (or a small error page) instead of JSON.
"""

from __future__ import annotations

from flask import Blueprint, after_this_request, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from ..api.serializers import intake_body
from ..core.errors import error_response
from ..core.extensions import db, limiter
from ..core.request_context import set_request_actor
from ..domain.errors import NotFound
from ..services import deliveries
from ..services.intake import IdempotencyKeyReused, WebhookSource, WrongToken, register_contact
from ..services.site_forms import site_form, site_form_of
from .reading import FORM_TYPES, Incoming, Reader
from .visitor import page_for_visitor

bp = Blueprint("webhooks", __name__)

PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "POST",
    "Access-Control-Allow-Headers": "Content-Type, X-Webhook-Token, Idempotency-Key",
    # Short, so that an origin removed from a source stops being pre-approved soon.
    "Access-Control-Max-Age": "600",
}


def _rate_limit() -> str:
    return current_app.config["CRM_WEBHOOK_RATE_LIMIT"] or "1000000/second"


def _rate_limit_off() -> bool:
    return not current_app.config["CRM_WEBHOOK_RATE_LIMIT"]


# The limit is the blueprint's (the webhook and its CORS preflight): checked in the
# limiter's before_request hook, which costs nothing when the limit is off
# (RATELIMIT_ENABLED follows CRM_WEBHOOK_RATE_LIMIT), unlike a route decorator.
limiter.limit(_rate_limit, exempt_when=_rate_limit_off)(bp)


@bp.route("/webhooks/<source_key>", methods=["OPTIONS"])
def preflight(source_key: str):
    """CORS preflight: 204; the CORS headers themselves are added by `for_browsers`."""
    return "", 204


@bp.post("/webhooks/<source_key>", provide_automatic_options=False)
def receive(source_key: str):
    set_request_actor(f"webhook {source_key[:64]}")
    token = request.headers.get("X-Webhook-Token") or request.args.get("token") or ""
    # The body is read before the database is touched, so the source, the
    # token and the contact take one transaction; how it is interpreted
    # depends on the source's format (reading.py).
    reader = g.webhook_reader = Reader(Incoming(), request.headers.get("Idempotency-Key"))
    try:
        result = register_contact(
            db.engine, WebhookSource(source_key, token), reader, current_app.extensions["crm_rng"],
            answer=intake_body,
        )
    except NotFound as exc:
        return error_response(404, exc.message)
    except WrongToken as exc:
        return error_response(401, exc.message)
    except IdempotencyKeyReused as exc:  # the key came first with another body: 422, nothing of it shown
        _record(reader, 422)
        return error_response(422, exc.message, "validation_error", exc.fields)
    if result is None:
        _record(reader, _status(reader.answer))
        return reader.answer
    if reader.stored_delivery is not None:
        status, contact_id = (200, None) if result.replayed else (reader.stored_status, result.contact.id)
        _log_delivery(reader.source_id, status, reader.stored_delivery, contact_id)
    if reader.vk:
        return reader.answer  # "ok", stored or repeated
    # Built after the commit, not while SQLite's writer turn is held.
    body = result.answer if result.answer is not None else intake_body(result)
    return body, 200 if result.replayed else reader.stored_status


def _record(reader: Reader, status: int) -> None:
    """The source's delivery row for a request that stored nothing."""
    if reader.source_id is None or reader.delivery is None:
        return  # the source or the token was refused first
    _log_delivery(reader.source_id, status, reader.delivery)


def _log_delivery(
    source_id: int, status: int, delivery: deliveries.Delivery, contact_id: int | None = None
) -> None:
    """Hand the delivery row to the process's log; a full batch is written once the answer has gone."""
    engine = db.engine
    if deliveries.later(engine, source_id, status, delivery, contact_id):

        @after_this_request
        def write_batch_when_answered(response):
            response.call_on_close(lambda: deliveries.flush_quietly(engine))
            return response


def _status(answer) -> int:
    return answer[1] if isinstance(answer, tuple) else answer.status_code


@bp.after_request
def for_browsers(response):
    """CORS headers for an allowed Origin; a 303 or an HTML page for a plain form post.

    Runs on every answer of this blueprint (errors and 429 included). A
    request with no Origin header that is not a plain form post (every JSON
    integration) returns at once: no query. Otherwise the settings the
    intake read with the source, or, when it did not get that far, one
    indexed read of them (see services/site_forms.py).
    """
    origin = request.headers.get("Origin")
    page = request.method == "POST" and _plain_form_post()
    if not origin and not page:
        return response
    settings = _site_form()
    if settings is not None and page and settings.thank_you_url:
        response = page_for_visitor(response, settings.thank_you_url)
    response.vary.add("Origin")
    if settings is None:
        return response
    if origin and origin in settings.origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        if request.method == "OPTIONS":
            response.headers.update(PREFLIGHT_HEADERS)
    return response


def _plain_form_post() -> bool:
    """A form's body from a client that does not rank JSON above HTML (a browser's form)."""
    if request.mimetype not in FORM_TYPES:
        return False
    accept = request.accept_mimetypes
    return accept.quality("application/json") <= accept.quality("text/html")


def _site_form():
    reader = g.get("webhook_reader")
    if reader is not None and reader.source is not None:  # read with the source: no second query
        return site_form_of(reader.source.allowed_origins, reader.source.thank_you_url)
    source_key = (request.view_args or {}).get("source_key", "")
    try:
        return site_form(db.session, source_key)
    except SQLAlchemyError:
        # The answer was already decided; without the settings it goes out as JSON without CORS.
        db.session.rollback()
        current_app.logger.warning("webhook: could not read the site form settings", exc_info=True)
        return None
