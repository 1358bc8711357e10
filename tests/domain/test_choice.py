"""Weighted random choice of an operator (contract section 1, steps 2-4)."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_web.domain.choice import Candidate, choose_operator, shares

DRAWS = 10_000


def _draw_counts(candidates, seed, draws=DRAWS):
    rng = random.Random(seed)
    return Counter(choose_operator(candidates, rng) for _ in range(draws))


# --- distribution ------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 42, 2024, 987654321])
def test_weights_1_2_7_give_shares_10_20_70(seed):
    candidates = [
        Candidate(1, Decimal("1"), max_load=100),
        Candidate(2, Decimal("2"), max_load=100),
        Candidate(3, Decimal("7"), max_load=100),
    ]
    counts = _draw_counts(candidates, seed)
    assert set(counts) == {1, 2, 3}
    assert sum(counts.values()) == DRAWS
    for operator_id, expected in ((1, 10.0), (2, 20.0), (3, 70.0)):
        share = 100.0 * counts[operator_id] / DRAWS
        assert abs(share - expected) <= 2.0, (operator_id, share)


def test_only_the_ratio_of_weights_matters():
    small = [Candidate(1, Decimal("0.10")), Candidate(2, Decimal("0.20")), Candidate(3, Decimal("0.70"))]
    large = [Candidate(1, Decimal("100")), Candidate(2, Decimal("200")), Candidate(3, Decimal("700"))]
    for candidates in (small, large):
        counts = _draw_counts(candidates, seed=7)
        for operator_id, expected in ((1, 10.0), (2, 20.0), (3, 70.0)):
            assert abs(100.0 * counts[operator_id] / DRAWS - expected) <= 2.0


def test_equal_weights_are_roughly_uniform():
    candidates = [Candidate(i, Decimal("5.00")) for i in range(1, 5)]
    counts = _draw_counts(candidates, seed=3)
    for operator_id in range(1, 5):
        assert abs(100.0 * counts[operator_id] / DRAWS - 25.0) <= 2.0


def test_ineligible_operators_do_not_skew_the_others():
    # the inactive and the full one take no share; 1:3 among the rest
    candidates = [
        Candidate(1, Decimal("1")),
        Candidate(2, Decimal("500"), is_active=False),
        Candidate(3, Decimal("3")),
        Candidate(4, Decimal("500"), load=5, max_load=5),
    ]
    counts = _draw_counts(candidates, seed=11)
    assert set(counts) == {1, 3}
    assert abs(100.0 * counts[1] / DRAWS - 25.0) <= 2.0
    assert abs(100.0 * counts[3] / DRAWS - 75.0) <= 2.0


def test_tiny_and_huge_decimal_weights():
    candidates = [Candidate(1, Decimal("0.01")), Candidate(2, Decimal("999.99"))]
    counts = _draw_counts(candidates, seed=5, draws=100_000)
    # expected share of operator 1: 1 / 100000 per draw, so about one draw in 100,000
    assert counts[1] + counts[2] == 100_000
    assert counts[1] <= 10
    assert counts[2] >= 99_990


def test_tiny_weight_alone_is_chosen():
    assert choose_operator([Candidate(1, Decimal("0.01"))], random.Random(0)) == 1


def test_tiny_weight_is_chosen_when_the_draw_lands_on_it():
    # with a draw of 0 the first candidate's single cent is hit
    class ZeroRng(random.Random):
        def randrange(self, *args, **kwargs):
            return 0

    candidates = [Candidate(1, Decimal("0.01")), Candidate(2, Decimal("999.99"))]
    assert choose_operator(candidates, ZeroRng()) == 1


def test_draw_boundaries_map_to_the_right_operator():
    class FixedRng(random.Random):
        def __init__(self, value):
            super().__init__(0)
            self.value = value
            self.seen_total = None

        def randrange(self, stop, *args, **kwargs):
            self.seen_total = stop
            return self.value

    candidates = [Candidate(1, Decimal("1.50")), Candidate(2, Decimal("0.25"))]  # 150 and 25 cents
    expectations = {0: 1, 149: 1, 150: 2, 174: 2}
    for draw, expected in expectations.items():
        rng = FixedRng(draw)
        assert choose_operator(candidates, rng) == expected
        assert rng.seen_total == 175


def test_same_seed_same_choices():
    candidates = [Candidate(i, Decimal(str(i))) for i in range(1, 6)]

    def run():
        rng = random.Random(99)
        return [choose_operator(candidates, rng) for _ in range(200)]

    first = run()
    assert first == run()
    assert len(set(first)) == 5


# --- eligibility -------------------------------------------------------------


def test_inactive_operator_is_never_chosen():
    candidates = [Candidate(1, Decimal("999.99"), is_active=False), Candidate(2, Decimal("0.01"))]
    assert set(_draw_counts(candidates, seed=1, draws=2_000)) == {2}


@pytest.mark.parametrize(("load", "max_load"), [(5, 5), (6, 5), (0, 0), (10_000, 10_000)])
def test_full_operator_is_never_chosen(load, max_load):
    candidates = [
        Candidate(1, Decimal("999.99"), load=load, max_load=max_load),
        Candidate(2, Decimal("0.01"), load=0, max_load=1),
    ]
    assert set(_draw_counts(candidates, seed=1, draws=2_000)) == {2}


def test_operator_one_below_capacity_is_eligible():
    assert Candidate(1, Decimal("1"), load=4, max_load=5).eligible
    assert not Candidate(1, Decimal("1"), load=5, max_load=5).eligible
    assert not Candidate(1, Decimal("1"), is_active=False, load=0, max_load=5).eligible
    assert not Candidate(1, Decimal("1"), load=0, max_load=0).eligible


def test_no_candidates_gives_none():
    assert choose_operator([], random.Random(0)) is None


@pytest.mark.parametrize(
    "candidates",
    [
        [Candidate(1, Decimal("1"), is_active=False)],
        [Candidate(1, Decimal("1"), load=3, max_load=3)],
        [Candidate(1, Decimal("1"), max_load=0)],
        [
            Candidate(1, Decimal("10"), is_active=False),
            Candidate(2, Decimal("10"), load=1, max_load=1),
            Candidate(3, Decimal("10"), is_active=False, load=9, max_load=1),
        ],
    ],
)
def test_no_eligible_operator_gives_none(candidates):
    rng = random.Random(0)
    assert all(choose_operator(candidates, rng) is None for _ in range(50))


def test_single_eligible_operator_is_always_chosen():
    candidates = [
        Candidate(1, Decimal("999.99"), is_active=False),
        Candidate(2, Decimal("0.01"), load=2, max_load=3),
        Candidate(3, Decimal("999.99"), load=3, max_load=3),
    ]
    assert _draw_counts(candidates, seed=123, draws=1_000) == Counter({2: 1_000})


@pytest.mark.parametrize("weight", ["0", "0.00", "-1", "0.001", "0.004"])
def test_weights_below_one_cent_are_not_eligible(weight):
    # parse_weight never lets these through; the draw must not break if one shows up
    candidate = Candidate(1, Decimal(weight))
    assert not candidate.eligible
    assert choose_operator([candidate], random.Random(0)) is None
    assert choose_operator([candidate, Candidate(2, Decimal("1"))], random.Random(0)) == 2


def test_choice_does_not_depend_on_the_global_random_state():
    candidates = [Candidate(1, Decimal("1")), Candidate(2, Decimal("1"))]
    random.seed(1)
    first = [choose_operator(candidates, random.Random(5)) for _ in range(20)]
    random.seed(2)
    second = [choose_operator(candidates, random.Random(5)) for _ in range(20)]
    assert first == second


_candidate = st.builds(
    Candidate,
    operator_id=st.integers(1, 50),
    weight=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2),
    is_active=st.booleans(),
    load=st.integers(0, 12),
    max_load=st.integers(0, 10),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_candidate, max_size=8), st.integers(0, 2**32 - 1))
def test_never_returns_an_ineligible_operator(candidates, seed):
    eligible_ids = {c.operator_id for c in candidates if c.is_active and c.load < c.max_load}
    rng = random.Random(seed)
    for _ in range(20):
        chosen = choose_operator(candidates, rng)
        if eligible_ids:
            assert chosen in eligible_ids
        else:
            assert chosen is None


# --- shares ------------------------------------------------------------------


def test_shares_are_fractions_of_the_total():
    result = shares({1: Decimal("1"), 2: Decimal("2"), 3: Decimal("7")})
    assert result == pytest.approx({1: 0.1, 2: 0.2, 3: 0.7})
    assert all(isinstance(value, float) for value in result.values())


def test_shares_with_decimals():
    result = shares({1: Decimal("10.50"), 2: Decimal("31.50")})
    assert result == pytest.approx({1: 0.25, 2: 0.75})


def test_single_rule_has_share_one():
    assert shares({4: Decimal("0.01")}) == {4: 1.0}


def test_shares_of_nothing_is_empty():
    assert shares({}) == {}


def test_zero_total_gives_zero_shares():
    assert shares({1: Decimal("0"), 2: Decimal("0.00")}) == {1: 0.0, 2: 0.0}


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.integers(1, 100),
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2),
        min_size=1,
        max_size=10,
    )
)
def test_shares_sum_to_one_and_stay_in_range(weights):
    result = shares(weights)
    assert set(result) == set(weights)
    assert all(0.0 <= value <= 1.0 for value in result.values())
    assert sum(result.values()) == pytest.approx(1.0)
    # ordering of shares follows the ordering of weights
    for a in weights:
        for b in weights:
            if weights[a] > weights[b]:
                assert result[a] >= result[b]
