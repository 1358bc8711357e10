"""Reading a webhook request in its source's format (contract §2 and §2a).

The body is read (bounded) and parsed by content type before the database is
touched; how it is interpreted depends on the source, so `Reader` is called by
the intake once the source is read and its token checked
(services/intake.py, `Read`). It answers what to store, or None with the
answer in `reader.answer` (a refusal, Tilda's connection check, VK's
confirmation). Errors keep the documented order: the source's and the
token's first, then the body's.
"""

from __future__ import annotations

import hashlib
import hmac
import io

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from ..core.errors import error_response
from ..core.json_body import parse_json
from ..domain.errors import ValidationError
from ..domain.form_body import decode_form
from ..domain.form_reading import read_site_form
from ..domain.identifiers import INTAKE_FIELDS, parse_contact_input
from ..domain.vk import CONFIRMATION, LEAD_EVENT, read_vk
from ..services.assignment import IntakeSource
from ..services.deliveries import Delivery, shown_body
from ..services.intake import FormExtras, Submission

MAX_BODY = 64 * 1024
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_IDEMPOTENCY_KEY = 255


def too_large():
    return error_response(413, f"Body is larger than {MAX_BODY // 1024} KiB.")


class Incoming:
    """The request's body, read once: `raw` bytes and `body` (a JSON value, or form pairs), or `failure`."""

    def __init__(self) -> None:
        self.raw: bytes | None = None
        self.body: object = None
        self.failure = None
        self.mimetype = request.mimetype
        if request.content_length is not None and request.content_length > MAX_BODY:
            self.failure = too_large()
        elif self.mimetype != "application/json" and self.mimetype not in FORM_TYPES:
            self.failure = error_response(
                415, "Send application/json, application/x-www-form-urlencoded or multipart/form-data."
            )
        else:
            self._read()

    def _read(self) -> None:
        try:
            raw = _read_limited()
        except RequestEntityTooLarge:
            raw = None
        if raw is None:
            self.failure = too_large()
            return
        self.raw = raw
        if self.mimetype in FORM_TYPES:
            try:
                self.body = _form_pairs(raw, self.mimetype)
            except RequestEntityTooLarge:
                self.failure = too_large()
            return
        try:
            self.body = parse_json(raw)
        except (ValueError, RecursionError):
            self.failure = error_response(400, "Body is not valid JSON.")
            return
        if not isinstance(self.body, dict):
            self.failure = error_response(400, "Body must be a JSON object.")


def _read_limited() -> bytes | None:
    """The raw body, or None when it exceeds MAX_BODY.

    Read by hand because a chunked body has no Content-Length, and Werkzeug
    would silently cut it at the limit instead of refusing it.
    """
    raw = request.stream.read(MAX_BODY + 1)
    return None if len(raw) > MAX_BODY else raw


def _form_pairs(raw: bytes, mimetype: str) -> list[tuple[str, str]]:
    """A form's fields in order, repeats kept (files are not fields)."""
    if mimetype == "application/x-www-form-urlencoded":
        return decode_form(raw)  # UTF-8, or windows-1251 when that is not (§2a)
    environ = dict(request.environ)
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ.update({"wsgi.input": io.BytesIO(raw), "CONTENT_LENGTH": str(len(raw))})
    return list(Request(environ).form.items(multi=True))


class Reader:
    """The intake's `Read` for one webhook request (see the module's docstring)."""

    def __init__(self, incoming: Incoming, idempotency_key: str | None) -> None:
        self.incoming = incoming
        self.idempotency_key = idempotency_key
        self.answer = None
        self.source_id: int | None = None
        self.delivery: Delivery | None = None  # what to record when nothing is stored
        self.stored_delivery: Delivery | None = None  # ... and when a contact is stored (or replayed)
        self.vk = False
        self.stored_status = 201  # the answer's status when a contact is stored
        self.source: IntakeSource | None = None  # as the intake read it (its browser settings too)

    def __call__(self, source: IntakeSource) -> Submission | None:
        self.source_id = source.id
        self.source = source
        self.vk = source.form_format == "vk"
        incoming = self.incoming
        self.delivery = Delivery(body=shown_body(_shown(incoming), incoming.raw))
        if incoming.failure is not None:
            self.answer = incoming.failure
            return None
        if self.vk:
            return self._vk(source)
        key_problem = _key_problem(self.idempotency_key)
        if key_problem is not None:
            self.answer = key_problem
            return None
        if source.form_format == "site_form":
            return self._site_form(source)
        return self._standard()

    def _standard(self) -> Submission | None:
        """§2: the five fields, unknown ones ignored; a field that is not valid refuses the request."""
        body = self.incoming.body
        fields = body if isinstance(body, dict) else _first_of_each(body)
        try:
            data = parse_contact_input(fields, current_app.config["CRM_PHONE_REGION"])
        except ValidationError as exc:
            self.answer = error_response(422, exc.message, "validation_error", exc.fields)
            return None
        recognised = {name: name for name in INTAKE_FIELDS if fields.get(name) not in (None, "")}
        delivery = self.stored_delivery = Delivery(recognised=recognised, body=self.delivery.body)
        return Submission(data, self.idempotency_key, delivery=delivery)

    def _site_form(self, source: IntakeSource) -> Submission | None:
        reading = read_site_form(
            self.incoming.body,
            field_map=source.field_map,
            region=current_app.config["CRM_PHONE_REGION"],
            delivery_header=request.headers.get("X-Delivery-Id"),
        )
        if _from_wordpress():
            # Elementor's webhook action (WordPress) takes anything but exactly 200 for a
            # failure and shows the visitor an error (docs/senders/elementor.md).
            self.stored_status = 200
        if reading.is_connection_check:
            self.answer = ({"ok": True, "message": "Connection check received; nothing was stored."}, 200)
            return None
        if reading.empty:
            message = "The form sent no field with anything in it."
            self.answer = error_response(422, message, "validation_error", {"body": [message]})
            return None
        return self._submission(reading, self.idempotency_key or reading.delivery_id)

    def _vk(self, source: IntakeSource) -> Submission | None:
        body = self.incoming.body
        if not isinstance(body, dict):
            self.answer = error_response(400, "Body must be a JSON object.")
            return None
        event = read_vk(body, field_map=source.field_map, region=current_app.config["CRM_PHONE_REGION"])
        if event.type == CONFIRMATION:
            self.answer = _text(source.vk_confirmation or "", 200)
            return None
        secret = (event.secret or "").encode()
        if not event.secret or not hmac.compare_digest(secret, source.webhook_token.encode()):
            self.answer = error_response(401, "Missing or wrong secret.")
            self.delivery = None  # did not pass the token check: not a delivery
            return None
        self.answer = _text("ok", 200)  # what VK expects of every accepted request, stored or not
        self.stored_status = 200
        if event.type != LEAD_EVENT or event.lead is None or event.lead.empty:
            return None
        return self._submission(event.lead, _vk_key(event.event_id))

    def _submission(self, reading, key: str | None) -> Submission:
        extras = FormExtras(reading.form_fields, reading.utm, reading.page_url, list(reading.warnings))
        delivery = self.stored_delivery = Delivery(
            recognised=reading.recognised,
            kept=list(reading.form_fields),
            warnings=list(reading.warnings),
            body=self.delivery.body,
            stored_status=self.stored_status,
        )
        return Submission(reading.contact, key, extras, delivery)


def _from_wordpress() -> bool:
    """WordPress's HTTP API names itself `WordPress/<version>; <site URL>`."""
    return request.user_agent.string.startswith("WordPress/")


def _key_problem(key: str | None):
    if key is not None and (not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or "\x00" in key):
        return error_response(
            422,
            "Idempotency-Key must be 1 to 255 characters.",
            fields={"Idempotency-Key": ["Must be 1 to 255 characters."]},
        )
    return None


def _first_of_each(pairs) -> dict[str, str]:
    """A §2 form's fields: one value per name, the first, as Werkzeug's form reads them."""
    fields: dict[str, str] = {}
    for name, value in pairs or ():
        fields.setdefault(name, value)
    return fields


def _shown(incoming: Incoming):
    """The parsed body to keep with a delivery: a JSON object or form pairs; else the raw text."""
    if isinstance(incoming.body, dict) or incoming.mimetype in FORM_TYPES:
        return incoming.body
    return None


def _vk_key(event_id: str | None) -> str | None:
    """VK's event id as the intake's idempotency key (a repeated event stores nothing)."""
    if not event_id:
        return None
    key = f"vk:{event_id}"
    return key if len(key) <= MAX_IDEMPOTENCY_KEY else "vk:" + hashlib.sha256(event_id.encode()).hexdigest()


def _text(text: str, status: int):
    return text, status, {"Content-Type": "text/plain; charset=utf-8"}
