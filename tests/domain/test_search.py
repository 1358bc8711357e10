"""What a search box's text asks for (crm_web/domain/search.py)."""

import pytest

from crm_web.domain.errors import ValidationError
from crm_web.domain.search import MAX_QUERY, fold, parse_query, phone_digits


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Анна", "анна"),
        ("АННА ПЕТРОВА", "анна петрова"),
        ("Семёнов", "семенов"),
        ("ЁЛКА", "елка"),
        ("Ivan  \t Petrov", "ivan petrov"),
        ("  MiXeD Case  ", "mixed case"),
    ],
)
def test_fold_reads_any_letter_case_and_yo_as_ye(text, folded):
    assert fold(text) == folded


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("123-45-67", "1234567"),
        ("+7 (999) 123-45-67", "79991234567"),
        ("4567", "4567"),
        ("12 34", "1234"),
        ("8.999.123", "8999123"),
    ],
)
def test_a_phone_query_is_its_digits_whatever_separates_them(text, digits):
    assert phone_digits(text) == digits


@pytest.mark.parametrize("text", ["123", "12-3", "(1)-2-3", "Анна 1234", "lead1234@example.com", "12a34"])
def test_fewer_than_four_digits_or_any_letter_is_not_a_phone_query(text):
    assert phone_digits(text) is None


def test_a_phone_query_searches_phones_not_text():
    query = parse_query(" 123-45-67 ", "RU")
    assert query.raw == "123-45-67"
    assert query.digits == "1234567"
    assert not query.searches_text


def test_a_whole_number_in_a_national_format_is_also_read_in_e164():
    query = parse_query("8 (999) 123-45-67", "RU")
    assert query.digits == "89991234567"
    assert query.phone == "+79991234567"


def test_three_digits_are_searched_as_text():
    query = parse_query("123", "RU")
    assert query.digits is None
    assert query.text == "123"
    assert query.searches_text


def test_a_name_is_searched_folded_as_text():
    query = parse_query("  ПЁТР  ", "RU")
    assert query.text == "петр"
    assert query.raw == "ПЁТР"
    assert query.searches_text and not query.too_short


@pytest.mark.parametrize("text", ["ab", "Ян", "1"])
def test_text_shorter_than_three_characters_is_too_short(text):
    query = parse_query(text, "RU")
    assert query.text is None
    assert query.too_short and not query.searches_text


def test_an_over_long_query_is_refused_on_q():
    with pytest.raises(ValidationError) as caught:
        parse_query("x" * (MAX_QUERY + 1), "RU")
    assert list(caught.value.fields) == ["q"]


def test_a_nul_character_is_refused_on_q():
    with pytest.raises(ValidationError) as caught:
        parse_query("an\x00na", "RU")
    assert list(caught.value.fields) == ["q"]
