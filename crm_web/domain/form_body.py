"""The fields of a site form's body (contract §2a): decoding, bracket nesting, recognition by name.

The view hands over the body as (key, value) pairs (`decode_form`, or
Werkzeug's for multipart) or as a decoded JSON object; `body_fields` gives
every value sent, in order, with what its name (or the source's field_map)
says it is. What to make of them is form_reading.py's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeGuard
from urllib.parse import unquote_to_bytes

from .errors import ValidationError
from .messages import N_

TARGETS = ("name", "phone", "email", "external_id", "message")
MAX_FIELD_MAP = 50
MAX_FIELD_NAME = 255
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
MASK = "***"
# Field names whose values are never kept or shown (case, spaces, "-" and "_" aside).
SECRET_NAMES = frozenset(
    {"secret", "token", "webhooktoken", "xwebhooktoken", "password", "passwd", "apikey", "accesstoken",
     "authorization"}
)

Body = Sequence[tuple[str, str]] | Mapping[str, object]

# Names as `normalise_name` leaves them. The contract's lists, plus a few spellings real forms use.
_NAME_ROLES: dict[str, str] = {
    **dict.fromkeys(
        (
            "phone",
            "tel",
            "telephone",
            "mobile",
            "phonenumber",
            "yourphone",
            "yourtel",
            "mobilephone",
            "телефон",
            "тел",
            "номертелефона",
            "ваштелефон",
        ),
        "phone",
    ),
    **dict.fromkeys(("email", "mail", "youremail", "emailaddress", "почта", "электроннаяпочта"), "email"),
    **dict.fromkeys(("name", "fullname", "yourname", "имя", "фио", "вашеимя"), "name"),
    "firstname": "first_name",
    **dict.fromkeys(("middlename", "patronymic", "отчество"), "middle_name"),
    **dict.fromkeys(("lastname", "surname", "фамилия"), "last_name"),
    **dict.fromkeys(
        (
            "message",
            "comment",
            "comments",
            "yourmessage",
            "text",
            "сообщение",
            "комментарий",
            "вопрос",
            "вашвопрос",
        ),
        "message",
    ),
    "externalid": "external_id",
    **{key.replace("_", ""): key for key in UTM_KEYS},
    # Gravity Forms sends the page as `source_url`.
    **dict.fromkeys(("pageurl", "url", "referer", "referrer", "sourceurl"), "page_url"),
}
_ELEMENTOR_TYPES = {"tel": "phone", "email": "email"}
_TRAILING_NUMBER = re.compile(r"-\d+$")
_SEPARATORS = re.compile(r"[\s\-_]+")
_BRACKET_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


@dataclass(frozen=True)
class FormField:
    """One field as received: the name it is kept under, its text, and what it was recognised as."""

    name: str
    text: str
    role: str | None = None  # a target, a name part, a utm key, "page_url", or None


# --- the body ------------------------------------------------------------------------------------


def decode_form(raw: bytes) -> list[tuple[str, str]]:
    """An application/x-www-form-urlencoded body as (key, value) pairs, in order."""
    pairs = []
    for part in raw.split(b"&"):
        if part:
            key, _, value = part.partition(b"=")
            pairs.append(
                (unquote_to_bytes(key.replace(b"+", b" ")), unquote_to_bytes(value.replace(b"+", b" ")))
            )
    try:
        return [(key.decode("utf-8"), value.decode("utf-8")) for key, value in pairs]
    except UnicodeDecodeError:
        # Old Russian sites and PHP scripts still post windows-1251 escapes (%CF%F0%E8...).
        return [(key.decode("cp1251", "replace"), value.decode("cp1251", "replace")) for key, value in pairs]


def nest(pairs: Iterable[tuple[str, str]]) -> dict[str, object]:
    """PHP's reading of bracket keys: `a[b][c]` nests, a repeated key or `a[]` makes a list.

    Never fails: a key whose shape clashes with an earlier one is kept as it was sent.
    """
    root: dict[str, object] = {}
    for key, value in pairs:
        match = _BRACKET_KEY.fullmatch(key)
        path = [match.group(1), *_SEGMENT.findall(match.group(2))] if match else [key]
        if len(path) > 1 and path[-1] == "":
            path.pop()  # a[]=x&a[]=y is a repeated a
        if "" in path[1:] or not _place(root, path, value):
            _add(root, key, value)
    return root


def _place(root: dict[str, object], path: list[str], value: str) -> bool:
    node = root
    for segment in path[:-1]:
        child = node.setdefault(segment, {})
        if not isinstance(child, dict):
            return False
        node = child
    _add(node, path[-1], value)
    return True


def _add(node: dict[str, object], key: str, value: str) -> None:
    old = node.get(key)
    if old is None:
        node[key] = value
    elif isinstance(old, list):
        old.append(value)
    elif isinstance(old, dict):
        _add(old, "", value)  # `a[b]=1&a=2`: the 2 is read as `a[]`
    else:
        node[key] = [old, value]


def flatten(body: Body) -> dict[str, str]:
    """Field name -> text, as recognition sees them (a list is joined with ", "); blanks left out."""
    out: dict[str, str] = {}
    for item in body_fields(body):
        if item.text:
            join_into(out, item.name, item.text)
    return out


def body_fields(body: Body, field_map: Mapping[str, str] | None = None) -> list[FormField]:
    """Every value sent, in order, with its role: field_map's, else the one its name suggests.

    Names are recognised at the top level only (and for Elementor's `fields[<id>]`):
    `form[name]` is the form's name, not the visitor's. Deeper values are named
    by their bracket path and reach the contact only through field_map.
    """
    return _fields(_as_mapping(body), field_map or {})


def _as_mapping(body: Body) -> Mapping[str, object]:
    data = body if isinstance(body, Mapping) else nest(body)
    # Yandex Forms' JSON-RPC request wraps the owner's fields in `params`; the envelope is transport.
    params = data.get("params")
    if "jsonrpc" in data and isinstance(params, Mapping):
        return params
    return data


def _fields(data: Mapping[str, object], field_map: Mapping[str, str]) -> list[FormField]:
    fields: list[FormField] = []
    for raw_key, value in data.items():
        key = _clean(str(raw_key))
        if key == "fields" and _is_elementor(value):
            for field_id, item in value.items():
                title = _clean(_text(item.get("title")))
                ident = _clean(_text(item.get("id"))) or str(field_id)
                role = (
                    _ELEMENTOR_TYPES.get(_text(item.get("type")).strip().lower())
                    or _role_of(title)
                    or _role_of(ident)
                )
                fields.extend(_leaf_fields(title or ident, item["value"], role, field_map, (ident,)))
        elif key == "meta" and _is_elementor(value):
            # Elementor's metadata (date, user agent, ...) is kept but never read as the contact.
            for meta_id, item in value.items():
                title = _clean(_text(item.get("title"))) or str(meta_id)
                fields.extend(
                    _leaf_fields(title, item["value"], "page_url" if meta_id == "page_url" else None)
                )
        else:
            fields.extend(_leaf_fields(key, value, _role_of(key), field_map))
    return fields


def _is_elementor(value: object) -> TypeGuard[Mapping[str, Mapping[str, object]]]:
    """Elementor's advanced data: `{id: {id, type, title, value, ...}}`."""
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(item, Mapping) and "value" in item for item in value.values())
    )


def _leaf_fields(
    name: str,
    value: object,
    role: str | None,
    field_map: Mapping[str, str] | None = None,
    aliases: tuple[str, ...] = (),
) -> Iterator[FormField]:
    """The texts under `name`, by bracket path (`a[b]`); only `name` itself is recognised by name.

    Walked with a stack, so no depth of nesting can exhaust the recursion limit.
    """

    def role_of(path: str) -> str | None:
        names = (path, *aliases) if path == name else (path,)
        return mapped_role(names, field_map or {}) or (role if path == name else None)

    stack: list[tuple[str, object]] = [(name, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, Mapping) and not _is_list_like(item):
            stack.extend((f"{path}[{_clean(str(k))}]", v) for k, v in reversed(list(item.items())))
            continue
        if isinstance(item, Mapping):
            children = list(item.items())
        elif isinstance(item, list):
            children = list(enumerate(item))
        else:
            yield FormField(path, _clean(_text(item)), role_of(path))
            continue
        plain = [_clean(_text(v)) for _, v in children if not isinstance(v, (Mapping, list))]
        yield FormField(path, ", ".join(p for p in plain if p), role_of(path))
        stack.extend((f"{path}[{k}]", v) for k, v in reversed(children) if isinstance(v, (Mapping, list)))


def _is_list_like(item: Mapping[str, object]) -> bool:
    # `a[0]=x&a[1]=y` is a PHP list, read like a repeated key.
    return bool(item) and all(isinstance(k, str) and k.isascii() and k.isdigit() for k in item)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _clean(text: str) -> str:
    # No database stores NUL in text, and no form means one.
    return text.replace("\x00", "").strip()


def join_into(out: dict[str, str], name: str, text: str) -> None:
    out[name] = f"{out[name]}, {text}" if name in out else text


# Field names repeat from one submission to the next, so what is worked out from a name is kept,
# per worker, for names up to this long: a sender inventing long names cannot fill the memory.
_CACHED_NAME = 100


def normalise_name(name: str) -> str:
    """Case-insensitive, ignoring spaces, `-`, `_` and a trailing `-<digits>` (CF7's `tel-715`)."""
    return _normalised(name) if len(name) <= _CACHED_NAME else _normalise(name)


def _normalise(name: str) -> str:
    return _SEPARATORS.sub("", _TRAILING_NUMBER.sub("", name.strip().casefold()))


_normalised = lru_cache(maxsize=4096)(_normalise)


def is_secret_name(name: object) -> bool:
    if not isinstance(name, str):
        return False
    return _is_secret_cached(name) if len(name) <= _CACHED_NAME else _is_secret(name)


def _is_secret(name: str) -> bool:
    return _SEPARATORS.sub("", name.strip().casefold()) in SECRET_NAMES


_is_secret_cached = lru_cache(maxsize=4096)(_is_secret)


def _role_of(name: str) -> str | None:
    return _NAME_ROLES.get(normalise_name(name))


# --- field map -----------------------------------------------------------------------------------


def validate_field_map(value: object) -> dict[str, str]:
    """A source's `field_map` ({incoming field: target}); None is {}. Raises ValidationError."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError.single(
            "field_map",
            N_("Must be an object: {incoming field name: name, phone, email, external_id or message}."),
        )
    problems: list[str] = []
    if len(value) > MAX_FIELD_MAP:
        problems.append(N_("At most %(max)d entries.", max=MAX_FIELD_MAP))
    result: dict[str, str] = {}
    for raw_key, target in value.items():
        key = raw_key.strip() if isinstance(raw_key, str) else ""
        if not key:
            problems.append(N_("A field name must not be empty."))
        elif "\x00" in key:
            problems.append(N_("A field name must not contain NUL characters."))
        elif len(key) > MAX_FIELD_NAME:
            problems.append(
                N_(
                    "Field name %(field)s is longer than %(max)d characters.",
                    field=repr(key[:40]),
                    max=MAX_FIELD_NAME,
                )
            )
        elif key in result:
            problems.append(N_("Field name %(field)s is given twice.", field=repr(key)))
        elif target not in TARGETS:
            problems.append(
                N_(
                    "The target of %(field)s must be one of name, phone, email, external_id, message.",
                    field=repr(key),
                )
            )
        else:
            result[key] = target
    if problems:
        raise ValidationError({"field_map": problems}, problems[0])
    return result


def mapped_role(names: Iterable[str], field_map: Mapping[str, str]) -> str | None:
    """The target field_map gives a field known by `names`: exact first, then case and separators aside."""
    if not field_map:
        return None
    candidates = [name for name in names if name]
    for name in candidates:
        if field_map.get(name) in TARGETS:
            return field_map[name]
    loose = {_SEPARATORS.sub("", key.casefold()): target for key, target in reversed(list(field_map.items()))}
    for name in candidates:
        target = loose.get(_SEPARATORS.sub("", name.casefold()))
        if target in TARGETS:
            return target
    return None
