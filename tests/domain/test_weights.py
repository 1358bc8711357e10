"""Distribution weights: decimals with at most two places in 0.01..999.99."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_web.domain.weights import MAX_WEIGHT, MIN_WEIGHT, format_weight, parse_weight


def test_bounds():
    assert str(MIN_WEIGHT) == "0.01"
    assert str(MAX_WEIGHT) == "999.99"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.5", Decimal("10.50")),
        ("10.50", Decimal("10.50")),
        ("10", Decimal("10.00")),
        ("  10.5  ", Decimal("10.50")),
        ("0.01", Decimal("0.01")),
        ("999.99", Decimal("999.99")),
        ("1", Decimal("1.00")),
        (".5", Decimal("0.50")),
        ("+5", Decimal("5.00")),
        ("007.10", Decimal("7.10")),
        ("1.000", Decimal("1.00")),  # trailing zeros add no precision
        (10, Decimal("10.00")),
        (1, Decimal("1.00")),
        (999, Decimal("999.00")),
        (10.5, Decimal("10.50")),
        (0.01, Decimal("0.01")),
        (999.99, Decimal("999.99")),
        (0.1, Decimal("0.10")),
        (33.33, Decimal("33.33")),
        (Decimal("10.5"), Decimal("10.50")),
        (Decimal("0.010"), Decimal("0.01")),
    ],
)
def test_accepted_weights(value, expected):
    result = parse_weight(value)
    assert result == expected
    assert isinstance(result, Decimal)
    # always exactly two places
    assert result.as_tuple().exponent == -2


def test_parsed_weight_keeps_two_places_in_text():
    assert str(parse_weight("10.5")) == "10.50"
    assert str(parse_weight(7)) == "7.00"


@pytest.mark.parametrize(
    "value",
    [
        # not numbers or strings
        True,
        False,
        None,
        [],
        [10],
        {},
        {"weight": 10},
        (1,),
        {1},
        object(),
        b"10",
        # not finite
        "NaN",
        "nan",
        "sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        float("nan"),
        float("inf"),
        float("-inf"),
        Decimal("NaN"),
        Decimal("Infinity"),
        # not a number
        "",
        "   ",
        "abc",
        "10,5",
        "10.5.1",
        "1 0",
        "ten",
        "10.5abc",
        "$10",
        "10%",
        "--1",
        # more than two decimals
        "1.001",
        "10.555",
        "0.005",
        "0.001",
        "999.989",
        1.001,
        10.555,
        0.1 + 0.2,
        Decimal("1.001"),
        # out of range
        0,
        0.0,
        "0",
        "0.00",
        "-0",
        "-0.01",
        -1,
        "-1",
        -0.5,
        1000,
        "1000",
        "1000.00",
        "999.999",
        1000.0,
        10**6,
        "1e3",
        Decimal("1000"),
    ],
)
def test_rejected_weights_raise_value_error(value):
    with pytest.raises(ValueError):
        parse_weight(value)


@pytest.mark.parametrize(
    "value",
    [
        "12345678901234567890123456789.123",  # more digits than the decimal context holds
        "1" * 40 + ".5",
        "9" * 100,
        "1e100",
        "1E+1000000",
        "1e-1000000",
        "0." + "0" * 60 + "1",
        10**30,
        pytest.param(10**5000, id="int-with-5001-digits"),  # beyond Python's int-to-str digit limit
        Decimal("1" * 50 + ".123"),
        1e300,
        1e-300,
    ],
)
def test_extreme_values_raise_value_error_not_other_errors(value):
    # Anything other than ValueError would surface as a server error instead of 422.
    with pytest.raises(ValueError):
        parse_weight(value)


def test_error_messages_say_why():
    with pytest.raises(ValueError, match="number or a string"):
        parse_weight(True)
    with pytest.raises(ValueError, match="empty"):
        parse_weight("  ")
    with pytest.raises(ValueError, match="plain decimal number"):
        parse_weight("abc")
    with pytest.raises(ValueError, match="plain decimal number"):
        parse_weight("NaN")
    with pytest.raises(ValueError, match="finite"):
        parse_weight(float("nan"))
    with pytest.raises(ValueError, match="two decimal places"):
        parse_weight("1.001")
    with pytest.raises(ValueError, match="between 0.01 and 999.99"):
        parse_weight("1000")
    with pytest.raises(ValueError, match="between 0.01 and 999.99"):
        parse_weight("0")


# --- format_weight -----------------------------------------------------------


@pytest.mark.parametrize(
    ("weight", "text"),
    [
        (Decimal("10.5"), "10.50"),
        (Decimal("10"), "10.00"),
        (Decimal("0.01"), "0.01"),
        (Decimal("999.99"), "999.99"),
        (Decimal("1.00"), "1.00"),
        (Decimal("7.1000000000"), "7.10"),  # as SQLite hands back a NUMERIC column
    ],
)
def test_format_weight_gives_two_decimals(weight, text):
    assert format_weight(weight) == text


def test_format_weight_never_uses_exponent_notation():
    assert format_weight(Decimal("1E+2")) == "100.00"
    assert format_weight(Decimal("1E-2")) == "0.01"


# --- properties --------------------------------------------------------------

_weights = st.decimals(min_value=MIN_WEIGHT, max_value=MAX_WEIGHT, places=2)


@settings(max_examples=300, deadline=None)
@given(_weights)
def test_every_valid_weight_round_trips_through_text(weight):
    text = format_weight(weight)
    assert parse_weight(text) == weight
    assert format_weight(parse_weight(text)) == text
    assert parse_weight(weight) == weight
    assert parse_weight(f"  {text} ") == weight


@settings(max_examples=300, deadline=None)
@given(_weights)
def test_every_valid_weight_as_float_is_accepted(weight):
    # JSON numbers arrive as floats; every two-place value must survive that trip
    assert parse_weight(float(weight)) == weight


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=999))
def test_integers_in_range_are_accepted(value):
    assert parse_weight(value) == Decimal(value)
    assert parse_weight(str(value)) == Decimal(value)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=20), st.floats(), st.integers(), st.decimals(), st.none(), st.booleans()))
def test_parse_weight_either_returns_a_valid_weight_or_raises_value_error(value):
    try:
        result = parse_weight(value)
    except ValueError:
        return
    assert MIN_WEIGHT <= result <= MAX_WEIGHT
    assert result.as_tuple().exponent == -2
    assert format_weight(result) == str(result)


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(min_value=MIN_WEIGHT, max_value=MAX_WEIGHT, places=3).filter(
        lambda d: d != d.quantize(Decimal("0.01"))
    )
)
def test_three_significant_places_are_rejected(weight):
    with pytest.raises(ValueError):
        parse_weight(str(weight))
