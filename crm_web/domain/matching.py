"""Lead matching: which lead a new contact belongs to (rules of the seed).

A lead matches when at least one of its identifiers equals the request's.
None -> a new lead; one -> that lead, its missing identifiers filled in;
several -> the one matched by external_id, else phone, else email, and the
others are recorded as its possible duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .identifiers import Identifiers

PRIORITY = ("external_id", "phone", "email")


@dataclass(frozen=True)
class LeadKeys:
    """The identifiers an existing lead holds."""

    id: int
    external_id: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class MatchPlan:
    lead_id: int | None  # None: create a new lead
    fill: dict[str, str] = field(default_factory=dict)  # identifiers to set on it
    duplicates: tuple[int, ...] = ()  # other matched leads, possible duplicates

    @property
    def creates_lead(self) -> bool:
        return self.lead_id is None


def plan_match(request: Identifiers, candidates: list[LeadKeys]) -> MatchPlan:
    """Decide the lead for `request` among the leads sharing an identifier."""
    given = request.present()
    matched_by: dict[str, LeadKeys] = {}
    for name in PRIORITY:
        value = given.get(name)
        if value is None:
            continue
        for lead in candidates:
            if getattr(lead, name) == value:
                matched_by[name] = lead
                break
    if not matched_by:
        return MatchPlan(lead_id=None, fill=dict(given))

    target = next(matched_by[name] for name in PRIORITY if name in matched_by)
    others = sorted({lead.id for lead in matched_by.values() if lead.id != target.id})
    # Fill only identifiers the target lacks and no other lead holds: an
    # identifier matched elsewhere belongs to that lead (unique per lead).
    fill = {
        name: value
        for name, value in given.items()
        if getattr(target, name) is None and name not in matched_by
    }
    return MatchPlan(lead_id=target.id, fill=fill, duplicates=tuple(others))
