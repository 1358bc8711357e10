"""Normalisation of identifiers and parsing of an intake request (contract section 1)."""

from __future__ import annotations

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_web.domain.errors import ValidationError
from crm_web.domain.identifiers import (
    MAX_EXTERNAL_ID,
    MAX_MESSAGE,
    MAX_NAME,
    ContactInput,
    Identifiers,
    normalize_email,
    normalize_external_id,
    normalize_phone,
    parse_contact_input,
)

IDENTIFIER_FIELDS = ("external_id", "phone", "email")


# --- phone -------------------------------------------------------------------

SAME_RUSSIAN_NUMBER = [
    # the three spellings named by the contract
    "8 (999) 123-45-67",
    "+7 999 1234567",
    "79991234567",
    # more ways people type the same number
    "+79991234567",
    "89991234567",
    "9991234567",
    "8-999-123-45-67",
    "+7 (999) 123-45-67",
    "+7-999-123-45-67",
    "8.999.123.45.67",
    "+7.999.123.45.67",
    "8 999 123 45 67",
    "(999) 123 45 67",
    "  +7 999 123 45 67  ",
    "\t8(999)1234567\n",
    "+7 (999) 123 45 67",
    "7 999 123-45-67",
    "+7\u00a0999\u00a0123\u00a045\u00a067",  # non-breaking spaces, as pasted from a web page
    "\uff0b\uff17\uff19\uff19\uff19\uff11\uff12\uff13\uff14\uff15\uff16\uff17",  # full-width digits
]


@pytest.mark.parametrize("raw", SAME_RUSSIAN_NUMBER)
def test_russian_spellings_normalise_to_one_e164(raw):
    assert normalize_phone(raw) == "+79991234567"


def test_default_region_is_ru():
    assert normalize_phone("8 (999) 123-45-67") == normalize_phone("8 (999) 123-45-67", "RU")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+44 20 7946 0958", "+442079460958"),
        ("+44 (0)20 7946 0958", "+442079460958"),
        ("+1 (415) 555-2671", "+14155552671"),
        ("+1-415-555-2671", "+14155552671"),
        ("+1.415.555.2671", "+14155552671"),
        ("+49 30 123456", "+4930123456"),
        ("+33 1 23 45 67 89", "+33123456789"),
        ("+375 29 123-45-67", "+375291234567"),
    ],
)
def test_international_numbers_with_plus_ignore_the_default_region(raw, expected):
    assert normalize_phone(raw) == expected
    assert normalize_phone(raw, "US") == expected
    assert normalize_phone(raw, "GB") == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(415) 555-2671", "US", "+14155552671"),
        ("415.555.2671", "US", "+14155552671"),
        ("1 415 555 2671", "US", "+14155552671"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("030 123456", "DE", "+4930123456"),
        ("01 23 45 67 89", "FR", "+33123456789"),
    ],
)
def test_national_numbers_use_the_region_argument(raw, region, expected):
    assert normalize_phone(raw, region) == expected


def test_the_same_digits_mean_different_numbers_in_different_regions():
    assert normalize_phone("(415) 555-2671", "US") == "+14155552671"
    assert normalize_phone("(415) 555-2671", "RU") == "+74155552671"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "\t\n",
        "abc",
        "+7 999 ABC 45 67",
        "8 (999) 123-45-67 доб. 5",  # Cyrillic letters
        "call me: 89991234567",
        "1-800-FLOWERS",  # vanity numbers: letters are refused
        "123",  # too short
        "12345",
        "+7 999",
        "+7 999 123",
        "12345678901234567890",  # too long
        "+7 999 123 45 67 89 01 23",
        "+" + "1" * 30,
        "9" * 65,  # beyond the raw length limit
        "---",  # only punctuation
        "()",
        "+",
        "...",
        "+-() .",
        "#*#",
        "!!!@@@",  # garbage
        "\u2603\u2603",
    ],
)
def test_invalid_phones_are_rejected(raw):
    with pytest.raises(ValueError):
        normalize_phone(raw)


def test_national_number_without_plus_needs_a_known_region():
    with pytest.raises(ValueError):
        normalize_phone("(415) 555-2671", "ZZ")
    # with a leading + the region does not matter
    assert normalize_phone("+1 415 555 2671", "ZZ") == "+14155552671"


def test_phone_error_messages_say_why():
    with pytest.raises(ValueError, match="empty"):
        normalize_phone("  ")
    with pytest.raises(ValueError, match="letters"):
        normalize_phone("8 999 abc")
    with pytest.raises(ValueError, match="too long"):
        normalize_phone("1" * 100)
    with pytest.raises(ValueError, match="possible"):
        normalize_phone("123")


def _example_numbers():
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        number = phonenumbers.example_number(region)
        if number is not None:
            numbers.append((region, number))
    return numbers


EXAMPLE_NUMBERS = _example_numbers()


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(EXAMPLE_NUMBERS))
def test_example_numbers_round_trip_through_e164(region_and_number):
    region, number = region_and_number
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # E.164 input is a fixed point, whatever the default region
    assert normalize_phone(e164) == e164
    assert normalize_phone(e164, region) == e164
    # the international and national spellings of the region land on the same E.164
    international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    assert normalize_phone(international) == e164
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    assert normalize_phone(national, region) == e164


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_normalize_phone_returns_e164_or_raises_value_error(raw):
    try:
        result = normalize_phone(raw)
    except ValueError:
        return
    assert result.startswith("+")
    assert result[1:].isdigit()
    assert 2 <= len(result) <= 16
    # normalising is idempotent
    assert normalize_phone(result) == result


@settings(max_examples=200, deadline=None)
@given(
    st.from_regex(r"9[0-9]{9}", fullmatch=True),
    st.sampled_from(["+7 {a} {b}-{c}-{d}", "8 ({a}) {b}-{c}-{d}", "7{a}{b}{c}{d}", "8.{a}.{b}.{c}.{d}"]),
)
def test_any_russian_mobile_in_any_spelling_is_one_number(digits, template):
    raw = template.format(a=digits[:3], b=digits[3:6], c=digits[6:8], d=digits[8:])
    assert normalize_phone(raw) == "+7" + digits


# --- email -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("user@example.com", "user@example.com"),
        ("  user@example.com  ", "user@example.com"),
        ("\tUser@Example.COM\n", "user@example.com"),
        ("JOHN.SMITH@EXAMPLE.ORG", "john.smith@example.org"),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("user_name-1@example-domain.com", "user_name-1@example-domain.com"),
        ("Иван@Пример.РФ", "иван@пример.рф"),
    ],
)
def test_emails_are_trimmed_and_lower_cased(raw, expected):
    assert normalize_email(raw) == expected


def test_differently_cased_emails_are_the_same_identifier():
    assert normalize_email("Anna@Mail.RU") == normalize_email(" anna@mail.ru ")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "plainaddress",
        "@example.com",
        "user@",
        "user@@example.com",
        "user@example",  # no dot in the domain
        "user@localhost",
        "user@exa mple.com",
        "us er@example.com",
        "user..name@example.com",
        ".user@example.com",
        "user.@example.com",
        "user@.example.com",
        "user@example..com",
        "user@-example.com",
        "a@b@example.com",
        "user@example.com.",
        "\"quoted name\"@example.com",
        "user@[127.0.0.1]",
        "user@example.com, other@example.com",
        "<user@example.com>",
        "x" * 250 + "@example.com",  # over 254 characters in all
        "user@" + "a" * 250 + ".com",  # over the total length
    ],
)
def test_invalid_emails_are_rejected(raw):
    with pytest.raises(ValueError):
        normalize_email(raw)


def test_email_validation_does_not_touch_the_network(monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("network access during email validation")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "gethostbyname", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    # a syntactically valid address on a domain that does not exist is accepted
    assert normalize_email("someone@no-such-domain-for-crm-tests.com") == (
        "someone@no-such-domain-for-crm-tests.com"
    )


def test_email_errors_are_value_errors_with_a_reason():
    with pytest.raises(ValueError, match="empty"):
        normalize_email(" ")
    with pytest.raises(ValueError, match="valid email"):
        normalize_email("no-at-sign")


def _validated_by_email_validator(raw: str) -> str | None:
    """What email_validator itself makes of an address (lower-cased), or None if it refuses it."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


DOMAINS_SEEN_BEFORE = [
    "example.com", "Mail.RU", "yandex.ru", "sub.example.co.uk", "xn--80ak6aa92e.com", "a-b.example",
    "test", "localhost", "example.local", "example.123", "-bad.com", "bad-.com", "ex_ample.com",
    "example..com", "example.com.", "[192.168.0.1]", "x" * 64 + ".com", ("a" * 60 + ".") * 4 + "com",
]
LOCAL_CHARACTERS = "abcXYZ019._!#$%&'*+-/=?^`{|}~@ \"\u00e9"


@settings(max_examples=400, deadline=None)
@given(
    local=st.one_of(
        st.text(alphabet=LOCAL_CHARACTERS, min_size=0, max_size=70),
        st.from_regex(r"[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,40}(\.[a-z0-9_-]{1,30}){0,2}", fullmatch=True),
    ),
    domain=st.sampled_from(DOMAINS_SEEN_BEFORE),
)
def test_an_address_at_a_domain_seen_before_is_read_as_email_validator_reads_it(local, domain):
    normalize_email_or_none(f"first@{domain}")  # the domain seen before, if it is valid
    expected = _validated_by_email_validator(f"{local}@{domain}")
    assert normalize_email_or_none(f"{local}@{domain}") == expected


def normalize_email_or_none(raw: str) -> str | None:
    try:
        return normalize_email(raw)
    except ValueError:
        return None


@settings(max_examples=200, deadline=None)
@given(st.emails())
def test_normalized_email_is_lower_case_and_idempotent(raw):
    try:
        result = normalize_email(raw)
    except ValueError:
        # hypothesis may build addresses on reserved names (e.g. *.test) that are refused
        return
    assert result == result.strip()
    assert result == result.lower()
    assert normalize_email(result) == result
    assert normalize_email(raw.upper()) == result


# --- external_id -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abc-123", "abc-123"),
        ("  abc-123  ", "abc-123"),
        ("\tCRM 42\n", "CRM 42"),
        ("x", "x"),
        ("Заказ №7", "Заказ №7"),
        ("a" * MAX_EXTERNAL_ID, "a" * MAX_EXTERNAL_ID),
        (" " + "a" * MAX_EXTERNAL_ID + " ", "a" * MAX_EXTERNAL_ID),
    ],
)
def test_external_id_is_trimmed_and_kept_otherwise(raw, expected):
    assert normalize_external_id(raw) == expected


def test_external_id_keeps_case_and_inner_spaces():
    assert normalize_external_id("AbC  dEf") == "AbC  dEf"


@pytest.mark.parametrize("raw", ["", "   ", "\n\t", "a" * (MAX_EXTERNAL_ID + 1)])
def test_invalid_external_ids_are_rejected(raw):
    with pytest.raises(ValueError):
        normalize_external_id(raw)


def test_max_external_id_is_255():
    assert MAX_EXTERNAL_ID == 255


# --- Identifiers -------------------------------------------------------------


def test_identifiers_present_lists_given_ones_in_priority_order():
    ids = Identifiers(email="a@example.com", external_id="x", phone="+79991234567")
    assert list(ids.present().items()) == [
        ("external_id", "x"),
        ("phone", "+79991234567"),
        ("email", "a@example.com"),
    ]
    assert Identifiers(phone="+79991234567").present() == {"phone": "+79991234567"}
    assert Identifiers().present() == {}


# --- parse_contact_input -----------------------------------------------------


def _fields(data, region="RU"):
    with pytest.raises(ValidationError) as info:
        parse_contact_input(data, region)
    return info.value.fields


def test_full_request_is_normalised():
    result = parse_contact_input(
        {
            "external_id": "  ext-1 ",
            "phone": "8 (999) 123-45-67",
            "email": " Anna@Example.COM ",
            "name": "  Anna  ",
            "message": "  Call me back  ",
        },
        "RU",
    )
    assert result == ContactInput(
        Identifiers(external_id="ext-1", phone="+79991234567", email="anna@example.com"),
        name="Anna",
        message="Call me back",
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"external_id": "e1"}, Identifiers(external_id="e1")),
        ({"phone": "+7 999 1234567"}, Identifiers(phone="+79991234567")),
        ({"email": "a@example.com"}, Identifiers(email="a@example.com")),
    ],
)
def test_any_single_identifier_is_enough(data, expected):
    result = parse_contact_input(data, "RU")
    assert result.identifiers == expected
    assert result.name is None
    assert result.message is None


def test_region_argument_is_used_for_phones():
    assert parse_contact_input({"phone": "(415) 555-2671"}, "US").identifiers.phone == "+14155552671"
    assert parse_contact_input({"phone": "(415) 555-2671"}, "RU").identifiers.phone == "+74155552671"


@pytest.mark.parametrize("blank", [None, "", "   ", "\n\t "])
def test_null_and_blank_mean_not_given(blank):
    result = parse_contact_input(
        {"external_id": blank, "phone": "89991234567", "email": blank, "name": blank, "message": blank},
        "RU",
    )
    assert result == ContactInput(Identifiers(phone="+79991234567"))


def test_absent_fields_mean_not_given_and_unknown_fields_are_ignored():
    result = parse_contact_input({"email": "a@example.com", "utm_source": "ads", "extra": 5}, "RU")
    assert result == ContactInput(Identifiers(email="a@example.com"))


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"name": "Anna", "message": "hello"},
        {"external_id": None, "phone": None, "email": None},
        {"external_id": "", "phone": "  ", "email": "\t"},
        {"unknown": "+79991234567"},
    ],
)
def test_no_identifier_names_all_three_fields(data):
    with pytest.raises(ValidationError) as info:
        parse_contact_input(data, "RU")
    error = info.value
    assert set(error.fields) == set(IDENTIFIER_FIELDS)
    for field in IDENTIFIER_FIELDS:
        assert error.fields[field]
        for text in ("external_id", "phone", "email"):
            assert text in error.fields[field][0]
    assert "external_id" in error.message


def test_validation_error_is_a_value_error():
    with pytest.raises(ValueError):
        parse_contact_input({}, "RU")


@pytest.mark.parametrize("field", ["external_id", "phone", "email", "name", "message"])
@pytest.mark.parametrize("value", [5, 1.5, True, False, ["a"], {"a": 1}, b"bytes"])
def test_non_string_values_are_field_errors(field, value):
    data = {"external_id": "e1", field: value}
    fields = _fields(data)
    assert field in fields
    assert any("string" in text for text in fields[field])


def test_nul_characters_are_refused():
    fields = _fields({"external_id": "a\x00b", "name": "x\x00"})
    assert set(fields) == {"external_id", "name"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", "not a phone"),
        ("phone", "123"),
        ("email", "not-an-email"),
        ("external_id", "x" * (MAX_EXTERNAL_ID + 1)),
    ],
)
def test_invalid_identifier_is_a_field_error_even_with_a_valid_one(field, value):
    data = {"external_id": "e1", "phone": "+79991234567", "email": "a@example.com", field: value}
    assert set(_fields(data)) == {field}


def test_invalid_identifier_alone_reports_that_field_not_missing_identifiers():
    fields = _fields({"phone": "abc"})
    assert set(fields) == {"phone"}
    assert "letters" in fields["phone"][0]


def test_several_field_errors_are_collected_at_once():
    with pytest.raises(ValidationError) as info:
        parse_contact_input(
            {
                "external_id": "x" * 300,
                "phone": "12",
                "email": "nope",
                "name": "n" * (MAX_NAME + 1),
                "message": 42,
            },
            "RU",
        )
    error = info.value
    assert set(error.fields) == {"external_id", "phone", "email", "name", "message"}
    assert all(isinstance(msgs, list) and msgs and all(isinstance(m, str) for m in msgs)
               for msgs in error.fields.values())
    assert error.message


def test_missing_identifier_is_reported_together_with_other_errors():
    fields = _fields({"name": 123, "message": "m" * (MAX_MESSAGE + 1)})
    assert set(fields) == {"name", "message", *IDENTIFIER_FIELDS}


def test_name_and_message_limits():
    ok = parse_contact_input(
        {"phone": "+79991234567", "name": "n" * MAX_NAME, "message": "m" * MAX_MESSAGE}, "RU"
    )
    assert ok.name == "n" * MAX_NAME
    assert ok.message == "m" * MAX_MESSAGE
    # the limits apply after trimming
    padded = parse_contact_input({"phone": "+79991234567", "name": "  " + "n" * MAX_NAME + "  "}, "RU")
    assert padded.name == "n" * MAX_NAME

    assert set(_fields({"phone": "+79991234567", "name": "n" * (MAX_NAME + 1)})) == {"name"}
    assert set(_fields({"phone": "+79991234567", "message": "m" * (MAX_MESSAGE + 1)})) == {"message"}


def test_limits_match_the_documented_values():
    assert MAX_NAME == 255
    assert MAX_MESSAGE == 10_000


def test_message_keeps_inner_newlines():
    result = parse_contact_input({"email": "a@example.com", "message": "line 1\nline 2"}, "RU")
    assert result.message == "line 1\nline 2"


def test_works_with_any_mapping_such_as_form_data():
    class FormLike(dict):
        """A minimal stand-in for a form MultiDict: .get returns the first value."""

    result = parse_contact_input(FormLike(phone="8 999 123 45 67", name="Ivan"), "RU")
    assert result.identifiers.phone == "+79991234567"
    assert result.name == "Ivan"


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["external_id", "phone", "email", "name", "message", "other"]),
        st.one_of(st.none(), st.text(max_size=30), st.integers(), st.booleans()),
    )
)
def test_parse_contact_input_either_returns_an_identifier_or_raises_validation_error(data):
    try:
        result = parse_contact_input(data, "RU")
    except ValidationError as error:
        assert error.fields
        assert set(error.fields) <= {"external_id", "phone", "email", "name", "message"}
        return
    assert result.identifiers.present()
