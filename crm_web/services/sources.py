"""Sources (channels), their webhook tokens and their weight tables."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictBool, StrictStr, model_validator
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, joinedload

from ..domain.errors import Conflict, NotFound, ValidationError
from ..domain.form_body import MAX_FIELD_MAP, MAX_FIELD_NAME, TARGETS, validate_field_map
from ..domain.form_reading import FORM_FORMATS, MAX_VK_CONFIRMATION
from ..domain.keys import KEY_RE, MAX_KEY, key_from_name, numbered_key
from ..domain.messages import N_
from ..domain.site_forms import MAX_THANK_YOU_URL, origins_to_text, parse_origins, parse_thank_you_url
from ..domain.weights import MAX_WEIGHT, MIN_WEIGHT, WEIGHT_PATTERN, format_weight, parse_weight
from ..models import Distribution, Operator, Source, utcnow
from .audit import record
from .drain import mark_capacity_freed
from .editing import add_audited, update_audited
from .pagination import Page, paginate
from .tx import write_transaction
from .validation import Expect, IdOf, InputModel, Invalid, Matches, Parsed, Text, TextOf, check, get_by_id

KEY_HELP = N_("Use 1-64 lower-case letters, digits, '-' or '_', starting and ending with a letter or digit.")
# allowed_origins: CORS origins of site forms (a list); thank_you_url: where plain form posts go;
# form_format, field_map, vk_confirmation: what the webhook receives (contract §2a).
FIELDS = {
    "name", "key", "is_active", "allowed_origins", "thank_you_url", "form_format", "field_map",
    "vk_confirmation",
}
# Settings that null (or empty) clears, rather than leaves unchanged, in a PATCH.
SITE_FORM_FIELDS = ("allowed_origins", "thank_you_url", "field_map", "vk_confirmation")
_DUPLICATE = {
    "name": N_("A source with this name already exists."),
    "key": N_("A source with this key already exists."),
}


# --- what the API and the pages may send ------------------------------------------------


def _origins(value: object) -> list[str]:
    origins, problems = parse_origins(value or [])
    if problems:
        raise Invalid(*problems)
    return origins


def _thank_you_url(value: object) -> str | None:
    url, problems = parse_thank_you_url(value)
    if problems:
        raise Invalid(*problems)
    return url


def _field_map(value: object) -> dict[str, str] | None:
    """The map as stored: None when empty (it reads as {})."""
    try:
        return validate_field_map(value) or None
    except ValidationError as exc:
        raise Invalid(*exc.fields["field_map"]) from None


def _vk_confirmation(value: object) -> str | None:
    """Trimmed; null or blank clears it."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(N_("Must be a string."))
    value = value.strip()
    if "\x00" in value:
        raise Invalid(N_("Invalid character."))
    if len(value) > MAX_VK_CONFIRMATION:
        raise Invalid(N_("At most %(max)d characters.", max=MAX_VK_CONFIRMATION))
    return value or None


Name = TextOf(120)
Key = Annotated[StrictStr, Text(MAX_KEY), Matches(KEY_RE, KEY_HELP)]
Origins = Annotated[
    list[StrictStr] | None,
    Parsed(_origins),
    Field(description="Origins of the sites whose forms post to the webhook, e.g. "
          "\"https://www.example.com\" (no '*', at most 20). null or [] clears the list."),
]
ThankYouUrl = Annotated[
    Annotated[StrictStr, Field(max_length=MAX_THANK_YOU_URL)] | None,
    Parsed(_thank_you_url),
    Field(description="An absolute http(s) URL; plain HTML form posts are redirected there. null clears it."),
]

FormFormat = Annotated[
    Literal[FORM_FORMATS],  # type: ignore[valid-type]
    Expect(
        lambda value: value in FORM_FORMATS,
        N_("Must be one of %(choices)s.", choices=", ".join(FORM_FORMATS)),
    ),
]
FORM_FORMAT_HELP = (
    "What the webhook receives: standard (the webhook's own JSON fields), site_form (any form builder "
    "or site script: fields recognised by name, nothing refused for its content) or vk (VK lead forms "
    "through VK's Callback API)."
)
FieldMap = Annotated[
    dict[str, Literal[TARGETS]] | None,  # type: ignore[valid-type]
    Parsed(_field_map, json_schema={
        "type": ["object", "null"],
        "maxProperties": MAX_FIELD_MAP,
        "propertyNames": {"minLength": 1, "maxLength": MAX_FIELD_NAME},
        "additionalProperties": {"enum": list(TARGETS)},
        "description": f"{{incoming field name: target}}, the target one of {', '.join(TARGETS)}; at most "
        f"{MAX_FIELD_MAP} entries. It wins over recognition by name in every format. null or {{}} clears it.",
    }),
]
VkConfirmation = Annotated[
    Annotated[StrictStr, Field(max_length=MAX_VK_CONFIRMATION)] | None,
    Parsed(_vk_confirmation),
    Field(description="The string VK asks the webhook to return to confirm the address (type "
          "\"confirmation\"); trimmed. null or \"\" clears it."),
]


class SourceCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={
        "example": {"name": "Site form", "key": "site-form", "allowed_origins": ["https://www.example.com"]}
    })
    name: Name = Field(description="Trimmed; unique among sources (409).")
    key: Key | None = Field(None, description="Unique (409); defaults to the name transliterated to Latin "
                            "(\"Сайт салона\" -> \"sait-salona\"), with -2, -3... added when taken.")
    is_active: StrictBool = True
    allowed_origins: Origins = None
    thank_you_url: ThankYouUrl = None
    form_format: FormFormat = Field("standard", description=FORM_FORMAT_HELP)
    field_map: FieldMap = None
    vk_confirmation: VkConfirmation = None


class SourcePatch(InputModel):
    """Only the fields given change; null means unchanged, except for the site form settings
    (allowed_origins, thank_you_url, field_map, vk_confirmation), which null clears."""

    model_config = ConfigDict(json_schema_extra={"example": {"is_active": False, "thank_you_url": None}})
    name: Name | None = None
    key: Key | None = None
    is_active: StrictBool | None = None
    allowed_origins: Origins = None
    thank_you_url: ThankYouUrl = None
    form_format: FormFormat | None = Field(None, description=FORM_FORMAT_HELP)
    field_map: FieldMap = None
    vk_confirmation: VkConfirmation = None


Weight = Annotated[Decimal, Parsed(parse_weight, json_schema={
    "type": ["string", "number"],
    "pattern": f"^{WEIGHT_PATTERN}$",
    "minimum": float(MIN_WEIGHT),
    "maximum": float(MAX_WEIGHT),
    "description": f"{MIN_WEIGHT}..{MAX_WEIGHT}, at most two decimals (\"10.5\", 10.5, \"10.500\"); "
    "true, null, \"NaN\" or \"10.505\" are 422.",
})]


class WeightRule(InputModel):
    model_config = ConfigDict(extra="ignore")
    object_message = N_("Must be an object with operator_id and weight.")
    operator_id: IdOf(N_("Must be an operator id."))
    weight: Weight


class DistributionPut(InputModel):
    """The whole new table; operators left out lose their rule. An unknown or repeated operator is 422
    and nothing changes."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={
        "example": {"rules": [{"operator_id": 3, "weight": "10.5"}, {"operator_id": 4, "weight": 5}]}
    })
    rules: Annotated[
        list[WeightRule],
        Expect(lambda value: isinstance(value, list), N_("Must be a list of {operator_id, weight}.")),
    ]

    @model_validator(mode="after")
    def _one_rule_per_operator(self) -> DistributionPut:
        seen: set[int] = set()
        errors: dict[str, list[str]] = {}
        for index, rule in enumerate(self.rules):
            if rule.operator_id in seen:
                errors[f"rules[{index}].operator_id"] = [
                    N_("Operator %(id)s appears more than once.", id=rule.operator_id)
                ]
            seen.add(rule.operator_id)
        if errors:
            raise ValidationError(errors)
        return self


def _audited(source: Source) -> dict:
    # The webhook token is a secret: it never goes into the audit trail.
    return {field: getattr(source, field) for field in sorted(FIELDS) if field != "webhook_token"}


def new_webhook_token() -> str:
    return secrets.token_urlsafe(32)


def list_sources(session: Session, page: int, per_page: int) -> Page:
    return paginate(session, select(Source).order_by(Source.name, Source.id), page, per_page)


def all_sources(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.name, Source.id)))


def rule_counts(session: Session) -> dict[int, int]:
    """How many operators have a weight on each source (one grouped query)."""
    rows = session.execute(
        select(Distribution.source_id, func.count(Distribution.id)).group_by(Distribution.source_id)
    )
    return {source_id: count for source_id, count in rows}


def get_source(session: Session, source_id: int) -> Source:
    source = get_by_id(session, Source, source_id)
    if source is None:
        raise NotFound(f"Source {source_id} not found.")
    return source


def _parse(data: Mapping, partial: bool) -> dict:
    given = check(SourcePatch if partial else SourceCreate, data)
    values = given.model_dump(exclude=set(SITE_FORM_FIELDS), exclude_none=True)
    # A site form field left out changes nothing; null (or empty) clears it.
    for field in SITE_FORM_FIELDS:
        if field in given.model_fields_set:
            values[field] = getattr(given, field)
    if "allowed_origins" in values:
        values["allowed_origins"] = origins_to_text(values["allowed_origins"])
    return values


def _check_unique(session: Session, values: dict, exclude_id: int | None = None) -> None:
    for field in ("name", "key"):
        if field not in values:
            continue
        query = select(Source.id).where(getattr(Source, field) == values[field])
        if exclude_id is not None:
            query = query.where(Source.id != exclude_id)
        if session.scalar(query) is not None:
            raise Conflict(_DUPLICATE[field], f"duplicate_{field}")


def _taken_meanwhile() -> Conflict:
    """A concurrent save took the name or the key between our check and our flush."""
    return Conflict(N_("A source with this name or key already exists."), "duplicate")


def _unused_key(session: Session, name: str) -> str:
    base = key_from_name(name)
    key, n = base, 1
    while session.scalar(select(Source.id).where(Source.key == key)) is not None:
        n += 1
        key = numbered_key(base, n)
    return key


def create_source(session: Session, data: Mapping) -> Source:
    values = _parse(data, partial=False)
    values.setdefault("is_active", True)
    with write_transaction(session):
        _check_unique(session, values)
        values.setdefault("key", _unused_key(session, values["name"]))
        source = Source(**values, webhook_token=new_webhook_token(), created_at=utcnow())
        add_audited(session, source, _audited, "source.created", "source", _taken_meanwhile())
    return source


def update_source(session: Session, source_id: int, data: Mapping) -> Source:
    # Opens like update_operator (parse, then fetch in the transaction): the outline of an update
    # service, not logic written twice; the saving they share is services/editing.py.
    values = _parse(data, partial=True)
    with write_transaction(session):
        source = get_source(session, source_id)
        _check_unique(session, values, exclude_id=source_id)
        update_audited(session, source, values, _audited, "source.updated", "source", _taken_meanwhile())
    return source


def rotate_token(session: Session, source_id: int) -> Source:
    """Issue a new webhook token; the old one stops working at once."""
    with write_transaction(session):
        source = get_source(session, source_id)
        source.webhook_token = new_webhook_token()
        # Only that it happened: neither the old nor the new token is written.
        record(session, "source.token_rotated", "source", source_id, {"key": source.key})
    return source


def distribution_rules(session: Session, source_id: int) -> list[Distribution]:
    get_source(session, source_id)
    return list(
        session.scalars(
            select(Distribution)
            .where(Distribution.source_id == source_id)
            .options(joinedload(Distribution.operator))
            .order_by(Distribution.operator_id)
        )
    )


def parse_rules(data: object) -> dict[int, Decimal]:
    """Validate a weight table `{"rules": [{operator_id, weight}]}` → {operator_id: weight}."""
    return {rule.operator_id: rule.weight for rule in check(DistributionPut, data).rules}


def replace_distribution(session: Session, source_id: int, table: dict[int, object]) -> list[Distribution]:
    """Replace every rule of the source in one transaction."""
    with write_transaction(session):
        get_source(session, source_id)
        if table:
            known = set(
                session.scalars(
                    select(Operator.id).where(Operator.id.in_(table), Operator.deleted_at.is_(None))
                )
            )
            missing = sorted(set(table) - known)
            if missing:
                raise ValidationError(
                    {"rules": [N_("Unknown operator %(id)s.", id=op) for op in missing]},
                    N_("The table names operators that do not exist."),
                )
        current = select(Distribution.operator_id, Distribution.weight).where(
            Distribution.source_id == source_id
        )
        before = dict(session.execute(current).all())
        session.execute(delete(Distribution).where(Distribution.source_id == source_id))
        if table:
            session.execute(
                insert(Distribution),
                [
                    {"source_id": source_id, "operator_id": op, "weight": weight}
                    for op, weight in table.items()
                ],
            )
        _record_weights(session, source_id, before, table)
        mark_capacity_freed(session)  # a new or heavier rule may move the queue
    session.expire_all()
    return distribution_rules(session, source_id)


def _record_weights(session: Session, source_id: int, before: dict, after: dict) -> None:
    """"weights.updated" with the whole table before and after, {operator_id: "10.50"}."""
    old = {str(op): format_weight(weight) for op, weight in sorted(before.items())}
    new = {str(op): format_weight(parse_weight(weight)) for op, weight in sorted(after.items())}
    if old == new:  # saved unchanged: nothing to record
        return
    involved = select(Operator.id, Operator.name).where(Operator.id.in_(set(before) | set(after)))
    names = dict(session.execute(involved).all())
    record(session, "weights.updated", "source", source_id, {
        "before": old, "after": new, "names": {str(op): name for op, name in sorted(names.items())},
    })
