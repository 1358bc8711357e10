"""Pages in English and Russian: the catalog is complete, the language is chosen, the API stays English."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from flask import render_template_string

from crm_web.domain.messages import N_, Message
from crm_web.models import User
from tests.helpers import csrf_from

ROOT = Path(__file__).resolve().parents[2]
RU_PO = ROOT / "crm_web" / "translations" / "ru" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]")
RU = {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


def text(response) -> str:
    return response.get_data(as_text=True)


def html_lang(response) -> str:
    match = re.search(r'<html lang="([^"]+)"', text(response))
    assert match, "no <html lang>"
    return match.group(1)


# --- the catalog ---------------------------------------------------------------


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """Every msgid in the code and templates now, extracted as `make messages` does."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    CommandLineInterface().run([
        "pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-k", "_l", "-k", "lazy_gettext",
        "-k", "N_", "-o", str(pot), str(ROOT),
    ])
    with pot.open("rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def russian():
    with RU_PO.open("rb") as f:
        return read_po(f, locale="ru")


def test_extraction_sees_templates_and_service_messages(extracted):
    ids = {m.id for m in extracted if m.id}
    assert "Sign in" in ids  # templates/auth/login.html
    assert "Not a phone number." in ids  # crm_web/domain, marked with N_
    assert ("%(num)d item", "%(num)d items") in ids  # ngettext in templates/_macros.html


def test_every_msgid_has_a_russian_translation(extracted, russian):
    """New strings need a translation: run `make messages` and fill in the .po."""
    problems = []
    for message in extracted:
        if not message.id:
            continue
        entry = russian.get(message.id)
        if entry is None:
            problems.append(f"not in the catalog: {message.id!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif isinstance(entry.string, str) and not entry.string:
            problems.append(f"untranslated: {message.id!r}")
        elif isinstance(message.id, tuple) and isinstance(entry.string, str):
            # ngettext finds no plural forms in a singular entry and falls back to English.
            problems.append(f"a count now, its plural forms missing: {message.id!r}")
        elif not isinstance(entry.string, str) and (
            len(entry.string) != russian.num_plurals or not all(entry.string)
        ):
            problems.append(f"plural forms missing: {message.id!r}")
    assert not problems, f"{len(problems)} msgids lack Russian:\n" + "\n".join(problems)


def test_translations_keep_their_placeholders(russian):
    problems = [f"{m.id!r}: {errors}" for m, errors in russian.check() if errors]
    for message in russian:
        if not message.id or not message.string:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in filter(None, strings):  # a missing one fails the test above
            if set(PLACEHOLDER.findall(string)) != wanted:
                problems.append(f"{message.id!r} → {string!r}")
    assert not problems, "\n".join(problems)


def test_russian_plural_forms_header(russian):
    assert russian.num_plurals == 3
    assert russian.plural_expr.startswith("(n%10==1 && n%100!=11 ? 0")


# --- service messages: English text, translatable template -----------------------


def test_marked_message_is_its_english_text():
    message = N_("Operator %(name)s has no free capacity.", name="Anna")
    assert message == "Operator Anna has no free capacity."
    assert isinstance(message, Message) and message.params == {"name": "Anna"}
    # str(exc) keeps the template, so services may pass validation errors on with str().
    assert str(ValueError(message)).template == "Operator %(name)s has no free capacity."
    assert N_("An operator named %(name)r already exists.", name="O'Neil") == (
        f"An operator named {'O' + chr(39) + 'Neil'!r} already exists."
    )


# --- choosing the language -------------------------------------------------------


def test_english_without_a_preference(client):
    response = client.get("/login")
    assert html_lang(response) == "en"
    assert "Sign in to work the queue." in text(response)


def test_accept_language_ru_gives_russian_pages(client, sign_in):
    login = client.get("/login", headers=RU)
    assert html_lang(login) == "ru"
    assert "Войдите, чтобы работать с очередью." in text(login)
    sign_in("supervisor")
    overview = client.get("/", headers=RU)
    assert html_lang(overview) == "ru"
    page = text(overview)
    assert "<title>Обзор · Mini CRM</title>" in page
    assert ">Очередь" in page and "Ждут в очереди" in page
    assert "Waiting in the queue" not in page


def test_unsupported_browser_language_falls_back_to_english(client):
    assert html_lang(client.get("/login", headers={"Accept-Language": "de-DE,fr;q=0.8"})) == "en"


def test_stored_choice_beats_the_browser(client, sign_in, app):
    from crm_web.core.extensions import db
    from crm_web.services.preferences import set_locale

    staff = sign_in("supervisor")
    with app.app_context():
        set_locale(db.session, staff.user_id, "en")
        db.session.remove()
    assert html_lang(client.get("/", headers=RU)) == "en"
    with app.app_context():
        set_locale(db.session, staff.user_id, "ru")
        db.session.remove()
    response = client.get("/", headers=EN)
    assert html_lang(response) == "ru" and "Обзор" in text(response)


def test_switcher_stores_the_choice_on_the_user(client, sign_in, fetch, app, log_in):
    staff = sign_in("supervisor")
    token = csrf_from(text(client.get("/queue")))
    data = {"csrf_token": token, "locale": "ru", "next": "/queue"}
    response = client.post("/language", data=data, headers=EN)
    assert response.status_code == 303
    assert response.headers["Location"] == "/queue"
    assert fetch(User, staff.user_id).locale == "ru"
    assert "Очередь пуста" in text(client.get("/queue", headers=EN))
    # Another browser without the cookie: the stored choice follows the user.
    other = app.test_client()
    log_in(other, staff.email)
    assert html_lang(other.get("/", headers=EN)) == "ru"
    # And back.
    token = csrf_from(text(client.get("/")))
    client.post("/language", data={"csrf_token": token, "locale": "en", "next": "/"})
    assert fetch(User, staff.user_id).locale == "en"
    assert html_lang(client.get("/", headers=RU)) == "en"


def test_switcher_offers_each_language_in_the_header(client, sign_in):
    sign_in("supervisor")
    page = text(client.get("/"))
    form = page[page.index('action="/language"'):]
    form = form[: form.index("</form>")]
    assert 'name="csrf_token"' in form and 'value="/"' in form
    assert re.search(r'value="ru" lang="ru" title="Русский"', form)
    assert re.search(r'value="en" lang="en" title="English"[^>]*aria-pressed="true"', form)


def test_switcher_refuses_a_post_without_csrf(client, sign_in, fetch):
    staff = sign_in("supervisor")
    response = client.post("/language", data={"locale": "ru"})
    assert response.status_code == 400
    assert fetch(User, staff.user_id).locale is None
    assert html_lang(client.get("/")) == "en"


def test_switcher_refuses_an_unknown_language(client, sign_in, fetch):
    staff = sign_in("supervisor")
    token = csrf_from(text(client.get("/")))
    response = client.post("/language", data={"csrf_token": token, "locale": "de"})
    assert response.status_code == 400
    assert fetch(User, staff.user_id).locale is None


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_switcher_never_redirects_off_site(client, sign_in, target):
    sign_in("supervisor")
    token = csrf_from(text(client.get("/")))
    response = client.post("/language", data={"csrf_token": token, "locale": "ru", "next": target})
    assert response.headers["Location"] == "/"


def test_anonymous_visitor_gets_a_cookie(client):
    page = text(client.get("/login"))
    assert 'action="/language"' in page
    data = {"csrf_token": csrf_from(page), "locale": "ru", "next": "/login"}
    response = client.post("/language", data=data)
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    cookie = client.get_cookie("crm_locale")
    assert cookie is not None and cookie.value == "ru" and cookie.http_only
    login = client.get("/login", headers=EN)
    assert html_lang(login) == "ru" and "Войти" in text(login)


def test_cookie_carries_over_to_a_user_without_a_choice(client, sign_in):
    client.set_cookie("crm_locale", "ru")
    sign_in("supervisor")
    assert html_lang(client.get("/", headers=EN)) == "ru"


# --- plurals, dates and numbers ---------------------------------------------------


@pytest.mark.parametrize(
    ("count", "words"), [(1, "1 обращение ждёт"), (3, "3 обращения ждут"), (5, "5 обращений ждут")]
)
def test_russian_plural_forms_on_the_queue(client, sign_in, factory, make_contact, count, words):
    sign_in("supervisor")
    source = factory.source()  # no weights: every contact waits in the queue
    for n in range(count):
        make_contact(source, phone=f"+7999000{n:04d}")
    assert words in text(client.get("/queue", headers=RU))


def test_dates_and_numbers_follow_the_locale(app):
    template = "{{ value | number }} | {{ when | date }}"
    when = datetime(2026, 3, 5, 14, 30, tzinfo=UTC)
    with app.test_request_context("/", headers=EN):
        assert render_template_string(template, value=1234567.5, when=when) == (
            "1,234,567.5 | Mar 5, 2026, 2:30:00\u202fPM"
        )
    with app.test_request_context("/", headers=RU):
        assert render_template_string(template, value=1234567.5, when=when) == (
            "1\xa0234\xa0567,5 | 5 мар. 2026\u202fг., 14:30:00"
        )


def test_contact_page_dates_in_russian(client, sign_in, factory, make_contact):
    sign_in("supervisor")
    contact = make_contact(factory.source(), phone="+79990001234")
    page = text(client.get(f"/contacts/{contact.id}", headers=RU))
    assert "г., " in page  # a Russian medium date: "5 мар. 2026 г., 14:30:00"
    assert "назад" in page  # "… ago"


# --- service messages on pages, English in the API and the webhook -----------------


def test_service_conflict_is_translated_on_the_page(client, sign_in, factory):
    sign_in("supervisor")
    factory.operator("Anna")
    token = csrf_from(text(client.get("/operators/new")))
    response = client.post(
        "/operators/new", data={"csrf_token": token, "name": "Anna", "max_load": "3"}, headers=RU
    )
    assert response.status_code == 422
    assert "Оператор с именем &#39;Anna&#39; уже существует." in text(response)


def test_intake_validation_is_translated_on_the_page(client, sign_in, factory):
    sign_in("supervisor")
    source = factory.source()
    token = csrf_from(text(client.get("/contacts/new")))
    response = client.post(
        "/contacts/new",
        data={"csrf_token": token, "source_id": str(source.id), "phone": "12", "email": "nope"},
        headers=RU,
    )
    assert response.status_code == 422
    page = text(response)
    assert "Проверьте номер — похоже, в нём не хватает цифр или есть лишние." in page
    assert "Неверный адрес эл. почты:" in page
    assert "Not a possible phone number." not in page


def test_weight_error_is_translated_on_the_page(client, sign_in, factory):
    sign_in("supervisor")
    anna = factory.operator("Anna")
    source = factory.source()
    token = csrf_from(text(client.get(f"/sources/{source.id}/weights")))
    response = client.post(
        f"/sources/{source.id}/weights", data={"csrf_token": token, f"weight-{anna.id}": "1000"}, headers=RU
    )
    assert response.status_code == 422
    assert "Вес должен быть от 0,01 до 999,99." in text(response)


def test_api_messages_stay_english(client, factory):
    staff = factory.staff("supervisor")
    factory.operator("Anna")
    headers = {**staff.headers, **RU}
    response = client.post("/api/v1/operators", json={"name": "Anna", "max_load": 3}, headers=headers)
    assert response.status_code == 409
    assert response.get_json()["error"]["message"] == "An operator named 'Anna' already exists."
    response = client.post("/api/v1/operators", json={"max_load": -1, "x": 1}, headers=headers)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["message"] == "Some fields are invalid."
    assert error["fields"] == {
        "x": ["Unknown field."],
        "name": ["This field is required."],
        "max_load": ["Must be between 0 and 10000."],
    }
    missing = client.get("/api/v1/operators/999", headers=headers)
    assert missing.status_code == 404 and missing.get_json()["error"]["message"] == "Operator 999 not found."


def test_webhook_messages_stay_english(client, factory):
    source = factory.source(key="site")
    response = client.post(
        "/webhooks/site", json={"phone": "12", "email": "x"},
        headers={"X-Webhook-Token": source.webhook_token, **RU},
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["message"] == "Some fields are invalid."
    assert error["fields"]["phone"] == ["Not a possible phone number."]
    assert error["fields"]["email"][0].startswith("Not a valid email address: ")
    empty = client.post("/webhooks/site", json={}, headers={"X-Webhook-Token": source.webhook_token, **RU})
    assert empty.get_json()["error"]["message"] == "Give at least one of external_id, phone or email."


# --- words that read right: nothing left in English, numbers and counts as Russian writes them -------

# msgids whose Russian is rightly the same text: no word in them is translated.
SAME_IN_RUSSIAN = {
    "Apps Script",  # Google's product name, as its menu shows it
}
# Not words to translate: placeholders, tags, code and addresses.
NOT_WORDS = re.compile(r"%\(\w+\)[sdr]|<code>.*?</code>|<[^>]+>|\bhttps?://\S+|\b[\w.+-]+@[\w.-]+")


def test_no_translation_is_left_in_english(extracted, russian):
    """A msgstr equal to its msgid is English left on a Russian page, unless it has no word to translate."""
    left = []
    for message in extracted:
        entry = russian.get(message.id) if message.id else None
        if entry is None or not entry.string or message.id in SAME_IN_RUSSIAN:
            continue
        english = [entry.id] if isinstance(entry.id, str) else list(entry.id)
        strings = [entry.string] if isinstance(entry.string, str) else list(entry.string)
        for string in strings:
            if string in english and re.search(r"[A-Za-z]{2,}", NOT_WORDS.sub("", string)):
                left.append(string)
    assert not left, "Russian left in English:\n" + "\n".join(left)


def render(app, template: str, headers: dict, **values) -> str:
    with app.test_request_context("/", headers=headers):
        return render_template_string(template, **values)


def test_weights_and_shares_are_written_in_the_pages_language(app):
    template = "{{ w | decimal }} | {{ share | percent }} | {{ share | percent(0) }} | {{ none | percent }}"
    values = {"w": "30.5", "share": 0.30333, "none": None}
    assert render(app, template, EN, **values) == "30.50 | 30.3% | 30% | —"
    assert render(app, template, RU, **values) == "30,50 | 30,3\xa0% | 30\xa0% | —"


@pytest.mark.parametrize(
    ("num", "waiting", "days"),
    [
        (1, "1 обращение ждёт", "(1 день,"),
        (2, "2 обращения ждут", "(2 дня,"),
        (5, "5 обращений ждут", "(5 дней,"),
        (11, "11 обращений ждут", "(11 дней,"),
        (21, "21 обращение ждёт", "(21 день,"),
    ],
)
def test_counts_take_the_russian_plural_form(app, num, waiting, days):
    queue = (
        "{{ ngettext('%(num)d contact waiting, oldest first.', "
        "'%(num)d contacts waiting, oldest first.', n) }}"
    )
    assert render(app, queue, RU, n=num).startswith(waiting)
    period = (
        "{{ ngettext('Period: %(start)s – %(end)s (%(num)d day, %(zone)s).', "
        "'Period: %(start)s – %(end)s (%(num)d days, %(zone)s).', n, start='a', end='b', zone='UTC') }}"
    )
    assert days in render(app, period, RU, n=num)


@pytest.mark.parametrize(
    ("stored", "english", "russian"),
    [
        ("system", "system", "система"),
        ("anonymous", "not signed in", "без входа"),
        ("cli", "command line", "командная строка"),
        ("cli drain-queue", "command line: drain-queue", "командная строка: drain-queue"),
        ("webhook site", "webhook of site", "вебхук источника site"),
        ("api anna@example.com", "anna@example.com via the API", "anna@example.com через API"),
        ("anna@example.com", "anna@example.com", "anna@example.com"),
    ],
)
def test_who_acted_is_named_in_the_pages_language(app, stored, english, russian):
    assert render(app, "{{ who | actor }}", EN, who=stored) == english
    assert render(app, "{{ who | actor }}", RU, who=stored) == russian


def test_stored_codes_are_named_in_the_pages_language(app):
    template = "{{ value_label(key, value) }}"
    cases = [
        ("reason", "not_opened", "не открыто вовремя"), ("form_format", "standard", "стандартный формат"),
        ("mode", "drain", "из очереди"), ("outcome", "no_answer", "Не дозвонились"),
        ("by", "address", "IP-адрес"), ("reason", "something_new", "something_new"), ("name", "Anna", "Anna"),
    ]
    for key, value, russian in cases:
        assert render(app, template, RU, key=key, value=value) == russian, (key, value)
    assert render(app, template, EN, key="reason", value="not_opened") == "not opened in time"


def test_a_stored_english_message_with_values_reads_in_russian(app):
    from crm_web.web.i18n import read_back

    with app.test_request_context("/", headers=RU):
        assert read_back('Phone "12" (field "tel") could not be read: Not a phone number.') == (
            "Не удалось прочитать телефон «12» (поле «tel»): Это не похоже на номер телефона."
        )
        assert read_back("Name is longer than 255 characters.") == "Имя длиннее 255 символов."
        assert read_back("Olga asked for %(x)s") == "Olga asked for %(x)s"  # not the catalog's: as stored
    with app.test_request_context("/", headers=EN):
        assert read_back("Name is longer than 255 characters.") == "Name is longer than 255 characters."


def visible_text(html: str) -> str:
    """What a reader sees: no scripts, code samples, tags or attributes."""
    html = re.sub(r"<(script|style|pre|code)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


# English that Russian pages used to show: stored codes, column names, field names.
ENGLISH_LEFT = ("system", "anonymous", "max_load", "form_fields", "external_id", "contact.assigned",
                "weights.updated", "could not be read", "standard", "Lead", "days")


def test_russian_pages_show_no_english_words(client, sign_in, factory, make_contact, log_in, app):
    from sqlalchemy import update

    from crm_web.core.extensions import db
    from crm_web.models import Contact

    anna, boris = factory.operator("Anna", max_load=3), factory.operator("Boris", max_load=3)
    source = factory.source("Site", weights={anna: "30", boris: "10"})
    contact = make_contact(source, phone="+79990000001", name="Olga")
    with app.app_context():
        db.session.execute(update(Contact).where(Contact.id == contact.id).values(warnings=[
            'Email "x@" (field "Email") could not be read: Not a valid email address: x',
            "The name is longer than 255 characters: cut to fit, the whole text is kept in form_fields.",
        ]))
        db.session.commit()
        db.session.remove()
    staff = sign_in("supervisor")
    log_in(app.test_client(), staff.email, "wrong password")  # an "anonymous" failed sign-in in the trail
    pages = ["/", "/queue", "/audit", f"/contacts/{contact.id}", f"/sources/{source.id}/weights",
             f"/operators/{anna.id}/edit", "/reports/distribution", "/reports/team", "/leads", "/contacts"]
    for path in pages:
        response = client.get(path, headers=RU)
        assert response.status_code == 200, path
        shown = visible_text(text(response))
        left = [word for word in ENGLISH_LEFT if re.search(rf"\b{re.escape(word)}\b", shown)]
        assert not left, f"{path}: {left}"
    audit = visible_text(text(client.get("/audit", headers=RU)))
    assert "система" in audit and "без входа" in audit and "неверный пароль" in audit
    contact_page = visible_text(text(client.get(f"/contacts/{contact.id}", headers=RU)))
    assert "Не удалось прочитать адрес эл. почты «x@»" in contact_page
    weights = text(client.get(f"/sources/{source.id}/weights", headers=RU))
    assert 'value="30,00"' in weights and "75,0\xa0%" in weights and "25,0\xa0%" in weights
    period = visible_text(text(client.get("/reports/team", headers=RU)))
    assert re.search(r"\(\d+ (день|дня|дней), UTC\)", period)
