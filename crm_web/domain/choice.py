"""Weighted random choice of an operator among the eligible ones."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Candidate:
    operator_id: int
    weight: Decimal
    is_active: bool = True
    load: int = 0
    max_load: int = 1

    @property
    def eligible(self) -> bool:
        # A weight below one cent would count as 0 in the draw (randrange(0) fails).
        return self.is_active and self.load < self.max_load and _cents(self.weight) > 0


def _cents(weight: Decimal) -> int:
    # Weights have two decimals; integer cents make the draw exact.
    return int((weight * 100).to_integral_value())


@dataclass(frozen=True)
class Draw:
    """One weighted draw: `value` in [0, total) cents picked `operator_id`."""

    operator_id: int
    value: int
    total: int


def draw_operator(candidates: Sequence[Candidate], rng: random.Random) -> Draw | None:
    """The draw among eligible operators: each wins with weight / sum of eligible weights."""
    eligible = [c for c in candidates if c.eligible]
    if not eligible:
        return None
    total = sum(_cents(c.weight) for c in eligible)
    value = rng.randrange(total)
    rest = value
    for candidate in eligible:
        rest -= _cents(candidate.weight)
        if rest < 0:
            return Draw(candidate.operator_id, value, total)
    raise AssertionError("unreachable: draw exceeds the total weight")


def choose_operator(candidates: Sequence[Candidate], rng: random.Random) -> int | None:
    """Pick an eligible operator with probability weight / sum of eligible weights."""
    draw = draw_operator(candidates, rng)
    return draw.operator_id if draw else None


def shares(weights: dict[int, Decimal]) -> dict[int, float]:
    """Each weight's fraction of the total (0..1); empty when there is none."""
    total = sum(weights.values(), Decimal(0))
    if total <= 0:
        return {key: 0.0 for key in weights}
    return {key: float(value / total) for key, value in weights.items()}
