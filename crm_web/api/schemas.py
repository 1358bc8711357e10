"""The API's own request shapes (query strings, staff intake, assignment) and the error and health shapes.

Bodies the services take are declared with them (services/operators.py,
services/sources.py); answers in crm_web/api/serializers.py. Error and health
bodies are built by crm_web/core/errors.py and crm_web/core/health.py: declared
here for the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SkipValidation,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from ..domain import errors
from ..domain.form_reading import MAX_UTM
from ..domain.identifiers import MAX_EXTERNAL_ID, MAX_MESSAGE, MAX_NAME, MAX_RAW_PHONE, parse_contact_input
from ..domain.messages import N_
from ..domain.outcomes import DEFAULT_OUTCOME, MAX_NOTE, OUTCOMES, parse_note, parse_outcome
from ..domain.search import MAX_QUERY
from ..services.contacts import STATUSES
from ..services.leads import search_identifiers
from ..services.pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE
from ..services.validation import MAX_ID, Between, Expect, IdOf, InputModel, Invalid, Parsed, together

MAX_PAGE = 10_000_000


# --- query strings ----------------------------------------------------------------------


def _whole_number(raw: object) -> object:
    if isinstance(raw, str):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(N_("Must be a whole number.")) from None
    return raw


def QueryInt(low: int, high: int):  # noqa: N802 - a type
    return Annotated[int, BeforeValidator(_whole_number), Between(low, high)]


def _text_within(max_len: int):
    def read(raw: object) -> object:
        if not isinstance(raw, str):
            return raw  # refused by the type
        text = raw.strip()
        if "\x00" in text:
            raise ValueError(N_("Invalid character."))
        if len(text) > max_len:
            raise ValueError(N_("At most %(max)d characters.", max=max_len))
        return text or None

    return read


def QueryText(max_len: int):  # noqa: N802 - a type
    """Text, trimmed: at most `max_len` characters, no NUL; blank is not given."""
    return Annotated[Annotated[str, Field(max_length=max_len)] | None, BeforeValidator(_text_within(max_len))]


class Query(BaseModel):
    """Query parameters: text; an empty one is not given; others are ignored."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _blank_is_not_given(cls, data: Any) -> Any:
        return {name: value for name, value in data.items() if value != ""}


class PageQuery(Query):
    page: QueryInt(1, MAX_PAGE) = Field(1, description="1-based page number.")
    per_page: QueryInt(1, MAX_PER_PAGE) = Field(
        DEFAULT_PER_PAGE, description=f"Items per page, at most {MAX_PER_PAGE} (above is 422)."
    )


class KeysetQuery(PageQuery):
    after: QueryInt(1, MAX_ID) | None = Field(
        None,
        description="The id of the last item of the previous page: the page starts right after it "
        "(a keyset page, fast at any depth).",
    )


class SearchText(BaseModel):
    q: QueryText(MAX_QUERY) = Field(
        None,
        description="Search (as the list page's box): names and text in any letter case (`ё` as `е`), "
        "any part of an email, a phone by any run of 4 or more of its digits (spaces, dashes, brackets "
        "and `+` ignored); fewer than 3 characters find nothing but an exact external id.",
    )


class ContactQuery(KeysetQuery, SearchText):
    status: Annotated[
        Literal[STATUSES],  # type: ignore[valid-type]
        Expect(lambda value: value in STATUSES, f"Must be one of {', '.join(STATUSES)}."),
    ] | None = Field(None, description="Only contacts in this status.")
    operator_id: QueryInt(1, MAX_ID) | None = Field(None, description="Only items of this operator.")
    source_id: QueryInt(1, MAX_ID) | None = Field(None, description="Only items of this source.")
    lead_id: QueryInt(1, MAX_ID) | None = Field(None, description="Only items of this lead.")
    utm_source: QueryText(MAX_UTM) = Field(
        None, description="Only contacts whose utm_source is exactly this (as the form sent it, trimmed)."
    )
    outcome: Annotated[
        Literal[OUTCOMES],  # type: ignore[valid-type]
        Expect(lambda value: value in OUTCOMES, f"Must be one of {', '.join(OUTCOMES)}."),
    ] | None = Field(None, description="Only contacts closed with this outcome.")


class LeadQuery(KeysetQuery, SearchText):
    phone: str | None = Field(None, description="A phone number in any format the intake takes.")
    email: str | None = Field(None, description="An email address (case does not matter).")
    external_id: str | None = Field(None, description="An external id (trimmed).")
    _filters: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _normalised(cls, data: Any, handler, info) -> LeadQuery:
        """The identifiers normalised like intake's (services/leads.py), reported with the paging's errors."""
        problems: dict[str, list[str]] = {}
        try:
            filters = search_identifiers(
                data.get("phone"), data.get("email"), data.get("external_id"), info.context["region"]
            )
        except errors.ValidationError as exc:
            filters, problems = {}, exc.fields
        query = together(handler, data, problems)
        query._filters = filters
        return query

    @property
    def filters(self) -> dict[str, str]:
        return self._filters


# --- bodies -------------------------------------------------------------------------------


def _intake_text(max_len: int | None, description: str):
    text = Annotated[str, Field(max_length=max_len)] if max_len else str
    # Read by the domain (parse_contact_input), not by pydantic: one rule, with its messages.
    return Annotated[text | None, SkipValidation, Field(description=description)]


class WebhookFields(InputModel):
    """At least one of external_id, phone and email (null or blank counts as not given). Unknown fields are
    ignored."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={
        "example": {"phone": "+7 999 123-45-67", "email": "Ivan@Example.com", "name": "Ivan"},
    })
    external_id: _intake_text(MAX_EXTERNAL_ID, "Your id of the client; trimmed, 1 to 255 characters.") = None
    phone: _intake_text(
        MAX_RAW_PHONE, "Parsed with the default region (CRM_PHONE_REGION); stored in E.164."
    ) = None
    email: _intake_text(None, "Trimmed and lower-cased; must be a syntactically valid address.") = None
    name: _intake_text(MAX_NAME, f"At most {MAX_NAME} characters.") = None
    message: _intake_text(MAX_MESSAGE, f"At most {MAX_MESSAGE:,} characters.") = None
    _input: Any = PrivateAttr(None)

    @model_validator(mode="wrap")
    @classmethod
    def _normalised(cls, data: Any, handler, info):
        problems: dict[str, list[str]] = {}
        contact = None
        if isinstance(data, dict):
            try:
                contact = parse_contact_input(data, info.context["region"])
            except errors.ValidationError as exc:
                problems = exc.fields
        model = together(handler, data, problems)
        model._input = contact
        return model

    @property
    def contact(self):
        """The request as the intake takes it (domain.identifiers.ContactInput)."""
        return self._input


SourceId = IdOf("Must be the id of a source.")


class ContactCreate(WebhookFields):
    """Staff intake. At least one of external_id, phone and email (null or blank counts as not given).
    Other fields are ignored."""

    model_config = ConfigDict(json_schema_extra={
        "example": {"source_id": 2, "phone": "8 (999) 123-45-67", "name": "Ivan", "message": "Call me back"},
    })
    source_id: SourceId = Field(description="An existing, enabled source (else 422).")


class Assign(InputModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"example": {"operator_id": 3}})
    operator_id: IdOf("Must be the id of an operator.")


def _domain(parse):
    """A domain parser of one value (raising ValidationError) as a field rule's parser (raising Invalid)."""
    def read(value: object) -> object:
        try:
            return parse(value)
        except errors.ValidationError as exc:
            raise Invalid(*[m for messages in exc.fields.values() for m in messages]) from None

    return read


def _note_text(value: object) -> str:
    if value is None:
        raise Invalid(N_("This field is required."))
    return parse_note(value)


def _optional_note(value: object) -> str | None:
    return None if value is None else parse_note(value)


NOTE_TEXT = f"1 to {MAX_NOTE:,} characters once trimmed; stored trimmed."


class CloseBody(InputModel):
    """Every field is optional, and so is the body itself: none closes the contact as done. Other fields
    are ignored."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={
        "example": {"outcome": "no_answer", "note": "Called twice, no answer; will try tomorrow."},
    })
    outcome: Annotated[str | None, Parsed(_domain(parse_outcome), json_schema={
        "enum": [*OUTCOMES, None],
        "description": f"How it ended: {', '.join(OUTCOMES)}; null or absent is {DEFAULT_OUTCOME}.",
    })] = None
    note: Annotated[str | None, Parsed(_domain(_optional_note), json_schema={
        "type": ["string", "null"], "minLength": 1, "maxLength": MAX_NOTE,
        "description": f"Stored as a note of the contact, by the caller. {NOTE_TEXT}",
    })] = None
    also_close_same_source: bool = Field(
        False,
        description="An extension, with outcome spam only (else 422): also close the lead's other open "
        "contacts from the same source as spam (an operator user: those it holds), in the same transaction; "
        "their ids come back in `also_closed`.",
    )


class NoteCreate(InputModel):
    """Other fields are ignored."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={
        "example": {"text": "Asked to call back after 6 pm."},
    })
    text: Annotated[str, Parsed(_domain(_note_text), json_schema={
        "type": "string", "minLength": 1, "maxLength": MAX_NOTE, "description": NOTE_TEXT,
    })]


# --- answers built elsewhere ----------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(
        min_length=1,
        description="Machine-readable: not_found, conflict, duplicate_name, operator_full, "
        "validation_error, ...",
    )
    message: str = Field(min_length=1, description="For people.")
    request_id: str | SkipJsonSchema[None] = Field(None, description="The request's id, as in the logs.")


class Error(BaseModel):
    """The one error shape of the webhook and the API. `fields` only on 422."""

    model_config = ConfigDict(json_schema_extra={
        "example": {"error": {"code": "not_found", "message": "Operator 9 not found."}},
    })
    error: ErrorDetail


class FieldErrors(ErrorDetail):
    fields: dict[str, list[str]] = Field(min_length=1)


class ValidationError(BaseModel):
    """422: which fields are wrong and why (a field may be `_body`, `rules[0].weight`...)."""

    model_config = ConfigDict(json_schema_extra={"example": {"error": {
        "code": "validation_error",
        "message": "Some fields are invalid.",
        "fields": {"phone": ["Not a possible phone number."]},
    }}})
    error: FieldErrors


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"status": "ok"}})
    status: Literal["ok", "unavailable"]
    database: str | SkipJsonSchema[None] = None
