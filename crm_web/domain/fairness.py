"""Is a source's distribution as its weights say? Chi-square and binomial checks, pure Python.

The chi-square survival function is the regularized upper incomplete gamma
function Q(df/2, x/2), computed as in Numerical Recipes (series below
a + 1, Lentz's continued fraction above); no SciPy needed.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

# A difference is flagged when chance alone would produce one as large less often than this.
ALPHA = 0.01
# Below this many expected contacts for some operator the chi-square approximation is
# unreliable; the test is reported but never flags.
MIN_EXPECTED = 5.0
# |z| at or above this is as unlikely as ALPHA, two-sided, for a single operator.
Z_CRITICAL = 2.5758293035489

_EPS = 1e-15
_TINY = 1e-300
_MAX_ITER = 10_000


def regularized_gamma_q(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x) / Γ(a), for a > 0 and x >= 0."""
    if a <= 0:
        raise ValueError("a must be positive")
    if x < 0:
        raise ValueError("x must not be negative")
    if x == 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    log_prefix = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        return max(0.0, 1.0 - _lower_series(a, x, log_prefix))
    return min(1.0, _upper_fraction(a, x, log_prefix))


def _lower_series(a: float, x: float, log_prefix: float) -> float:
    """P(a, x) by its power series (converges fast for x < a + 1)."""
    term = total = 1.0 / a
    denominator = a
    for _ in range(_MAX_ITER):
        denominator += 1
        term *= x / denominator
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * math.exp(log_prefix)


def _upper_fraction(a: float, x: float, log_prefix: float) -> float:
    """Q(a, x) by its continued fraction, modified Lentz (x >= a + 1)."""
    b = x + 1 - a
    c = 1 / _TINY
    d = 1 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < _EPS:
            break
    return math.exp(log_prefix) * h


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for X chi-square distributed with `df` degrees of freedom."""
    if df < 1:
        raise ValueError("df must be at least 1")
    if x <= 0:
        return 1.0
    return regularized_gamma_q(df / 2, x / 2)


def binomial_z(successes: int, trials: int, p: float) -> float | None:
    """(observed − expected) / standard deviation; None when it is undefined."""
    if trials <= 0 or not 0 < p < 1:
        return None
    return (successes - trials * p) / math.sqrt(trials * p * (1 - p))


def two_sided_normal_p(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True)
class GoodnessOfFit(Generic[K]):
    """Pearson's chi-square test of observed counts against expected shares."""

    n: int
    statistic: float
    df: int
    p_value: float
    expected: dict[K, float]

    @property
    def enough_data(self) -> bool:
        return min(self.expected.values()) >= MIN_EXPECTED

    @property
    def flagged(self) -> bool:
        """The difference is larger than chance explains (at ALPHA), with enough data to say so."""
        return self.enough_data and self.p_value < ALPHA


def chi_square_test(observed: Mapping[K, int], shares: Mapping[K, float]) -> GoodnessOfFit[K] | None:
    """Test `observed` counts against `shares` (renormalised over the keys of `shares`).

    Keys of `observed` missing from `shares` are ignored; a key of `shares`
    missing from `observed` counts 0. None when there is nothing to test:
    fewer than two categories with a positive share, or no observations.
    """
    positive = {key: share for key, share in shares.items() if share > 0}
    total_share = sum(positive.values())
    n = sum(observed.get(key, 0) for key in positive)
    if len(positive) < 2 or n == 0:
        return None
    expected = {key: n * share / total_share for key, share in positive.items()}
    statistic = sum((observed.get(key, 0) - e) ** 2 / e for key, e in expected.items())
    df = len(positive) - 1
    return GoodnessOfFit(n, statistic, df, chi2_sf(statistic, df), expected)
