"""Stored phones shown as people write them, and the example number a visitor is offered (contract §5)."""

from __future__ import annotations

import pytest

from crm_web.domain.identifiers import normalize_phone
from crm_web.domain.phone_display import display_phone, example_phone


@pytest.mark.parametrize(
    "stored, shown",
    [
        ("+79991234567", "+7 999 123-45-67"),  # Russian mobile
        ("+74951234567", "+7 495 123-45-67"),  # Moscow landline
        ("+442079460958", "+44 20 7946 0958"),  # London: its own grouping
        ("+12025550123", "+1 202-555-0123"),  # the US
    ],
)
def test_a_stored_number_is_shown_in_its_countrys_international_format(stored, shown):
    assert display_phone(stored) == shown


@pytest.mark.parametrize("stored", ["garbage", "", "89991234567", "+7123", "+0 000"])
def test_what_cannot_be_read_as_a_number_is_shown_as_stored(stored):
    assert display_phone(stored) == stored


@pytest.mark.parametrize("typed", ["8 (999) 123-45-67", "+7 999 123 45 67", "+44 20 7946 0958"])
def test_a_shown_number_normalises_back_to_what_is_stored(typed):
    stored = normalize_phone(typed, "RU")
    assert normalize_phone(display_phone(stored), "RU") == stored


def test_the_example_number_is_a_valid_mobile_of_the_region_written_as_pages_show_it():
    example = example_phone("RU")
    assert example is not None and example.startswith("+7 9")
    assert display_phone(normalize_phone(example, "RU")) == example
    assert example_phone("GB").startswith("+44 ")


def test_an_unknown_region_has_no_example():
    assert example_phone("ZZ") is None
