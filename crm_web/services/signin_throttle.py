"""Failed sign-ins counted per account and per client address.

The counters live in the rate-limit storage (`RATELIMIT_STORAGE_URI`):
in memory for one process, Redis when several workers or hosts serve, so
that an attacker cannot spread guesses over the workers. A moving window:
N failures within the last M minutes, however they are spaced.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.storage import MovingWindowSupport, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

NAMESPACE = "crm-signin"


def _key(value: str) -> str:
    # Hashed: keys stay short and safe whatever was typed into the form.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _item(max_failures: int, minutes: int) -> RateLimitItemPerMinute | None:
    if max_failures <= 0:
        return None
    return RateLimitItemPerMinute(max_failures, max(1, minutes), namespace=NAMESPACE)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds until the oldest counted failure expires


class SigninThrottle:
    """At most `max_account` failures per account and `max_address` per address in `minutes`.

    A limit of 0 turns that counter off.
    """

    def __init__(self, storage_uri: str, max_account: int, max_address: int, minutes: int) -> None:
        storage = storage_from_string(storage_uri)
        # Memcached has no moving window; a fixed one is the closest it offers.
        if isinstance(storage, MovingWindowSupport):
            self._limiter = MovingWindowRateLimiter(storage)
        else:
            self._limiter = FixedWindowRateLimiter(storage)
        self._account = _item(max_account, minutes)
        self._address = _item(max_address, minutes)

    def _checks(self, account: str, address: str | None):
        if self._account is not None:
            yield self._account, ("account", _key(account.strip().lower()))
        if self._address is not None and address:
            yield self._address, ("address", _key(address))

    def check(self, account: str, address: str | None) -> Verdict:
        """May this account be tried from this address now?"""
        waits = [
            self._limiter.get_window_stats(item, *ids).reset_time - time.time()
            for item, ids in self._checks(account, address)
            if not self._limiter.test(item, *ids)
        ]
        if not waits:
            return Verdict(True)
        return Verdict(False, max(1, math.ceil(max(waits))))

    def failed(self, account: str, address: str | None) -> None:
        for item, ids in self._checks(account, address):
            self._limiter.hit(item, *ids)

    def succeeded(self, account: str) -> None:
        """The right password clears that account's failures; the address keeps its count."""
        if self._account is not None:
            self._limiter.clear(self._account, "account", _key(account.strip().lower()))
