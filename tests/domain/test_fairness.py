"""Statistics of the fairness report: the chi-square survival function, the test, z-scores."""

from __future__ import annotations

import math
import random

import pytest

from crm_web.domain.fairness import (
    ALPHA,
    Z_CRITICAL,
    binomial_z,
    chi2_sf,
    chi_square_test,
    regularized_gamma_q,
    two_sided_normal_p,
)

# (x, df, scipy.stats.chi2.sf(x, df)) from published tables / SciPy 1.11.
KNOWN = [
    (3.84, 1, 0.05004352124870519),
    (9.21, 2, 0.010001702004705),
    (11.07, 5, 0.050009618622405),
    (15.086, 5, 0.010001),
    (18.307, 10, 0.050001),
    (100.0, 100, 0.48119168452796),
    (124.342, 100, 0.0500),
    (0.5, 10, 0.9999933882894),
    (1e-8, 1, 0.99992021154),
]


@pytest.mark.parametrize(("x", "df", "expected"), KNOWN)
def test_chi2_sf_known_values(x, df, expected):
    assert chi2_sf(x, df) == pytest.approx(expected, rel=1e-4, abs=1e-12)


@pytest.mark.parametrize("x", [0.001, 0.1, 0.5, 1, 2, 3.84, 7, 15, 40, 120, 700])
def test_chi2_sf_matches_closed_forms(x):
    # df=1: erfc(sqrt(x/2)); df=2: exp(-x/2); df=4: exp(-x/2)(1 + x/2). Both branches of Q are hit.
    assert chi2_sf(x, 1) == pytest.approx(math.erfc(math.sqrt(x / 2)), rel=1e-10, abs=1e-300)
    assert chi2_sf(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-10, abs=1e-300)
    assert chi2_sf(x, 4) == pytest.approx(math.exp(-x / 2) * (1 + x / 2), rel=1e-10, abs=1e-300)


def test_chi2_sf_edges_and_monotony():
    assert chi2_sf(0, 3) == 1.0
    assert chi2_sf(-1, 3) == 1.0
    assert chi2_sf(math.inf, 3) == 0.0
    assert chi2_sf(10_000, 3) == 0.0
    values = [chi2_sf(x / 10, 7) for x in range(0, 400)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))
    assert all(0.0 <= v <= 1.0 for v in values)
    # The median of chi-square(df) is about df(1 - 2/(9df))^3.
    assert chi2_sf(50 * (1 - 2 / 450) ** 3, 50) == pytest.approx(0.5, abs=0.002)


def test_regularized_gamma_q_rejects_bad_arguments():
    with pytest.raises(ValueError):
        regularized_gamma_q(0, 1)
    with pytest.raises(ValueError):
        regularized_gamma_q(1, -1)
    with pytest.raises(ValueError):
        chi2_sf(1, 0)
    # Q(1, x) = exp(-x); Q(a, 0) = 1.
    assert regularized_gamma_q(1, 3) == pytest.approx(math.exp(-3))
    assert regularized_gamma_q(2.5, 0) == 1.0


def test_test_of_exact_shares_is_not_flagged():
    result = chi_square_test({"a": 50, "b": 30, "c": 20}, {"a": 0.5, "b": 0.3, "c": 0.2})
    assert result.statistic == pytest.approx(0.0)
    assert result.df == 2 and result.n == 100
    assert result.p_value == pytest.approx(1.0)
    assert result.expected == {"a": 50, "b": 30, "c": 20}
    assert result.enough_data and not result.flagged


def test_skewed_counts_are_flagged():
    # Equal weights, 80 against 20: chi-square 36 with 1 df.
    result = chi_square_test({"a": 80, "b": 20}, {"a": 0.5, "b": 0.5})
    assert result.statistic == pytest.approx(36.0)
    assert result.p_value == pytest.approx(math.erfc(math.sqrt(18)))
    assert result.p_value < ALPHA and result.flagged


def test_shares_are_renormalised_and_extra_observations_ignored():
    # Only a and b are in the test; c (no share) is left out, shares 0.2/0.2 become 0.5/0.5.
    result = chi_square_test({"a": 10, "b": 10, "c": 99}, {"a": 0.2, "b": 0.2})
    assert result.n == 20
    assert result.expected == {"a": 10, "b": 10}
    # An operator with a share and no contacts counts as 0 received.
    missing = chi_square_test({"a": 12}, {"a": 0.5, "b": 0.5})
    assert missing.n == 12 and missing.statistic == pytest.approx(12.0)


def test_nothing_to_test():
    assert chi_square_test({"a": 10}, {"a": 1.0}) is None  # one operator
    assert chi_square_test({}, {"a": 0.5, "b": 0.5}) is None  # no contacts
    assert chi_square_test({"a": 3, "b": 1}, {"a": 1.0, "b": 0.0}) is None  # one positive share


def test_small_samples_never_flag():
    # 9 against 0 with equal weights is p ≈ 0.003, but 4.5 expected each is too few to say.
    result = chi_square_test({"a": 9, "b": 0}, {"a": 0.5, "b": 0.5})
    assert result.p_value < ALPHA
    assert not result.enough_data and not result.flagged


def test_fair_draws_are_rarely_flagged():
    """About ALPHA of fair samples are flagged, not many more (a seeded simulation)."""
    rng = random.Random(11)
    shares = {"a": 0.5, "b": 0.3, "c": 0.2}
    flagged = 0
    for _ in range(400):
        counts = {"a": 0, "b": 0, "c": 0}
        for _ in range(200):
            counts[rng.choices(list(shares), weights=list(shares.values()))[0]] += 1
        flagged += chi_square_test(counts, shares).flagged
    assert flagged <= 12  # expected 4 of 400


def test_binomial_z_and_normal_p():
    assert binomial_z(50, 100, 0.5) == 0
    assert binomial_z(60, 100, 0.5) == pytest.approx(2.0)
    assert binomial_z(5, 0, 0.5) is None
    assert binomial_z(5, 10, 0.0) is None and binomial_z(5, 10, 1.0) is None
    assert two_sided_normal_p(1.959964) == pytest.approx(0.05, rel=1e-5)
    assert two_sided_normal_p(Z_CRITICAL) == pytest.approx(0.01, rel=1e-6)
    assert two_sided_normal_p(-Z_CRITICAL) == pytest.approx(0.01, rel=1e-6)
