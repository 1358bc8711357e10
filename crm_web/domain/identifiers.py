"""Normalisation of a lead's identifiers and of an intake request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT, EMAIL_MAX_LENGTH, LOCAL_PART_MAX_LENGTH

from .errors import ValidationError
from .messages import N_

MAX_EXTERNAL_ID = 255
MAX_NAME = 255
MAX_MESSAGE = 10_000
# Longer raw input is never a phone number; refuse before parsing.
MAX_RAW_PHONE = 64
INTAKE_FIELDS = ("external_id", "phone", "email", "name", "message")


def normalize_phone(raw: str, region: str = "RU") -> str:
    """Return the number in E.164, or raise ValueError with a readable reason."""
    text = raw.strip()
    if not text:
        raise ValueError(N_("Phone number is empty."))
    if len(text) > MAX_RAW_PHONE:
        raise ValueError(N_("Phone number is too long."))
    if any(ch.isalpha() for ch in text):
        raise ValueError(N_("Phone number must not contain letters."))
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(N_("Not a phone number.")) from exc
    if not phonenumbers.is_possible_number(number):
        raise ValueError(N_("Not a possible phone number."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    """Trim, validate the syntax (no DNS look-up) and lower-case."""
    text = raw.strip()
    if not text:
        raise ValueError(N_("Email is empty."))
    local, _, domain = text.rpartition("@")
    known = _known_domains.get(domain)
    if (
        known is not None
        and len(local) <= LOCAL_PART_MAX_LENGTH
        and len(text) <= EMAIL_MAX_LENGTH
        and DOT_ATOM_TEXT.match(local)
    ):
        return f"{local}@{known}".lower()
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(N_("Not a valid email address: %(reason)s", reason=str(exc))) from exc
    if len(_known_domains) < MAX_KNOWN_DOMAINS and domain.isascii() and result.domain.isascii():
        _known_domains[domain] = result.domain
    return result.normalized.lower()


# A domain as typed -> as email_validator wrote it, for the ASCII domains it accepted. Checking the
# domain is nine tenths of validating an address; a plain ASCII local part (a dot-atom, which
# email_validator takes as it is) at a domain it accepted before only needs the length checks, the
# same for every form of an all-ASCII address. tests/domain/test_identifiers.py compares both ways.
MAX_KNOWN_DOMAINS = 4096
_known_domains: dict[str, str] = {}


def normalize_external_id(raw: str) -> str:
    text = raw.strip()
    if not text:
        raise ValueError(N_("External id is empty."))
    if len(text) > MAX_EXTERNAL_ID:
        raise ValueError(N_("External id is longer than %(max)d characters.", max=MAX_EXTERNAL_ID))
    if "\x00" in text:
        raise ValueError(N_("External id must not contain NUL characters."))
    return text


@dataclass(frozen=True)
class Identifiers:
    external_id: str | None = None
    phone: str | None = None
    email: str | None = None

    def present(self) -> dict[str, str]:
        """Identifiers given, in matching priority order."""
        pairs = (("external_id", self.external_id), ("phone", self.phone), ("email", self.email))
        return {k: v for k, v in pairs if v is not None}


@dataclass(frozen=True)
class ContactInput:
    identifiers: Identifiers
    name: str | None = None
    message: str | None = None


def _text_value(data: Mapping, field: str, errors: dict[str, list[str]]) -> str | None:
    """A field as stripped text; absent, null and blank all mean "not given"."""
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.setdefault(field, []).append(N_("Must be a string."))
        return None
    if "\x00" in value:
        errors.setdefault(field, []).append(N_("Must not contain NUL characters."))
        return None
    value = value.strip()
    return value or None


def parse_contact_input(data: Mapping, region: str) -> ContactInput:
    """Validate and normalise an intake request; raise ValidationError."""
    errors: dict[str, list[str]] = {}
    raw = {field: _text_value(data, field, errors) for field in INTAKE_FIELDS}
    normalised: dict[str, str | None] = {"external_id": None, "phone": None, "email": None}
    normalisers = {
        "external_id": normalize_external_id,
        "phone": lambda v: normalize_phone(v, region),
        "email": normalize_email,
    }
    for field, normalise in normalisers.items():
        if raw[field] is not None:
            try:
                normalised[field] = normalise(raw[field])
            except ValueError as exc:
                errors.setdefault(field, []).append(str(exc))
    name, message = raw["name"], raw["message"]
    if name is not None and len(name) > MAX_NAME:
        errors.setdefault("name", []).append(N_("Name is longer than %(max)d characters.", max=MAX_NAME))
    if message is not None and len(message) > MAX_MESSAGE:
        errors.setdefault("message", []).append(
            N_("Message is longer than %(max)d characters.", max=MAX_MESSAGE)
        )
    identifier_fields = ("external_id", "phone", "email")
    # Nothing given for any identifier (an invalid one counts as given: its
    # own error says what is wrong). Reported together with other errors.
    if all(raw[f] is None and f not in errors for f in identifier_fields):
        message_text = N_("Give at least one of external_id, phone or email.")
        if not errors:
            raise ValidationError({f: [message_text] for f in identifier_fields}, message_text)
        for f in identifier_fields:
            errors[f] = [message_text]
    if errors:
        raise ValidationError(errors, N_("Some fields are invalid."))
    return ContactInput(Identifiers(**normalised), name=name, message=message)
