"""Why queued contacts find nobody: who has free places but no weight for their sources."""

from __future__ import annotations

from crm_web.domain.coverage import OperatorPlaces, WaitingSource, weight_gaps

NIGHT = WaitingSource(1, "Night", waiting=3)
DAY = WaitingSource(2, "Day", waiting=1)


def operator(op_id: int, name: str, load: int = 0, max_load: int = 10, is_active: bool = True):
    return OperatorPlaces(op_id, name, is_active, load, max_load)


def test_a_free_operator_without_a_weight_is_a_gap_for_each_such_source():
    clara = operator(7, "Clara", load=1)
    [gap] = weight_gaps([clara], [NIGHT, DAY], rules=[(2, 7)])
    assert gap.operator == clara and gap.operator.free == 9
    assert gap.sources == (NIGHT,)


def test_an_operator_with_weights_for_every_waiting_source_is_no_gap():
    assert weight_gaps([operator(7, "Clara")], [NIGHT, DAY], rules=[(1, 7), (2, 7), (3, 8)]) == []


def test_full_or_paused_operators_are_no_gap_since_a_weight_would_not_help():
    full = operator(1, "Full", load=5, max_load=5)
    over = operator(2, "Over", load=6, max_load=5)  # max_load lowered below the load
    paused = operator(3, "Paused", is_active=False)
    assert weight_gaps([full, over, paused], [NIGHT], rules=[]) == []


def test_most_free_places_first_then_by_name():
    gaps = weight_gaps(
        [operator(1, "boris", load=8), operator(2, "Anna", load=8), operator(3, "Clara", load=0)],
        [NIGHT],
        rules=[],
    )
    assert [gap.operator.name for gap in gaps] == ["Clara", "Anna", "boris"]


def test_no_waiting_contacts_no_gaps():
    assert weight_gaps([operator(1, "Anna")], [], rules=[]) == []
    assert weight_gaps([operator(1, "Anna")], [WaitingSource(1, "Night", waiting=0)], rules=[]) == []
