"""Input declared once: the base of the request models, their field rules, and pydantic's errors in our shape.

A request body is a pydantic model (`InputModel`) declared next to the
service that takes it (services/operators.py, services/sources.py) or the
route (api/schemas.py). The same declaration validates the input, gives the
OpenAPI document its schema (api/openapi.py) and, through `check`, answers
a refusal as `ValidationError({field: [message]})`, the one 422 shape.
Rules that belong to the domain (weights, identifiers, origins) stay there
and are called from the models' validators.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, model_validator
from pydantic import ValidationError as PydanticError
from pydantic_core import core_schema

from ..domain.errors import ValidationError
from ..domain.messages import N_

# Ids are 32-bit integers in the schema; a larger one can name nothing.
MAX_ID = 2**31 - 1

# Fields a client may echo back from a read; they cannot be written, so they
# are ignored rather than refused.
READ_ONLY = ("id", "load", "created_at", "webhook_token")
ECHO = "Read-only: accepted and ignored, so that a read can be sent back as it is."

# pydantic's error types in our words; a rule of ours raises its own message.
MESSAGES = {
    "missing": N_("This field is required."),
    "extra_forbidden": N_("Unknown field."),
    "string_type": N_("Must be a string."),
    "bool_type": N_("Must be true or false."),
    "int_type": N_("Must be a whole number."),
    "model_type": N_("Must be a JSON object."),
}


def is_id(value: object) -> bool:
    """A plausible row id: an int (not bool) within the schema's range."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def get_by_id(session, model, row_id):
    """`session.get`, or None for an id no row can have (a larger one would overflow the driver)."""
    return session.get(model, row_id) if is_id(row_id) else None


# --- pydantic's errors in the one 422 shape ---------------------------------------

M = TypeVar("M", bound=BaseModel)


class Invalid(ValueError):
    """Raised by a rule: one or more messages for the field being checked."""

    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = list(messages)


def field_name(loc: tuple) -> str:
    """("rules", 1, "weight") → "rules[1].weight"; the body itself is "_body"."""
    if not loc:
        return "_body"
    name = str(loc[0])
    for part in loc[1:]:
        name += f"[{part}]" if isinstance(part, int) else f".{part}"
    return name


def error_fields(exc: PydanticError) -> dict[str, list[str]]:
    """pydantic's errors as {field: [message]}, in our words (the only place they are mapped)."""
    fields: dict[str, list[str]] = {}
    for error in exc.errors():
        where = field_name(error["loc"])
        raised = (error.get("ctx") or {}).get("error")
        if isinstance(raised, ValidationError):  # a domain check of several fields
            for name, messages in raised.fields.items():
                key = name if not error["loc"] else f"{where}.{name}"
                fields.setdefault(key, []).extend(messages)
        elif isinstance(raised, Invalid):
            fields.setdefault(where, []).extend(raised.messages)
        elif isinstance(raised, ValueError):
            fields.setdefault(where, []).append(str(raised))  # keeps an N_ message translatable
        else:
            fields.setdefault(where, []).append(MESSAGES.get(error["type"], error["msg"]))
    return fields


def check(
    model: type[M], data: object, message: str = N_("Some fields are invalid."), context: dict | None = None
) -> M:
    """The validated model, or ValidationError with every field's messages."""
    try:
        return model.model_validate(data, context=context)
    except PydanticError as exc:
        raise ValidationError(error_fields(exc), message) from None


def together(handler, data: object, problems: dict[str, list[str]]):
    """In a wrap validator: the model from pydantic's checks, whose errors are refused together
    with the `problems` a domain check found in the same data."""
    try:
        model = handler(data)
    except PydanticError as exc:
        raise ValidationError({**error_fields(exc), **problems}) from None
    if problems:
        raise ValidationError(problems)
    return model


# --- request models -------------------------------------------------------------------


def _admits_null(annotation: object) -> bool:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _admits_null(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_admits_null(arg) for arg in typing.get_args(annotation))
    return annotation is None or annotation is type(None) or annotation is Any


class InputModel(BaseModel):
    """A JSON request body: strict JSON types, unknown fields refused (`Unknown field.`).

    As everywhere in the API, null where null is no value means "not given":
    a required field sent as null is missing, an optional one takes its
    default; but a required field whose rule reads the raw value (`Expect`,
    `Parsed`) gets null and absence too, so that its own message answers.
    Read-only fields echoed back from a read are ignored.
    """

    model_config = ConfigDict(strict=True, extra="forbid")
    object_message: ClassVar[str] = N_("Must be a JSON object.")
    _not_null: ClassVar[frozenset[str]] = frozenset()
    _raw_required: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        fields = cls.model_fields
        cls._raw_required = tuple(
            name
            for name, field in fields.items()
            if field.is_required() and any(isinstance(rule, Expect | Parsed) for rule in field.metadata)
        )
        cls._not_null = frozenset(
            name
            for name, field in fields.items()
            if not _admits_null(field.annotation) and name not in cls._raw_required
        )

    @model_validator(mode="before")
    @classmethod
    def _null_is_not_given(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValueError(cls.object_message)
        values = {
            name: value
            for name, value in data.items()
            if not (value is None and name in cls._not_null)
            and not (name in READ_ONLY and name not in cls.model_fields)
        }
        for name in cls._raw_required:
            values.setdefault(name, None)
        return values

    @classmethod
    def __get_pydantic_json_schema__(cls, schema, handler):
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        if target.get("additionalProperties") is False:
            for name in READ_ONLY:
                target["properties"].setdefault(name, {"readOnly": True, "description": ECHO})
        return json_schema


# --- field rules: each one check, its message and its part of the schema ---------------


class _Rule:
    """An `Annotated` marker whose check runs after the type's and which adds to the type's schema."""

    def __get_pydantic_core_schema__(self, source, handler):
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema, handler):
        json_schema = handler(schema)
        json_schema.update(self.schema())
        return json_schema

    def check(self, value):
        raise NotImplementedError

    def schema(self) -> dict:
        return {}


@dataclass(frozen=True)
class Text(_Rule):
    """Text stored trimmed: 1..`max` characters once trimmed, no NUL."""

    max: int

    def check(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError(N_("Must not be empty."))
        if "\x00" in value:
            raise ValueError(N_("Invalid character."))
        if len(value) > self.max:
            raise ValueError(N_("At most %(max)d characters.", max=self.max))
        return value

    def schema(self) -> dict:
        return {"minLength": 1, "maxLength": self.max}


@dataclass(frozen=True)
class Between(_Rule):
    """A whole number in [low, high]."""

    low: int
    high: int

    def check(self, value: int) -> int:
        if not self.low <= value <= self.high:
            raise ValueError(N_("Must be between %(low)d and %(high)d.", low=self.low, high=self.high))
        return value

    def schema(self) -> dict:
        return {"minimum": self.low, "maximum": self.high}


@dataclass(frozen=True)
class Matches(_Rule):
    """Text matching a pattern (published as the schema's `pattern`)."""

    regex: re.Pattern
    message: str

    def check(self, value: str) -> str:
        if not self.regex.match(value):
            raise ValueError(self.message)
        return value

    def schema(self) -> dict:
        return {"pattern": self.regex.pattern}


@dataclass(frozen=True)
class Expect(_Rule):
    """Any value the type would refuse gets this message instead of pydantic's (checked first)."""

    accepts: Callable[[object], bool]
    message: str

    def __get_pydantic_core_schema__(self, source, handler):
        return core_schema.no_info_wrap_validator_function(self.wrap, handler(source))

    def wrap(self, value, handler):
        if not self.accepts(value):
            raise ValueError(self.message)
        return handler(value)


@dataclass(frozen=True)
class Parsed(_Rule):
    """The value as a domain function reads it (raising ValueError or Invalid); the type is for the schema."""

    parse: Callable[[object], object]
    json_schema: dict | None = None

    def __get_pydantic_core_schema__(self, source, handler):
        return core_schema.no_info_wrap_validator_function(self.wrap, handler(source))

    def wrap(self, value, _handler):
        return self.parse(value)

    def __get_pydantic_json_schema__(self, schema, handler):
        return dict(self.json_schema) if self.json_schema is not None else handler(schema)


def IdOf(message: str):  # noqa: N802 - a type
    """A row id (1..2^31-1) of a JSON integer; anything else is `message`."""
    return Annotated[StrictInt, Expect(is_id, message), Between(1, MAX_ID)]


def TextOf(max_len: int):  # noqa: N802 - a type
    return Annotated[StrictStr, Text(max_len)]


def IntIn(low: int, high: int):  # noqa: N802 - a type
    return Annotated[StrictInt, Between(low, high)]
