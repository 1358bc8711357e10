"""Hypothesis settings and hostile text shared by the fuzz tests (tests/fuzz, tests/security)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

NASTY = [
    "", " ", "\x00", "a\x00b", "\u202eevil\u202c", "\u05e9\u05dc\u05d5\u05dd", "😀👍🏽", "\ufeff",
    "' OR 1=1 --", "<script>alert(1)</script>", "%00", "\\", "\r\n", "9" * 400, "x" * 70_000,
    "+7 999 123-45-67", "8 (999) 123-45-67", "ivan@example.com", "IVAN@EXAMPLE.COM", "10.50", "-1", "0",
    "2147483648", "NaN", "1e309",
]
texts = st.one_of(st.sampled_from(NASTY), st.text(max_size=40), st.text(max_size=300))
