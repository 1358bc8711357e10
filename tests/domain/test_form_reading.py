"""Site form submissions (contract §2a) as Tilda, Elementor, CF7, Gravity and Yandex Forms post them.

Each sender's shapes are taken from its own documentation or source code, cited above its tests.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_web.domain.form_body import decode_form
from crm_web.domain.form_reading import (
    MAX_DELIVERY_ID,
    MAX_PAGE_URL,
    NO_IDENTIFIER,
    read_site_form,
    utm_from_tilda_cookies,
)
from crm_web.domain.identifiers import MAX_MESSAGE, MAX_NAME, Identifiers


def tilda_cookie(utm: str) -> str:
    # As Tilda's script sets it: encodeURIComponent of the page's raw utm pairs, each followed by |||.
    return "_ga=GA1.2.111.222; TILDAUTM=" + quote(utm, safe="") + "; _ym_uid=1700000000123"


# --- Tilda -----------------------------------------------------------------------------------------
# Shapes from Tilda's help, "Webhook" (help-ru.tilda.cc/formsscript): urlencoded variable names
# (default `Name`, `Email`, `Phone`, a `Comments` text area), `tranid` and `formid` added, a `test=test`
# ping on connecting, the optional `COOKIES` field with the TILDAUTM cookie.


def test_tilda_form_gives_the_contact_its_utm_from_the_cookie_and_keeps_the_rest():
    cookies = tilda_cookie("utm_source=yandex|||utm_medium=cpc|||utm_campaign=%D0%B7%D0%B8%D0%BC%D0%B0|||")
    raw = urlencode(
        {
            "Name": "Анна",
            "Phone": "+7 (999) 123-45-67",
            "Email": "Anna@Example.com",
            "Comments": "Перезвоните после обеда",
            "tranid": "1111111:6161583731",
            "formid": "form384950021",
            "COOKIES": cookies,
        }
    ).encode()
    reading = read_site_form(decode_form(raw))
    assert reading.contact.identifiers == Identifiers(phone="+79991234567", email="anna@example.com")
    assert (reading.contact.name, reading.contact.message) == ("Анна", "Перезвоните после обеда")
    assert reading.utm == {"utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": "зима"}
    assert reading.page_url is None
    # COOKIES stays: it also carries the analytics ids that tie the lead to its visit.
    assert reading.form_fields == {
        "tranid": "1111111:6161583731",
        "formid": "form384950021",
        "COOKIES": cookies,
    }
    assert reading.delivery_id == "1111111:6161583731"
    assert reading.warnings == []
    assert reading.recognised == {"Name": "name", "Phone": "phone", "Email": "email", "Comments": "message"}
    assert not reading.empty and not reading.is_connection_check


def test_tilda_connection_check_is_a_body_whose_only_field_is_test():
    reading = read_site_form(decode_form(b"test=test"))
    assert reading.is_connection_check
    assert reading.form_fields == {} and reading.warnings == []
    assert read_site_form({"test": "test"}).is_connection_check
    assert not read_site_form([("test", "test"), ("Phone", "+79991234567")]).is_connection_check


def test_tilda_hidden_utm_fields_arrive_top_level_and_are_not_form_fields():
    cookies = tilda_cookie("utm_source=old|||utm_campaign=summer|||")
    reading = read_site_form(
        [("Phone", "89991234567"), ("utm_source", "vk"), ("utm_medium", "social"), ("COOKIES", cookies)]
    )
    # One place for all keys: the fields; the cookie's month-old campaign is not mixed in.
    assert reading.utm == {"utm_source": "vk", "utm_medium": "social"}
    assert reading.form_fields == {"COOKIES": cookies}
    assert reading.recognised == {"Phone": "phone", "utm_source": "utm_source", "utm_medium": "utm_medium"}


def test_tilda_cookie_reading():
    assert utm_from_tilda_cookies(
        "a=1; TILDAUTM=utm_source%3Dgoogle%7C%7C%7Cutm_term%3Dcrm%2B%D1%86%D0%B5%D0%BD%D0%B0%7C%7C%7C"
    ) == {
        "utm_source": "google",
        "utm_term": "crm цена",
    }
    assert utm_from_tilda_cookies("TILDAUTM=; x=y") == {}
    assert utm_from_tilda_cookies("") == {}
    assert utm_from_tilda_cookies("TILDAUTM=utm_source%3D%7C%7C%7Cfoo%3Dbar") == {}


# --- Elementor -------------------------------------------------------------------------------------
# Shapes from Elementor Pro's webhook action as published in its GPL fork, proelements
# (modules/forms/actions/webhook.php, classes/form-record.php): `wp_remote_post` with an array body,
# simple mode keyed by field labels plus `form_id`, `form_name` and the meta labels; advanced mode
# `form[...]`, `fields[<id>][id|type|title|value|raw_value|required]`, `meta[<key>][title|value]`.


def test_elementor_simple_mode_sends_labels_and_metadata():
    body = urlencode(
        {
            "Имя": "Пётр",
            "Email": "petr@example.com",
            "Телефон": "8 (912) 345-67-89",
            "Сообщение": "Сколько стоит?",
            "Date": "5 декабря 2025",
            "Time": "12:30",
            "Page URL": "https://site.ru/uslugi/?utm_source=google&utm_medium=cpc&utm_term=crm+%D1%86%D0%B5%D0%BD%D0%B0",
            "User Agent": "Mozilla/5.0",
            "Remote IP": "203.0.113.5",
            "form_id": "3f2a1b0",
            "form_name": "Заявка",
        }
    ).encode()
    reading = read_site_form(decode_form(body))
    assert reading.contact.identifiers == Identifiers(phone="+79123456789", email="petr@example.com")
    assert (reading.contact.name, reading.contact.message) == ("Пётр", "Сколько стоит?")
    assert reading.page_url.startswith("https://site.ru/uslugi/?utm_source=google")
    assert reading.utm == {"utm_source": "google", "utm_medium": "cpc", "utm_term": "crm цена"}
    assert list(reading.form_fields) == ["Date", "Time", "User Agent", "Remote IP", "form_id", "form_name"]


def elementor_field(field_id: str, type_: str, title: str, value: str) -> list[tuple[str, str]]:
    return [
        (f"fields[{field_id}][id]", field_id),
        (f"fields[{field_id}][type]", type_),
        (f"fields[{field_id}][title]", title),
        (f"fields[{field_id}][value]", value),
        (f"fields[{field_id}][raw_value]", value),
        (f"fields[{field_id}][required]", "1"),
    ]


def test_elementor_advanced_data_is_read_by_type_and_title_with_the_page_from_meta():
    pairs = [
        ("form[id]", "3f2a1b0"),
        ("form[name]", "Заявка с лендинга"),
        *elementor_field("name", "text", "Ваше имя", "Ольга"),
        *elementor_field("field_a1b2c3", "tel", "Как с вами связаться", "+7 912 345 67 89"),
        *elementor_field("field_d4e5f6", "email", "", "olga@example.com"),
        *elementor_field("field_g7", "textarea", "Комментарий", "Нужна консультация"),
        *elementor_field("field_h8", "select", "Бюджет", "до 100 000"),
        ("meta[date][title]", "Date"),
        ("meta[date][value]", "5 декабря 2025"),
        ("meta[page_url][title]", "Page URL"),
        ("meta[page_url][value]", "https://site.ru/promo?utm_source=vk&utm_campaign=dec&fbclid=x"),
        ("meta[remote_ip][title]", "Remote IP"),
        ("meta[remote_ip][value]", "203.0.113.5"),
    ]
    reading = read_site_form(decode_form(urlencode(pairs).encode()))
    assert reading.contact.identifiers == Identifiers(phone="+79123456789", email="olga@example.com")
    assert (reading.contact.name, reading.contact.message) == ("Ольга", "Нужна консультация")
    assert reading.page_url == "https://site.ru/promo?utm_source=vk&utm_campaign=dec&fbclid=x"
    assert reading.utm == {"utm_source": "vk", "utm_campaign": "dec"}
    assert reading.form_fields == {
        "form[id]": "3f2a1b0",
        "form[name]": "Заявка с лендинга",  # the form's name, never the visitor's
        "Бюджет": "до 100 000",
        "Date": "5 декабря 2025",
        "Remote IP": "203.0.113.5",
    }
    assert reading.warnings == []


# --- Contact Form 7, Gravity Forms, Yandex Forms ---------------------------------------------------


def test_contact_form_7_json_with_generated_names_and_checkbox_arrays():
    # CF7 to Webhook (mariovalney/cf7-to-zapier): the posted data as JSON, CF7's own field names
    # (`your-name`, generated `tel-715`), checkboxes as arrays.
    body = {
        "your-name": "Иван Петров",
        "your-email": "ivan@example.com",
        "tel-715": "+7 903 111-22-33",
        "your-subject": "Доставка",
        "your-message": "Привезите в субботу",
        "checkbox-231": ["Самовывоз", "Оплата картой"],
        "acceptance-1": 1,
    }
    reading = read_site_form(body)
    assert reading.contact.identifiers == Identifiers(phone="+79031112233", email="ivan@example.com")
    assert (reading.contact.name, reading.contact.message) == ("Иван Петров", "Привезите в субботу")
    assert reading.form_fields == {
        "your-subject": "Доставка",
        "checkbox-231": "Самовывоз, Оплата картой",
        "acceptance-1": "1",
    }


def test_gravity_forms_numeric_ids_are_read_through_the_field_map():
    # Gravity Forms Webhooks add-on, "all fields" (docs.gravityforms.com: webhooks, the entry
    # object): numeric field ids, `1.3`/`1.6` for a name's first and last inputs, entry metadata.
    body = {
        "id": "1024",
        "form_id": "3",
        "date_created": "2025-12-05 09:30:00",
        "1.3": "Мария",
        "1.6": "Соколова",
        "2": "(916) 555-44-33",
        "3": "maria@example.com",
        "4": "Хочу демо",
        "source_url": "https://shop.example/contact?utm_source=newsletter",
        "ip": "198.51.100.7",
    }
    field_map = {"1.3": "name", "1.6": "name", "2": "phone", "3": "email", "4": "message"}
    reading = read_site_form(body, field_map=field_map)
    assert reading.contact.identifiers == Identifiers(phone="+79165554433", email="maria@example.com")
    assert (reading.contact.name, reading.contact.message) == ("Мария Соколова", "Хочу демо")
    assert reading.page_url == "https://shop.example/contact?utm_source=newsletter"
    assert reading.utm == {"utm_source": "newsletter"}
    assert reading.form_fields == {
        "id": "1024",
        "form_id": "3",
        "date_created": "2025-12-05 09:30:00",
        "ip": "198.51.100.7",
    }
    assert read_site_form(body).contact.identifiers == Identifiers()  # without the map: nothing to go on


def test_yandex_forms_custom_keys_with_a_field_map_and_the_delivery_header():
    # Yandex Forms, "HTTP request" integration (yandex-cloud docs ru/forms/send-request.md): a JSON
    # body the owner writes with keys of their choosing; each delivery marked with X-Delivery-Id.
    body = {
        "Как вас зовут?": "Олег",
        "Номер для связи": "8 800 555 35 35",
        "Город": "Пермь",
        "id ответа": 7781,
    }
    field_map = {"Как вас зовут?": "name", "Номер для связи": "phone"}
    reading = read_site_form(body, field_map=field_map, delivery_header="  d41d8cd98f00  ")
    assert reading.contact.identifiers == Identifiers(phone="+78005553535")
    assert reading.contact.name == "Олег"
    assert reading.form_fields == {"Город": "Пермь", "id ответа": "7781"}
    assert reading.delivery_id == "d41d8cd98f00"


def test_yandex_forms_json_rpc_envelope_is_unwrapped():
    # The same integration's JSON-RPC 2.0 mode: the answers in `params`.
    body = {
        "jsonrpc": "2.0",
        "method": "lead",
        "params": {"phone": "+79990001122", "answer": "да"},
        "id": "42",
    }
    reading = read_site_form(body)
    assert reading.contact.identifiers == Identifiers(phone="+79990001122")
    assert reading.form_fields == {"answer": "да"}


def test_windows_1251_form_is_read():
    raw = "&".join(
        f"{quote(k.encode('cp1251'))}={quote(v.encode('cp1251'))}"
        for k, v in [
            ("Имя", "Сергей"),
            ("Телефон", "8 999 123-45-67"),
            ("Вопрос", "Есть ли доставка?"),
        ]
    ).encode()
    reading = read_site_form(decode_form(raw))
    assert reading.contact.name == "Сергей"
    assert reading.contact.message == "Есть ли доставка?"
    assert reading.contact.identifiers.phone == "+79991234567"


# --- not refused for content -----------------------------------------------------------------------


def test_an_unreadable_phone_is_kept_with_a_warning_and_the_email_is_still_used():
    reading = read_site_form({"Name": "Анна", "Phone": "позвоните вечером", "Email": "anna@example.com"})
    assert reading.contact.identifiers == Identifiers(email="anna@example.com")
    assert reading.form_fields == {"Phone": "позвоните вечером"}
    assert reading.warnings == [
        'Phone "позвоните вечером" (field "Phone") could not be read: Phone number must not contain letters.'
    ]
    assert reading.warnings[0].template.startswith("Phone ")  # translatable (N_)


def test_an_unreadable_email_and_an_over_long_external_id_are_kept_with_warnings():
    reading = read_site_form({"email": "anna@", "external_id": "x" * 300, "phone": "+79991234567"})
    assert reading.contact.identifiers == Identifiers(phone="+79991234567")
    assert reading.form_fields == {"email": "anna@", "external_id": "x" * 300}
    assert reading.warnings[0].startswith('Email "anna@" (field "email") could not be read')
    assert reading.warnings[1].startswith('External id "' + "x" * 100 + '…"')


def test_a_second_phone_is_kept_and_the_first_readable_one_used():
    reading = read_site_form([("phone", "12"), ("tel", "+7 999 123-45-67"), ("mobile", "+7 912 000-00-00")])
    assert reading.contact.identifiers.phone == "+79991234567"
    assert reading.form_fields == {"phone": "12", "mobile": "+7 912 000-00-00"}
    assert len(reading.warnings) == 1


def test_a_submission_without_a_readable_identifier_is_still_a_reading_with_a_warning():
    reading = read_site_form({"Name": "Аноним", "Comments": "Просто спросить", "Phone": "нет"})
    assert reading.contact.identifiers == Identifiers()
    assert reading.contact.name == "Аноним"
    assert not reading.empty
    assert reading.warnings[-1] == NO_IDENTIFIER
    assert reading.form_fields == {"Phone": "нет"}


def test_only_blanks_is_empty_and_blank_fields_are_never_kept():
    assert read_site_form(decode_form(b"Name=+&Phone=&Email=%20%20")).empty
    assert read_site_form({"a": [], "b": None, "c": {"d": ""}}).empty
    assert read_site_form([]).empty
    reading = read_site_form({"Phone": "+79991234567", "Comments": "  ", "extra": ""})
    assert not reading.empty and reading.form_fields == {} and reading.contact.message is None


def test_a_long_name_and_message_are_cut_with_a_warning_and_kept_whole():
    name, message = "Я" * (MAX_NAME + 5), "м" * (MAX_MESSAGE + 1)
    reading = read_site_form({"name": name, "message": message, "phone": "+79991234567"})
    assert reading.contact.name == "Я" * MAX_NAME
    assert reading.contact.message == "м" * MAX_MESSAGE
    assert reading.form_fields == {"name": name, "message": message}
    assert [w.template.split(" is longer")[0] for w in reading.warnings] == ["The name", "The message"]


def test_first_and_last_name_are_joined_first_name_first():
    reading = read_site_form([("last_name", "Иванова"), ("email", "a@example.com"), ("first_name", "Анна")])
    assert reading.contact.name == "Анна Иванова"
    assert reading.recognised == {"last_name": "name", "email": "email", "first_name": "name"}


def test_several_message_fields_are_joined():
    reading = read_site_form(
        {"Вопрос": "Есть доставка?", "Комментарий": "Лучше утром", "phone": "+79991234567"}
    )
    assert reading.contact.message == "Есть доставка?\n\nЛучше утром"


def test_repeated_fields_are_kept_joined_in_the_order_received():
    reading = read_site_form(decode_form(b"phone=%2B79991234567&service=SEO&city=Kazan&service=Ads"))
    assert reading.form_fields == {"service": "SEO, Ads", "city": "Kazan"}


# --- attribution and delivery id -------------------------------------------------------------------


def test_utm_comes_from_fields_before_the_page_address_and_the_cookie():
    reading = read_site_form(
        {
            "phone": "+79991234567",
            "utm_campaign": "winter",
            "url": "https://a.example/?utm_source=google",
            "COOKIES": tilda_cookie("utm_source=yandex|||"),
        }
    )
    assert reading.utm == {"utm_campaign": "winter"}
    assert reading.page_url == "https://a.example/?utm_source=google"


def test_the_page_address_query_comes_before_the_cookie():
    reading = read_site_form(
        {
            "referer": "https://a.example/p?x=1&UTM_SOURCE=google#top",
            "COOKIES": tilda_cookie("utm_source=yandex|||"),
        }
    )
    assert reading.utm == {"utm_source": "google"}


def test_an_over_long_page_address_or_utm_value_stays_an_ordinary_field():
    url = "https://a.example/?" + "q" * MAX_PAGE_URL
    reading = read_site_form({"page_url": url, "utm_source": "s" * 256, "email": "a@example.com"})
    assert reading.page_url is None and reading.utm == {}
    assert reading.form_fields == {"page_url": url, "utm_source": "s" * 256}


def test_a_second_page_address_is_kept():
    reading = read_site_form({"Page URL": "https://a.example/", "referer": "https://google.com/"})
    assert reading.page_url == "https://a.example/"
    assert reading.form_fields == {"referer": "https://google.com/"}


def test_the_delivery_id_is_tildas_tranid_then_the_header():
    assert read_site_form({"tranid": "1:2", "Phone": "1"}, delivery_header="h").delivery_id == "1:2"
    assert read_site_form({"Phone": "1"}, delivery_header="h").delivery_id == "h"
    assert read_site_form({"Phone": "1"}).delivery_id is None
    assert read_site_form({"Phone": "1"}, delivery_header="x" * (MAX_DELIVERY_ID + 1)).delivery_id is None
    assert read_site_form({"tranid": "t" * 300, "Phone": "1"}, delivery_header="h").delivery_id == "h"


def test_field_map_can_take_a_utm_named_field_as_something_else():
    reading = read_site_form({"utm_source": "ivan@example.com"}, field_map={"utm_source": "email"})
    assert reading.contact.identifiers.email == "ivan@example.com" and reading.utm == {}


# --- property: nothing sent is lost ----------------------------------------------------------------

names = st.sampled_from(
    [
        "Name",
        "Phone",
        "Email",
        "Comments",
        "tel-715",
        "utm_source",
        "page_url",
        "COOKIES",
        "tranid",
        "Город",
        "first_name",
        "last_name",
        "external_id",
        "1.3",
        "x",
        "test",
    ]
)
texts = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["+7 999 123-45-67", "a@example.com", "https://a.example/?utm_source=g", "  "]),
)


@settings(max_examples=300)
@given(
    st.lists(st.tuples(names, texts), max_size=10), st.dictionaries(names, st.sampled_from(["name", "phone"]))
)
def test_every_non_blank_field_is_recognised_or_kept(pairs, field_map):
    reading = read_site_form(pairs, field_map=field_map)
    if reading.is_connection_check:
        assert {key for key, _ in pairs} == {"test"}
        return
    filled = {key for key, value in pairs if value.replace("\x00", "").strip()}
    assert reading.empty == (not filled)
    assert filled <= set(reading.form_fields) | set(reading.recognised)
    for name, text in reading.form_fields.items():
        assert text and name in filled


bracket_keys = st.text(alphabet=st.sampled_from("ab[]0 -_\x00"), max_size=10) | names
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(bracket_keys | st.just("value"), inner, max_size=3)
    ),
    max_leaves=15,
)


@settings(max_examples=300)
@given(
    st.lists(st.tuples(bracket_keys, texts), max_size=10)
    | st.dictionaries(bracket_keys, json_values, max_size=6)
)
def test_read_site_form_never_fails_on_any_body(body):
    reading = read_site_form(body, region="RU", delivery_header="h")
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in reading.form_fields.items())
    assert all(isinstance(w, str) for w in reading.warnings)


def test_a_token_or_password_field_is_kept_by_name_with_its_value_masked():
    # Tilda's optional API key, or a form's hidden token, arrives as an ordinary field.
    body = [("Phone", "+79991234567"), ("token", "s3cr3t"), ("Api-Key", "k3y"), ("City", "Perm")]
    reading = read_site_form(body)
    assert reading.form_fields == {"token": "***", "Api-Key": "***", "City": "Perm"}
