"""What the webhook and the API answer, declared once as pydantic models.

Each model reads the ORM object it describes (`from_attributes`) and dumps
it as JSON-ready data; the OpenAPI document takes its schemas from the same
models (crm_web/api/openapi.py). The functions at the end are what the
routes and the intake call.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from .. import models
from ..domain.choice import shares
from ..domain.form_body import TARGETS, UTM_KEYS
from ..domain.form_reading import FORM_FORMATS, MAX_VK_CONFIRMATION
from ..domain.outcomes import OUTCOMES
from ..domain.site_forms import origins_from_text
from ..domain.weights import format_weight
from ..services.contacts import STATUSES
from ..services.operators import MAX_LOAD_LIMIT
from ..services.pagination import MAX_PER_PAGE, Page
from ..services.sources import KEY_RE
from ..services.validation import MAX_ID

STAMP = "2026-11-25T09:30:00.123456+00:00"
# What format_weight writes for a weight in 0.01..999.99.
WEIGHT_TEXT = r"^[0-9]{1,3}\.[0-9]{2}$"

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Stamp = Annotated[
    datetime,
    PlainSerializer(datetime.isoformat, return_type=str),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "description": "ISO 8601 with a UTC offset."},
        mode="serialization",
    ),
]
Weight = Annotated[
    Decimal,
    PlainSerializer(format_weight, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": WEIGHT_TEXT, "description": "Two decimals, 0.01..999.99."},
        mode="serialization",
    ),
]


class Out(BaseModel):
    """An answer: read from the ORM object's attributes."""

    model_config = ConfigDict(from_attributes=True)


def _none_as(empty: type):
    """A stored NULL (or a missing value) read as an empty dict or list."""
    return BeforeValidator(lambda value: empty() if value is None else value)


# What a site form sent besides the five fields, as {name: text} in the order received.
FormFields = Annotated[dict[str, str], _none_as(dict)]
Utm = Annotated[
    dict[str, str],
    _none_as(dict),
    WithJsonSchema({
        "type": "object",
        "propertyNames": {"enum": list(UTM_KEYS)},
        "additionalProperties": {"type": "string"},
        "description": "The attribution marks found (only those): " + ", ".join(UTM_KEYS) + ".",
    }),
]
Warnings = Annotated[list[str], _none_as(list)]


class OperatorRef(Out):
    id: Id
    name: str


class Contact(Out):
    model_config = ConfigDict(json_schema_extra={"example": {
        "id": 17, "lead_id": 5, "source_id": 2, "status": "assigned",
        "operator": {"id": 3, "name": "Anna"}, "created_at": STAMP, "name": "Ivan",
        "message": "Call me back", "assigned_at": STAMP, "closed_at": None, "outcome": None,
        "form_fields": {"City": "Kazan"}, "utm": {"utm_source": "google", "utm_medium": "cpc"},
        "page_url": "https://www.example.com/offer?utm_source=google&utm_medium=cpc", "warnings": [],
    }})
    id: Id
    lead_id: Id
    source_id: Id
    status: Literal[STATUSES] = Field(  # type: ignore[valid-type]
        description="unassigned: open, no operator; assigned: open with an operator; closed."
    )
    operator: OperatorRef | None
    created_at: Stamp
    name: str | None
    message: str | None
    assigned_at: Stamp | None
    closed_at: Stamp | None
    outcome: Literal[OUTCOMES] | None = Field(  # type: ignore[valid-type]
        description="How it ended: " + ", ".join(OUTCOMES) + "; null while it is active."
    )
    form_fields: FormFields = Field(
        description="What the form sent besides the five fields, {name: text} in the order received; "
        "{} when nothing."
    )
    utm: Utm
    page_url: str | None = Field(description="The page the form was sent from, when the sender said.")
    warnings: Warnings = Field(
        description="What could not be read (an unreadable phone or email, no identifier at all); [] when "
        "nothing."
    )


class ClosedContact(Contact):
    """A contact just closed."""

    also_closed: list[Id] | SkipJsonSchema[None] = Field(
        None,
        description="Only when also_close_same_source was sent: the ids of the lead's other contacts "
        "from the same source closed as spam with this one.",
    )


class Note(Out):
    model_config = ConfigDict(json_schema_extra={"example": {
        "id": 8, "text": "Asked to call back after 6 pm.", "author": "anna@example.com", "created_at": STAMP,
    }})
    id: Id
    text: str
    author: str = Field(description="The email of the staff user who wrote it.")
    created_at: Stamp


class LeadRef(Out):
    id: Id
    created: bool = Field(description="True when this request created the lead.")


class IntakeResult(Out):
    model_config = ConfigDict(json_schema_extra={"example": {
        "contact": Contact.model_config["json_schema_extra"]["example"],
        "lead": {"id": 5, "created": False},
        "operator_available": True,
    }})
    contact: Contact
    lead: LeadRef
    operator_available: bool = Field(
        description="False when nobody could take the contact: it waits in the queue."
    )


class Operator(Out):
    model_config = ConfigDict(json_schema_extra={"example": {
        "id": 3, "name": "Anna", "is_active": True, "max_load": 10, "load": 4, "created_at": STAMP,
    }})
    id: Id
    name: str
    is_active: bool
    max_load: int = Field(ge=0, le=MAX_LOAD_LIMIT)
    load: int = Field(ge=0, validation_alias="active_load", description="Open contacts held now.")
    created_at: Stamp


class OperatorDeleted(Out):
    model_config = ConfigDict(json_schema_extra={"example": {"deleted": 3, "contacts_returned_to_queue": 4}})
    deleted: Id
    contacts_returned_to_queue: int = Field(ge=0)


# Only supervisors see these fields of a source: its secret and how forms connect to it.
SUPERVISOR_FIELDS = {
    "webhook_token", "allowed_origins", "thank_you_url", "form_format", "field_map", "vk_confirmation",
}
_SOURCE = {"id": 2, "name": "Site form", "key": "site-form", "is_active": True, "created_at": STAMP}


class Source(Out):
    model_config = ConfigDict(json_schema_extra={"example": _SOURCE})
    id: Id
    name: str
    key: str = Field(description="In /webhooks/{key}.", json_schema_extra={"pattern": KEY_RE.pattern})
    is_active: bool
    created_at: Stamp
    webhook_token: str | SkipJsonSchema[None] = Field(
        None, description="The secret the webhook expects. This and the fields below: supervisors only."
    )
    allowed_origins: Annotated[list[str] | SkipJsonSchema[None], BeforeValidator(origins_from_text)] = Field(
        None, description="Origins (scheme://host[:port]) whose pages may post to the webhook (CORS)."
    )
    thank_you_url: str | None = Field(
        None, description="Where a plain HTML form post is redirected (303) after it is saved."
    )
    form_format: Literal[FORM_FORMATS] | SkipJsonSchema[None] = Field(  # type: ignore[valid-type]
        None, description="What the webhook receives: standard, site_form or vk."
    )
    field_map: Annotated[
        dict[str, Literal[TARGETS]] | SkipJsonSchema[None], _none_as(dict)  # type: ignore[valid-type]
    ] = Field(None, description="{incoming field name: target}; {} when none.")
    vk_confirmation: Annotated[str, Field(max_length=MAX_VK_CONFIRMATION)] | None = Field(
        None, description="The string returned to VK's confirmation request."
    )


class SourceWithToken(Source):
    """A source as a supervisor reads it."""

    model_config = ConfigDict(
        json_schema_serialization_defaults_required=True,
        json_schema_extra={"example": {
            **_SOURCE,
            "webhook_token": "3q2-7wEAAAAx9Jd0LzF4bmRvbS10b2tlbi1leGFtcGxlAA",
            "allowed_origins": ["https://www.example.com"],
            "thank_you_url": "https://www.example.com/thanks",
            "form_format": "site_form",
            "field_map": {"your-city": "message"},
            "vk_confirmation": None,
        }},
    )


class DistributionRule(Out):
    operator_id: Id
    operator_name: str
    weight: Weight
    share: float = Field(ge=0, le=1, description="The weight's fraction of the source's total weight.")


class Distribution(Out):
    model_config = ConfigDict(json_schema_extra={"example": {"rules": [
        {"operator_id": 3, "operator_name": "Anna", "weight": "10.50", "share": 0.677419},
        {"operator_id": 4, "operator_name": "Boris", "weight": "5.00", "share": 0.322581},
    ]}})
    rules: list[DistributionRule]


class Lead(Out):
    model_config = ConfigDict(json_schema_extra={"example": {
        "id": 5, "external_id": None, "phone": "+79991234567", "email": "ivan@example.com",
        "name": "Ivan", "created_at": STAMP,
    }})
    id: Id
    external_id: str | None
    phone: str | None = Field(description="E.164.")
    email: str | None
    name: str | None
    created_at: Stamp


class LeadWithContacts(Lead):
    model_config = ConfigDict(json_schema_extra={"example": {
        **Lead.model_config["json_schema_extra"]["example"],
        "contacts": [Contact.model_config["json_schema_extra"]["example"]],
    }})
    contacts: list[Contact]


T = TypeVar("T")


class Paged(Out, Generic[T]):
    items: list[T]
    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=MAX_PER_PAGE)
    total: int = Field(ge=0, description="Exact up to 2,000; above that an estimate (3 significant digits).")


class OperatorPage(Paged[Operator]):
    pass


class SourcePage(Paged[Source]):
    pass


class ContactPage(Paged[Contact]):
    pass


class LeadPage(Paged[Lead]):
    pass


class NotePage(Paged[Note]):
    pass


# --- the answers, from ORM objects ------------------------------------------------------

def dump(model: type[BaseModel], value: Any, **options) -> dict:
    """`value` (an ORM object, or a dict of them) as `model` answers it."""
    return model.model_validate(value, from_attributes=True).model_dump(**options)


# What a site form adds to a contact (contract §2a); a record without them reads as none (None → {} / []).
_FORM_FIELDS = ("form_fields", "utm", "page_url", "warnings")
_CONTACT_FIELDS = tuple(
    name for name in Contact.model_fields if name not in ("operator", "outcome", *_FORM_FIELDS)
)


def _contact(contact, operator, outcome):
    """The contact as Contact reads it. `operator` (anything with id and name), when known, saves
    loading contact.operator; the intake's NewContact has none to load, and no outcome yet."""
    if operator is None and contact.operator_id is not None:
        return contact
    return {
        **{name: getattr(contact, name) for name in _CONTACT_FIELDS},
        **{name: getattr(contact, name, None) for name in _FORM_FIELDS},
        "operator": operator,
        "outcome": outcome,
    }


def contact_dict(contact: models.Contact, operator=None) -> dict:
    return dump(Contact, _contact(contact, operator, contact.outcome))


def closed_dict(contact: models.Contact, also_closed: list[int] | None) -> dict:
    """A contact just closed; `also_closed` only when the caller asked to close others too."""
    if also_closed is None:
        return contact_dict(contact)
    return {**contact_dict(contact), "also_closed": also_closed}


def note_dict(note: models.ContactNote) -> dict:
    return dump(Note, note)


def intake_body(result) -> dict:
    """The webhook's and the API's answer to a stored contact (services/intake.py's IntakeResult)."""
    if result.replayed:
        return result.replayed_answer
    contact = result.contact
    return dump(IntakeResult, {
        "contact": _contact(contact, result.operator, None),  # just created: open, no outcome
        "lead": {"id": contact.lead_id, "created": result.lead_created},
        "operator_available": contact.operator_id is not None,
    })


def operator_dict(operator: models.Operator) -> dict:
    return dump(Operator, operator)


def source_dict(source: models.Source, with_token: bool) -> dict:
    return dump(Source, source, exclude=None if with_token else SUPERVISOR_FIELDS)


def distribution_dict(rules: list[models.Distribution]) -> dict:
    share = shares({rule.operator_id: rule.weight for rule in rules})
    return dump(Distribution, {"rules": [
        {"operator_id": rule.operator_id, "operator_name": rule.operator.name, "weight": rule.weight,
         "share": round(share[rule.operator_id], 6)}
        for rule in rules
    ]})


def lead_dict(lead: models.Lead, with_contacts: bool = False) -> dict:
    return dump(LeadWithContacts if with_contacts else Lead, lead)


def page_dict(model: type[Paged], page: Page, exclude: Iterable[str] | None = None) -> dict:
    data = {"items": page.items, "page": page.page, "per_page": page.per_page, "total": page.total}
    return dump(model, data, exclude={"items": {"__all__": set(exclude)}} if exclude else None)
