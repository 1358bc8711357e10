"""The fingerprint that binds an Idempotency-Key to the request it was first used with."""

from __future__ import annotations

import hashlib
import json

from .identifiers import ContactInput


def request_fingerprint(data: ContactInput) -> str:
    """SHA-256 (hex) of the request as intake stores it.

    Taken from the normalised input, not the raw body, so that a true repeat
    matches whatever its key order, the blanks the normaliser strips or the
    phone's formatting; fields the intake ignores do not count.
    """
    ids = data.identifiers
    canonical = json.dumps(
        ["contact/1", ids.external_id, ids.phone, ids.email, data.name, data.message],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
