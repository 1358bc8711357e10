"""Site forms posting from browsers: a source's allowed origins and thank-you URL."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .messages import N_

MAX_ORIGINS = 20
MAX_THANK_YOU_URL = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
WILDCARD_REFUSED = N_(
    "'*' is not allowed: a public webhook open to every site would be an open relay for spam. "
    "List the origin of each site that shows the form."
)
_ORIGIN_RE = re.compile(r"^(https?)://([^/?#@\s]+?)(?::(\d{1,5}))?/?$")
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_IPV6_RE = re.compile(r"^\[[0-9a-f:.]+\]$")


def split_origins(text: str) -> list[str]:
    """The origins typed into a text box: one per line (commas and spaces also separate)."""
    return [part for part in re.split(r"[\s,]+", text or "") if part]


def parse_origins(value: object) -> tuple[list[str], list[str]]:
    """Validated origins as browsers send them in `Origin`, and the error messages.

    Lower-cased, default ports dropped, one trailing '/' forgiven,
    duplicates removed (first kept).
    """
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return [], [N_("Must be a list of origins such as https://www.example.com.")]
    origins: list[str] = []
    errors: list[str] = []
    for item in value:
        text = item.strip()
        if text == "*":
            if WILDCARD_REFUSED not in errors:
                errors.append(WILDCARD_REFUSED)
            continue
        origin = normalise_origin(text)
        if origin is None:
            errors.append(N_(
                "%(origin)s is not an origin: use scheme://host[:port] with http or https and no path, "
                "e.g. https://www.example.com.",
                origin=repr(text[:100]),
            ))
        elif origin not in origins:
            origins.append(origin)
    if len(origins) > MAX_ORIGINS:
        errors.append(N_("At most %(max)d origins.", max=MAX_ORIGINS))
    return origins, errors


def normalise_origin(text: str) -> str | None:
    """`scheme://host[:port]` in the form browsers serialise it, or None if it is not one."""
    match = _ORIGIN_RE.match(text.lower())
    if match is None:
        return None
    scheme, host, port = match.groups()
    if not host.isascii():  # browsers send internationalised names in punycode
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if not _valid_host(host):
        return None
    if port is not None:
        number = int(port)
        if not 1 <= number <= 65535:
            return None
        if number != DEFAULT_PORTS[scheme]:
            return f"{scheme}://{host}:{number}"
    return f"{scheme}://{host}"


def _valid_host(host: str) -> bool:
    if _IPV6_RE.match(host):
        return True
    if len(host) > 253:
        return False
    return all(_LABEL_RE.match(label) for label in host.split("."))


def parse_thank_you_url(value: object) -> tuple[str | None, list[str]]:
    """An absolute http(s) URL, or None (none: plain form posts get JSON); and error messages."""
    if value is None:
        return None, []
    if not isinstance(value, str):
        return None, [N_("Must be a string or null.")]
    url = value.strip()
    if not url:
        return None, []
    if len(url) > MAX_THANK_YOU_URL:
        return None, [N_("At most %(max)d characters.", max=MAX_THANK_YOU_URL)]
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in DEFAULT_PORTS
        or not parts.hostname
        or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url)
    ):
        return None, [N_("Must be an absolute http:// or https:// address, e.g. https://www.example.com/thanks.")]
    return url, []


def origins_from_text(stored: str | None) -> list[str]:
    """The stored column (one origin per line) as a list."""
    return stored.split("\n") if stored else []


def origins_to_text(origins: list[str]) -> str | None:
    return "\n".join(origins) if origins else None


def site_form_values(data, errors: dict[str, list[str]]) -> dict:
    """The columns for `allowed_origins` (a list) and `thank_you_url` given in `data`.

    A field left out changes nothing; null (or an empty list / string) clears it.
    """
    values: dict = {}
    if "allowed_origins" in data:
        origins, problems = parse_origins(data["allowed_origins"] or [])
        if problems:
            errors.setdefault("allowed_origins", []).extend(problems)
        values["allowed_origins"] = origins_to_text(origins)
    if "thank_you_url" in data:
        url, problems = parse_thank_you_url(data["thank_you_url"])
        if problems:
            errors.setdefault("thank_you_url", []).extend(problems)
        values["thank_you_url"] = url
    return values
