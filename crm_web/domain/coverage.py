"""Why queued contacts find nobody: operators with free places and no weight for their sources."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class OperatorPlaces:
    id: int
    name: str
    is_active: bool
    load: int
    max_load: int

    @property
    def free(self) -> int:
        return max(self.max_load - self.load, 0)


@dataclass(frozen=True)
class WaitingSource:
    id: int
    name: str
    waiting: int  # its contacts in the queue


@dataclass(frozen=True)
class Gap:
    """An operator who could take contacts of `sources` but has no weight in their tables."""

    operator: OperatorPlaces
    sources: tuple[WaitingSource, ...]


def weight_gaps(
    operators: Iterable[OperatorPlaces],
    waiting: Sequence[WaitingSource],
    rules: Iterable[tuple[int, int]],
) -> list[Gap]:
    """Active operators with free places, each with the waiting sources they have no weight for.

    `rules`: (source id, operator id) pairs. Operators come most free places first, then by name;
    their sources as `waiting` lists them. A paused or full operator is no gap: a weight would not
    help them take anything.
    """
    has_weight = set(rules)
    gaps = []
    for operator in operators:
        if not operator.is_active or operator.free == 0:
            continue
        missing = tuple(s for s in waiting if s.waiting and (s.id, operator.id) not in has_weight)
        if missing:
            gaps.append(Gap(operator, missing))
    return sorted(gaps, key=lambda gap: (-gap.operator.free, gap.operator.name.casefold(), gap.operator.id))
