"""The fields of a site form's body: decoding, bracket nesting, recognition by name, field_map."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_web.domain.errors import ValidationError
from crm_web.domain.form_body import (
    MAX_FIELD_MAP,
    body_fields,
    decode_form,
    flatten,
    is_secret_name,
    mapped_role,
    nest,
    normalise_name,
    validate_field_map,
)


def roles(body, field_map=None) -> dict[str, str | None]:
    return {item.name: item.role for item in body_fields(body, field_map)}


# --- decode_form -----------------------------------------------------------------------------------


def test_a_urlencoded_body_is_pairs_in_order_with_repeats_and_plus_as_space():
    raw = b"Name=%D0%90%D0%BD%D0%BD%D0%B0&Phone=%2B7+999+123-45-67&tag=a&tag=b&Page+URL=x"
    assert decode_form(raw) == [
        ("Name", "Анна"),
        ("Phone", "+7 999 123-45-67"),
        ("tag", "a"),
        ("tag", "b"),
        ("Page URL", "x"),
    ]


def test_a_key_without_a_value_is_blank_and_empty_parts_are_skipped():
    assert decode_form(b"a&&b=&=c&") == [("a", ""), ("b", ""), ("", "c")]


def test_a_body_that_is_not_utf8_is_read_as_windows_1251():
    name, value = quote("Имя".encode("cp1251")), quote("Анна".encode("cp1251"))
    raw = f"{name}={value}&Comments=%CF%E5%F0%E5%E7%E2%EE%ED%E8%F2%E5".encode()
    assert decode_form(raw) == [("Имя", "Анна"), ("Comments", "Перезвоните")]


def test_the_whole_body_switches_to_windows_1251_not_only_the_broken_value():
    # "Рё" in windows-1251 is D0 B8, which alone is valid UTF-8 ("и"): one encoding for the body.
    raw = b"brand=%D0%B8&city=%CA%E0%E7%E0%ED%FC"
    assert decode_form(raw) == [("brand", "Рё"), ("city", "Казань")]


def test_a_byte_windows_1251_lacks_is_replaced_not_refused():
    assert decode_form(b"a=%98%E0") == [("a", "\ufffdа")]


# --- nest and flatten ------------------------------------------------------------------------------


def test_bracket_keys_nest_and_repeated_keys_are_lists():
    pairs = [
        ("fields[phone][value]", "+7 999"),
        ("fields[phone][type]", "tel"),
        ("a[b][0]", "x"),
        ("a[b][1]", "y"),
        ("tag", "1"),
        ("tag", "2"),
        ("c[]", "p"),
        ("c[]", "q"),
    ]
    assert nest(pairs) == {
        "fields": {"phone": {"value": "+7 999", "type": "tel"}},
        "a": {"b": {"0": "x", "1": "y"}},
        "tag": ["1", "2"],
        "c": ["p", "q"],
    }


def test_clashing_shapes_keep_every_value():
    assert nest([("a", "1"), ("a[b]", "2")]) == {"a": "1", "a[b]": "2"}
    assert nest([("a[b]", "1"), ("a", "2")]) == {"a": {"b": "1", "": "2"}}
    assert nest([("x]", "1"), ("[y]", "2"), ("z[a][][b]", "3")]) == {"x]": "1", "[y]": "2", "z[a][][b]": "3"}


def test_flatten_joins_lists_and_names_nested_values_by_their_bracket_path():
    pairs = [("a[b][0]", "x"), ("a[b][1]", "y"), ("tag", "1"), ("tag", ""), ("tag", "2"), ("c[d]", "z")]
    assert flatten(pairs) == {"a[b]": "x, y", "tag": "1, 2", "c[d]": "z"}


def test_flatten_writes_json_numbers_booleans_and_arrays_as_text():
    body = {
        "phone": 79991234567,
        "agree": True,
        "no": False,
        "none": None,
        "services": ["SEO", "Ads"],
        "n": 1.5,
    }
    assert flatten(body) == {
        "phone": "79991234567",
        "agree": "true",
        "no": "false",
        "services": "SEO, Ads",
        "n": "1.5",
    }


def test_flatten_reads_elementor_advanced_fields_by_title_and_meta_by_title():
    pairs = [
        ("form[id]", "a1b2"),
        ("fields[name][id]", "name"),
        ("fields[name][type]", "text"),
        ("fields[name][title]", "Имя"),
        ("fields[name][value]", "Анна"),
        ("fields[name][raw_value]", "Анна"),
        ("fields[name][required]", "1"),
        ("fields[field_x][id]", "field_x"),
        ("fields[field_x][type]", "text"),
        ("fields[field_x][title]", ""),
        ("fields[field_x][value]", "без подписи"),
        ("meta[remote_ip][title]", "Remote IP"),
        ("meta[remote_ip][value]", "203.0.113.5"),
    ]
    assert flatten(pairs) == {
        "form[id]": "a1b2",
        "Имя": "Анна",
        "field_x": "без подписи",
        "Remote IP": "203.0.113.5",
    }


def test_deep_json_nesting_does_not_exhaust_the_recursion_limit():
    body: dict[str, object] = {"leaf": "x"}
    for _ in range(5000):
        body = {"a": body}
    ((name, text),) = flatten(body).items()
    assert text == "x" and name.startswith("a[a][a]")


def test_nul_characters_are_dropped_and_values_trimmed():
    assert flatten({" Name\x00 ": " Ан\x00на "}) == {"Name": "Анна"}


# --- recognition -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("phone", "phone"),
        ("Phone", "phone"),  # Tilda
        ("tel-715", "phone"),  # Contact Form 7's generated name
        ("your-phone", "phone"),
        ("phone_number", "phone"),
        ("Mobile", "phone"),
        ("Телефон", "phone"),
        ("ТЕЛ", "phone"),
        ("email", "email"),
        ("E-mail", "email"),
        ("your-email", "email"),
        ("Your Email", "email"),
        ("почта", "email"),
        ("Name", "name"),
        ("your-name", "name"),
        ("Full Name", "name"),
        ("Имя", "name"),
        ("ФИО", "name"),
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("Comments", "message"),  # Tilda's text area
        ("your-message", "message"),
        ("text", "message"),
        ("Вопрос", "message"),
        ("комментарий", "message"),
        ("external_id", "external_id"),
        ("utm_source", "utm_source"),
        ("UTM-Campaign", "utm_campaign"),
        ("Page URL", "page_url"),  # Elementor's simple mode
        ("page_url", "page_url"),
        ("referer", "page_url"),
        ("source_url", "page_url"),  # Gravity Forms
    ],
)
def test_a_field_is_recognised_by_its_name(name, role):
    assert roles({name: "x"}) == {name: role}


@pytest.mark.parametrize(
    "name", ["phone2", "your-subject", "1.3", "form_name", "tranid", "COOKIES", "Date", "id"]
)
def test_other_names_are_not_recognised(name):
    assert roles({name: "x"}) == {name: None}


def test_only_top_level_names_are_recognised():
    # Elementor's form[name] is the form's name, not the visitor's.
    assert roles([("form[name]", "Заявка"), ("contact[phone]", "+7 999")]) == {
        "form[name]": None,
        "contact[phone]": None,
    }


def elementor_field(field_id: str, type_: str, title: str, value: str) -> list[tuple[str, str]]:
    return [
        (f"fields[{field_id}][id]", field_id),
        (f"fields[{field_id}][type]", type_),
        (f"fields[{field_id}][title]", title),
        (f"fields[{field_id}][value]", value),
    ]


def test_elementor_fields_are_recognised_by_type_then_title_then_id():
    pairs = [
        *elementor_field("field_1", "tel", "Как с вами связаться", "+7 999 123 45 67"),
        *elementor_field("field_2", "email", "Телефон", "a@example.com"),  # the type wins
        *elementor_field("field_3", "text", "Телефон", "8 999 000 00 00"),
        *elementor_field("message", "textarea", "Расскажите о задаче", "Нужен сайт"),
        *elementor_field("field_5", "text", "Город", "Казань"),
    ]
    assert roles(pairs) == {
        "Как с вами связаться": "phone",
        "Телефон": "phone",
        "Расскажите о задаче": "message",
        "Город": None,
    }
    assert [item.role for item in body_fields(pairs)][:2] == ["phone", "email"]


def test_elementor_meta_is_not_a_form_field_except_for_the_page_address():
    pairs = [
        ("meta[page_url][title]", "Page URL"),
        ("meta[page_url][value]", "https://site.ru/"),
        ("meta[page_title][title]", "Name"),  # a meta titled like a field is still metadata
        ("meta[page_title][value]", "Главная"),
    ]
    assert roles(pairs) == {"Page URL": "page_url", "Name": None}


# --- field_map -------------------------------------------------------------------------------------


def test_field_map_wins_over_recognition():
    assert roles(
        {"Phone": "+7 999", "1.3": "Анна", "Name": "ООО Ромашка"}, {"1.3": "name", "Name": "message"}
    ) == {
        "Phone": "phone",
        "1.3": "name",
        "Name": "message",
    }


def test_field_map_matches_an_elementor_field_by_id_and_a_nested_field_by_its_path():
    pairs = [*elementor_field("field_9", "text", "Ваш номер", "+7 999"), ("contact[mail]", "a@example.com")]
    assert roles(pairs, {"field_9": "phone", "contact[mail]": "email"}) == {
        "Ваш номер": "phone",
        "contact[mail]": "email",
    }


def test_field_map_matches_exactly_first_then_ignoring_case_and_separators():
    assert mapped_role(["Ваш Телефон"], {"ваш-телефон": "phone"}) == "phone"
    assert mapped_role(["Tel"], {"tel": "email", "Tel": "phone"}) == "phone"
    assert mapped_role(["tel-716"], {"tel-715": "phone"}) is None  # the number is part of the name here
    assert mapped_role(["x"], {"x": "nonsense"}) is None  # a stored map is trusted, not obeyed blindly


def test_a_valid_field_map_is_returned_with_trimmed_names():
    assert validate_field_map({" 1.3 ": "name", "Ваш телефон": "phone"}) == {
        "1.3": "name",
        "Ваш телефон": "phone",
    }
    assert validate_field_map(None) == {}
    assert validate_field_map({}) == {}
    assert len(validate_field_map({f"f{i}": "message" for i in range(MAX_FIELD_MAP)})) == MAX_FIELD_MAP


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (["phone"], "Must be an object"),
        ("phone", "Must be an object"),
        ({f"f{i}": "name" for i in range(MAX_FIELD_MAP + 1)}, "At most 50 entries"),
        ({"a": "address"}, "must be one of name, phone, email, external_id, message"),
        ({"a": None}, "must be one of"),
        ({"a": "Phone"}, "must be one of"),
        ({"": "phone"}, "must not be empty"),
        ({"   ": "phone"}, "must not be empty"),
        ({"a\x00": "phone"}, "must not contain NUL"),
        ({5: "phone"}, "must not be empty"),
        ({"x" * 256: "phone"}, "longer than 255"),
        ({"a": "phone", " a ": "email"}, "given twice"),
    ],
)
def test_an_invalid_field_map_is_refused_on_the_field_map_field(value, says):
    with pytest.raises(ValidationError) as caught:
        validate_field_map(value)
    assert list(caught.value.fields) == ["field_map"]
    assert any(says in message for message in caught.value.fields["field_map"])


# --- properties ------------------------------------------------------------------------------------

keys = st.text(alphabet=st.sampled_from("ab[]0 -_\x00Тт"), max_size=12)
values = st.text(max_size=12)


@settings(max_examples=300)
@given(st.lists(st.tuples(keys, values), max_size=12))
def test_nest_and_flatten_never_fail_and_lose_no_value(pairs):
    flat = flatten(pairs)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in flat.items())
    texts = " | ".join(flat.values())
    for _, value in pairs:
        cleaned = value.replace("\x00", "").strip()
        assert cleaned in texts


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_flatten_never_fails_on_any_json_object(body):
    assert all(isinstance(v, str) and v for v in flatten(body).values())


def test_what_is_kept_per_field_name_holds_short_names_only():
    from crm_web.domain import form_body

    long_names = [f"Телефон {'x' * 200} {n}" for n in range(50)]
    before = (form_body._normalised.cache_info().currsize, form_body._is_secret_cached.cache_info().currsize)
    for name in long_names:
        assert normalise_name(name) == normalise_name(name.upper())
        assert not is_secret_name(name)
    after = (form_body._normalised.cache_info().currsize, form_body._is_secret_cached.cache_info().currsize)
    assert after == before
    assert normalise_name("Your-Phone-715") == normalise_name("your phone")
    assert is_secret_name(" Webhook-Token ")
