"""Strict parsing of JSON request bodies (the webhook and the API)."""

from __future__ import annotations

import json
import re

# A lone surrogate can only come from a \uD800-\uDFFF escape or from the bytes
# ED A0..BF (which Python's json decodes with "surrogatepass"); only then is
# the decoded value walked.
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def parse_json(raw: bytes) -> object:
    """The decoded body; ValueError when it is not JSON or holds text that is not Unicode.

    Python's json accepts lone surrogates (`"\\ud800"`), which no database
    column can store: such a body is as malformed as broken JSON.
    """
    value = json.loads(raw)
    if _MAYBE_SURROGATE.search(raw) and _has_lone_surrogate(value):
        raise ValueError("lone surrogate in a JSON string")
    return value


def _has_lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False
