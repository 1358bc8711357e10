"""Outcomes of a close and the text of a note (contract §3): plain rules, no database."""

from __future__ import annotations

import pytest

from crm_web.domain.errors import ValidationError
from crm_web.domain.outcomes import (
    DEFAULT_OUTCOME,
    MAX_NOTE,
    OUTCOMES,
    parse_close,
    parse_note,
    parse_outcome,
)


def test_the_outcomes_and_the_default_are_the_contracts():
    assert OUTCOMES == ("done", "no_answer", "spam", "duplicate")
    assert DEFAULT_OUTCOME == "done"
    assert MAX_NOTE == 5000


@pytest.mark.parametrize("value", OUTCOMES)
def test_each_outcome_is_taken_as_it_is(value):
    assert parse_outcome(value) == value


def test_no_outcome_is_done():
    assert parse_outcome(None) == "done"


@pytest.mark.parametrize("value", ["", "Done", "DONE", " done", "closed", "no answer", 1, True, ["spam"]])
def test_anything_else_is_refused_on_the_outcome_field(value):
    with pytest.raises(ValidationError) as caught:
        parse_outcome(value)
    assert set(caught.value.fields) == {"outcome"}


@pytest.mark.parametrize(
    ("value", "stored"),
    [("Called back", "Called back"), ("  trimmed \n", "trimmed"), ("x" * MAX_NOTE, "x" * MAX_NOTE),
     ("\n" + "я" * MAX_NOTE + "  ", "я" * MAX_NOTE), ("line one\nline two", "line one\nline two")],
)
def test_a_note_is_stored_trimmed(value, stored):
    assert parse_note(value) == stored


@pytest.mark.parametrize("value", ["", "   ", "\n\t", "x" * (MAX_NOTE + 1), "a\x00b", None, 5, ["text"]])
def test_an_empty_too_long_or_non_text_note_is_refused(value):
    with pytest.raises(ValidationError) as caught:
        parse_note(value)
    assert set(caught.value.fields) == {"text"}


def test_the_too_long_message_says_the_limit_and_the_length():
    with pytest.raises(ValidationError) as caught:
        parse_note("x" * 5003)
    assert caught.value.fields["text"] == ["At most 5000 characters (this one has 5003)."]


def test_a_close_reads_both_and_reports_both_problems_at_once():
    assert parse_close(None, None) == ("done", None)
    assert parse_close("spam", "  bot, again  ") == ("spam", "bot, again")
    with pytest.raises(ValidationError) as caught:
        parse_close("won", "")
    assert set(caught.value.fields) == {"outcome", "note"}
