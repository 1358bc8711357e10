"""Reading a site form's submission (contract §2a): the contact, what else was sent, the attribution.

Nothing here refuses a submission for its content: a value that cannot be
used stays in `form_fields` and a warning says why. Only a body of blanks is
`empty` (the view answers 422). The fields themselves come from form_body.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, unquote

from .form_body import MASK, UTM_KEYS, Body, FormField, body_fields, is_secret_name, join_into, normalise_name
from .identifiers import (
    MAX_MESSAGE,
    MAX_NAME,
    ContactInput,
    Identifiers,
    normalize_email,
    normalize_external_id,
    normalize_phone,
)
from .messages import N_

# A source's `form_format` (contract §2a): what its webhook receives.
FORM_FORMATS = ("standard", "site_form", "vk")
MAX_VK_CONFIRMATION = 64
MAX_DELIVERY_ID = 255  # what the view allows an Idempotency-Key
# Longer values are not taken as attribution: they stay ordinary form fields, so nothing is lost.
MAX_UTM = 255
MAX_PAGE_URL = 2048
# Name parts are joined in this order, whatever order they arrive in ("first last").
NAME_PARTS = {"name": 0, "first_name": 1, "middle_name": 2, "last_name": 3}
_NORMALISERS: dict[str, Callable[[str, str], str]] = {
    "external_id": lambda text, region: normalize_external_id(text),
    "phone": normalize_phone,
    "email": lambda text, region: normalize_email(text),
}
_SHOWN = 100  # characters of a value or a field name quoted in a warning
NO_IDENTIFIER = N_("No phone, email or external id could be read: stored as a new lead without identifiers.")
NAME_CUT = N_(
    "The name is longer than %(max)d characters: cut to fit, the whole text is kept in form_fields.",
    max=MAX_NAME,
)
MESSAGE_CUT = N_(
    "The message is longer than %(max)d characters: cut to fit, the whole text is kept in form_fields.",
    max=MAX_MESSAGE,
)


@dataclass(frozen=True)
class FormReading:
    """A submission read. `empty`: no field held anything but blanks (answered 422, nothing stored).

    `is_connection_check`: Tilda's `test` ping (answered 200, nothing stored).
    `recognised`: incoming field name -> what it became (a target, a utm key or
    page_url), for the source's list of recent deliveries.
    """

    contact: ContactInput = field(default_factory=lambda: ContactInput(Identifiers()))
    form_fields: dict[str, str] = field(default_factory=dict)  # in the order received
    utm: dict[str, str] = field(default_factory=dict)
    page_url: str | None = None
    warnings: list[str] = field(default_factory=list)
    recognised: dict[str, str] = field(default_factory=dict)
    delivery_id: str | None = None
    is_connection_check: bool = False
    empty: bool = False


def read_site_form(
    body: Body,
    *,
    field_map: Mapping[str, str] | None = None,
    region: str = "RU",
    delivery_header: str | None = None,
) -> FormReading:
    """A `site_form` submission: pairs (urlencoded, multipart) or a JSON object.

    `delivery_header` is the request's X-Delivery-Id; Tilda's `tranid` comes first.
    """
    fields = body_fields(body, field_map)
    if len(fields) == 1 and fields[0].name == "test":
        return FormReading(is_connection_check=True)
    filled = [item for item in fields if item.text]  # a blank carries nothing: neither read nor kept
    delivery_id = _delivery_id(filled, delivery_header)
    if not filled:
        return FormReading(empty=True, delivery_id=delivery_id)
    utm, page_url, used = _attribution(filled)
    reading = read_fields([item for i, item in enumerate(filled) if i not in used], region)
    recognised = {filled[i].name: str(filled[i].role) for i in sorted(used)} | reading.recognised
    order = {item.name: i for i, item in reversed(list(enumerate(filled)))}
    return replace(
        reading,
        utm=utm,
        page_url=page_url,
        delivery_id=delivery_id,
        recognised=dict(sorted(recognised.items(), key=lambda pair: order[pair[0]])),
    )


def read_fields(fields: Sequence[FormField], region: str) -> FormReading:
    """The contact in non-blank fields whose roles are decided; every other field kept, in order.

    Of several fields for one identifier the first readable one is the
    contact's; the others are kept. Name parts are joined with a space,
    messages with a blank line.
    """
    ids: dict[str, str | None] = dict.fromkeys(_NORMALISERS)
    kept: set[int] = set()
    recognised: dict[str, str] = {}
    warnings: list[str] = []
    parts: list[tuple[int, int]] = []
    messages: list[int] = []
    for i, item in enumerate(fields):
        if item.role in _NORMALISERS:
            try:
                value = _NORMALISERS[item.role](item.text, region)
            except ValueError as exc:
                kept.add(i)
                warnings.append(_unreadable(item, str(exc)))
                continue
            if ids[item.role] is None:
                ids[item.role] = value
                recognised[item.name] = item.role
            else:
                kept.add(i)
        elif item.role in NAME_PARTS:
            parts.append((NAME_PARTS[item.role], i))
        elif item.role == "message":
            messages.append(i)
        else:
            kept.add(i)
    texts: dict[str, str | None] = {}
    for target, indexes, separator, limit, cut in (
        ("name", [i for _, i in sorted(parts)], " ", MAX_NAME, NAME_CUT),
        ("message", messages, "\n\n", MAX_MESSAGE, MESSAGE_CUT),
    ):
        text = separator.join(fields[i].text for i in indexes) or None
        if text is not None and len(text) > limit:
            # Cut, not refused (§2a refuses nothing for its content); the whole text stays in form_fields.
            text = text[:limit].rstrip()
            kept.update(indexes)
            warnings.append(cut)
        recognised.update({fields[i].name: target for i in indexes})
        texts[target] = text
    if not any(ids.values()):
        warnings.append(NO_IDENTIFIER)
    form_fields: dict[str, str] = {}
    for i in sorted(kept):
        # A token or password posted with the form: kept by name, its value never shown with the contact.
        join_into(form_fields, fields[i].name, MASK if is_secret_name(fields[i].name) else fields[i].text)
    contact = ContactInput(Identifiers(**ids), name=texts["name"], message=texts["message"])
    return FormReading(contact=contact, form_fields=form_fields, warnings=warnings, recognised=recognised)


def _unreadable(item: FormField, reason: str) -> str:
    params = {"value": _shown(item.text), "field": _shown(item.name), "reason": reason}
    if item.role == "phone":
        return N_('Phone "%(value)s" (field "%(field)s") could not be read: %(reason)s', **params)
    if item.role == "email":
        return N_('Email "%(value)s" (field "%(field)s") could not be read: %(reason)s', **params)
    return N_('External id "%(value)s" (field "%(field)s") could not be read: %(reason)s', **params)


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def _delivery_id(fields: Sequence[FormField], header: str | None) -> str | None:
    """Tilda's `tranid`, else the X-Delivery-Id header (Yandex Forms); None when unusable as a key."""
    tranid = next((item.text for item in fields if normalise_name(item.name) == "tranid"), None)
    for candidate in (tranid, header):
        text = (candidate or "").strip()
        if text and len(text) <= MAX_DELIVERY_ID and "\x00" not in text:
            return text
    return None


def _attribution(fields: Sequence[FormField]) -> tuple[dict[str, str], str | None, set[int]]:
    """The utm, the page address, and the indexes of the fields they consumed.

    All utm keys come from one place, the first that has any: fields, the
    page's query, Tilda's cookie. Mixing them could pair this visit's source
    with a month-old cookie's campaign. `COOKIES` is never consumed: besides
    TILDAUTM it carries the analytics ids (_ga, _ym_uid) that tie the lead
    to its visit, so it stays in form_fields.
    """
    utm: dict[str, str] = {}
    used: set[int] = set()
    for i, item in enumerate(fields):
        if item.role in UTM_KEYS and item.role not in utm and len(item.text) <= MAX_UTM:
            utm[item.role] = item.text
            used.add(i)
    page_url = None
    for i, item in enumerate(fields):
        if item.role == "page_url" and len(item.text) <= MAX_PAGE_URL:
            page_url = item.text
            used.add(i)
            break
    if not utm and page_url:
        utm = utm_from_query(page_url.partition("?")[2].partition("#")[0])
    if not utm:
        cookies = next((item.text for item in fields if normalise_name(item.name) == "cookies"), "")
        utm = utm_from_tilda_cookies(cookies)
    return utm, page_url, used


def utm_from_query(query: str) -> dict[str, str]:
    """The utm keys of a URL's query (first of each, blanks and over-long values left out)."""
    utm: dict[str, str] = {}
    for key, value in parse_qsl(query):
        key, value = key.strip().lower(), value.replace("\x00", "").strip()
        if key in UTM_KEYS and key not in utm and value and len(value) <= MAX_UTM:
            utm[key] = value
    return utm


def utm_from_tilda_cookies(cookies: str) -> dict[str, str]:
    """Tilda's cookie TILDAUTM in a raw Cookie string.

    Its value is encodeURIComponent("utm_source=x|||utm_medium=y|||"), each pair
    as it was in the page's query (so still percent-encoded itself).
    """
    for part in cookies.split(";"):
        name, _, value = part.strip().partition("=")
        if name == "TILDAUTM":
            return utm_from_query(unquote(value).replace("|||", "&"))
    return {}
