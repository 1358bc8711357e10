"""CSV exports of /contacts and /leads: filters, format, who may download, streaming in batches."""

from __future__ import annotations

import csv
import io
import re
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, update

from crm_web.core.extensions import db
from crm_web.models import Contact, Lead, User
from crm_web.services.contacts import close_contact
from crm_web.services.exports import CONTACT_COLUMNS, LEAD_COLUMNS
from tests.helpers import recorded_statements

BOM = "\ufeff"


def rows_of(response) -> list[dict]:
    text = response.get_data(as_text=True)
    assert text.startswith(BOM)
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def list_ids(html: str, kind: str) -> list[int]:
    return [int(n) for n in re.findall(rf'<td[^>]*><a href="/{kind}/(\d+)">#', html)]


@pytest.fixture
def sources(factory):
    op_a = factory.operator("Anna", max_load=10)
    op_b = factory.operator("Boris", max_load=10)
    return {
        "site": factory.source(name="Website form", weights={op_a: 1}),
        "call": factory.source(name="Call centre", weights={op_b: 1}),
        "night": factory.source(name="Night line"),  # nobody: its contacts queue up
        "ops": (op_a, op_b),
    }


@pytest.fixture
def contacts(make_contact, sources, app):
    made = [
        make_contact(sources["site"], phone="+7 999 000-00-01", name="Ivan"),
        make_contact(sources["call"], email="olga@example.org", name="Ольга Смирнова",
                     message='Said "call me", tomorrow,\nafter 10'),
        make_contact(sources["night"], external_id="crm-3", name="=HYPERLINK(\"http://evil\")",
                     message="@SUM(A1:A9)"),
        make_contact(sources["night"], phone="+7 999 000-00-04", message="-2+3"),
        make_contact(sources["site"], email="tab@example.org"),
    ]
    with app.app_context():
        # Intake trims what it stores; older data or another writer need not have.
        db.session.execute(update(Contact).where(Contact.id == made[4].id).values(
            name="\tTabbed", message="\rReturn"
        ))
        db.session.commit()
        close_contact(db.session, made[0].id, User(id=0, email="boss@example.com", role="supervisor"))
        db.session.remove()
    return made


def test_anonymous_visitors_are_sent_to_login(client):
    for path in ("/contacts/export.csv", "/leads/export.csv"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


def test_contacts_export_headers_bom_header_row_and_iso_dates(client, sign_in, contacts):
    sign_in()
    response = client.get("/contacts/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.mimetype_params["charset"] == "utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="contacts-{datetime.now(UTC).date().isoformat()}.csv"'  # the viewer's today
    )
    assert response.headers["Cache-Control"] == "no-store"
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf" + b"id,created_at,status,source,operator,lead_id,")
    assert "Ольга Смирнова".encode() in raw  # UTF-8
    rows = rows_of(response)
    assert tuple(rows[0]) == CONTACT_COLUMNS
    assert [int(r["id"]) for r in rows] == sorted((c.id for c in contacts), reverse=True)
    first = rows[-1]
    assert first["status"] == "closed"
    assert first["operator"] == "Anna" and first["source"] == "Website form"
    for field in ("created_at", "assigned_at", "closed_at"):
        parsed = datetime.fromisoformat(first[field])
        assert parsed.utcoffset() == timedelta(0)
        assert abs(parsed - datetime.now(UTC)) < timedelta(minutes=5)
    assert (rows[0]["status"], rows[0]["closed_at"]) == ("assigned", "")
    queued = next(r for r in rows if r["id"] == str(contacts[3].id))
    assert (queued["status"], queued["operator"], queued["assigned_at"]) == ("unassigned", "", "")


def test_quoting_of_commas_quotes_and_newlines(client, sign_in, contacts):
    sign_in()
    response = client.get("/contacts/export.csv")
    raw = response.get_data(as_text=True)
    assert '"Said ""call me"", tomorrow,\nafter 10"' in raw  # RFC 4180
    assert raw.count("\r\n") >= len(contacts) + 1  # CRLF line ends
    olga = next(r for r in rows_of(response) if r["lead_email"] == "olga@example.org")
    assert olga["message"] == 'Said "call me", tomorrow,\nafter 10'
    assert olga["name"] == "Ольга Смирнова"


def test_formula_like_cells_get_an_apostrophe(client, sign_in, contacts):
    sign_in()
    rows = {int(r["id"]): r for r in rows_of(client.get("/contacts/export.csv"))}
    evil = rows[contacts[2].id]
    assert evil["name"] == "'=HYPERLINK(\"http://evil\")"
    assert evil["lead_name"] == "'=HYPERLINK(\"http://evil\")"
    assert evil["message"] == "'@SUM(A1:A9)"
    assert rows[contacts[3].id]["message"] == "'-2+3"
    assert rows[contacts[3].id]["lead_phone"] == "'+79990000004"  # E.164 starts with +: kept as text
    assert rows[contacts[4].id]["name"] == "'\tTabbed"
    assert rows[contacts[4].id]["message"] == "'\rReturn"
    assert rows[contacts[0].id]["name"] == "Ivan"  # plain text untouched


@pytest.mark.parametrize(
    "query",
    ["status=unassigned", "status=assigned", "status=closed", "source=night", "source=site&status=closed",
     "operator=0", "operator=1"],
)
def test_contacts_export_honours_the_list_filters(client, sign_in, contacts, sources, app, query):
    app.config["CRM_EXPORT_BATCH_SIZE"] = 2  # several keyset batches even here
    sign_in()
    args = query
    for name, value in (("source", "site"), ("source", "night")):
        args = args.replace(f"{name}={value}", f"source_id={sources[value].id}")
    for i, op in enumerate(sources["ops"]):
        args = args.replace(f"operator={i}", f"operator_id={op.id}")
    listed = list_ids(client.get(f"/contacts?{args}").get_data(as_text=True), "contacts")
    exported = [int(r["id"]) for r in rows_of(client.get(f"/contacts/export.csv?{args}"))]
    assert exported == listed  # same rows, same order (the queue: oldest first)
    assert exported, "the filter should match something"


def test_the_list_page_links_to_the_export_with_its_filters(client, sign_in, contacts, sources):
    sign_in()
    html = client.get(f"/contacts?status=unassigned&source_id={sources['night'].id}").get_data(as_text=True)
    link = re.search(r'href="(/contacts/export\.csv[^"]*)"', html).group(1).replace("&amp;", "&")
    assert "status=unassigned" in link and f"source_id={sources['night'].id}" in link
    assert 'href="/leads/export.csv?q=olga"' in client.get("/leads?q=olga").get_data(as_text=True)


def test_invalid_filters_are_422(client, sign_in, contacts):
    sign_in()
    assert client.get("/contacts/export.csv?status=nonsense").status_code == 422
    assert client.get("/contacts/export.csv?source_id=999999").status_code == 422
    assert client.get("/leads/export.csv?q=" + "x" * 321).status_code == 422


def test_operator_users_export_what_their_list_pages_show(client, sign_in, contacts):
    sign_in("operator")  # operators see every contact and lead on /contacts and /leads
    listed = list_ids(client.get("/contacts").get_data(as_text=True), "contacts")
    assert [int(r["id"]) for r in rows_of(client.get("/contacts/export.csv"))] == listed
    listed = list_ids(client.get("/leads").get_data(as_text=True), "leads")
    assert [int(r["id"]) for r in rows_of(client.get("/leads/export.csv"))] == listed


@pytest.mark.parametrize("q", ["", "8 (999) 000-00-04", "OLGA@example.org", "crm-3", "ольга", "nobody"])
def test_leads_export_finds_what_the_search_finds(client, sign_in, contacts, app, q):
    app.config["CRM_EXPORT_BATCH_SIZE"] = 2
    sign_in()
    listed = list_ids(client.get("/leads", query_string={"q": q}).get_data(as_text=True), "leads")
    response = client.get("/leads/export.csv", query_string={"q": q})
    today = datetime.now(UTC).date()  # the viewer's (the tests' zone is UTC)
    assert response.headers["Content-Disposition"] == f'attachment; filename="leads-{today}.csv"'
    rows = rows_of(response)
    assert [int(r["id"]) for r in rows] == listed


def test_leads_export_columns_and_contact_counts(client, sign_in, contacts, make_contact, sources):
    again = make_contact(sources["site"], phone="+7 999 000-00-01", message="back again")
    sign_in()
    response = client.get("/leads/export.csv")
    assert response.get_data(as_text=True).splitlines()[0] == BOM + ",".join(LEAD_COLUMNS)
    ivan = next(r for r in rows_of(response) if r["id"] == str(again.lead_id))
    assert (ivan["name"], ivan["phone"], ivan["contacts"]) == ("Ivan", "'+79990000001", "2")
    assert datetime.fromisoformat(ivan["last_contact_at"]) >= datetime.fromisoformat(ivan["created_at"])


# --- streaming ---------------------------------------------------------------


def bulk_contacts(app, source_id: int, count: int, message_size: int = 0) -> None:
    """Many contacts at once, straight into the tables (the intake path is not under test here)."""
    now = datetime.now(UTC)
    message = "x" * message_size or None
    with app.app_context():
        with db.engine.begin() as conn:
            lead_ids = conn.execute(
                insert(Lead).returning(Lead.id),
                [{"phone": f"+7998{i:07d}", "name": f"Bulk {i}", "created_at": now}
                 for i in range(count // 4)],
            ).scalars().all()
            conn.execute(insert(Contact), [
                {"lead_id": lead_ids[i % len(lead_ids)], "source_id": source_id, "is_active": True,
                 "message": message, "created_at": now - timedelta(seconds=count - i)}
                for i in range(count)
            ])
        db.engine.dispose()


def test_the_export_streams_one_batch_at_a_time(client, sign_in, sources, app):
    bulk_contacts(app, sources["night"].id, 1_000)
    app.config["CRM_EXPORT_BATCH_SIZE"] = 100
    sign_in()

    def selects(log) -> list[str]:
        return [s for s in log.statements if s.lstrip().upper().startswith("SELECT") and "FROM contacts" in s]

    with recorded_statements(app) as log:
        response = client.get("/contacts/export.csv?status=unassigned", buffered=False)
        assert response.is_streamed
        chunks = iter(response.response)
        header = next(chunks)
        first = next(chunks)
        assert len(selects(log)) == 1  # only the first batch has been read so far
        assert header.startswith(BOM.encode())
        rest = list(chunks)
        response.close()
    body_chunks = [first, *rest]
    assert len(body_chunks) == 10  # 1,000 rows in batches of 100
    assert len(selects(log)) == 11  # ten full batches, then an empty one says it is the end
    text = b"".join([header, *body_chunks]).decode()
    assert len(list(csv.reader(io.StringIO(text[1:], newline="")))) == 1_001


def test_a_large_export_never_holds_the_whole_body(client, sign_in, sources, app):
    """12 MB of CSV in batches of 100 rows: the peak of Python allocations stays far below the body."""
    bulk_contacts(app, sources["night"].id, 6_000, message_size=2_000)
    app.config["CRM_EXPORT_BATCH_SIZE"] = 100
    sign_in()
    total = 0
    tracemalloc.start()
    try:
        response = client.get("/contacts/export.csv", buffered=False)
        tracemalloc.reset_peak()
        for chunk in response.response:
            total += len(chunk)
        response.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 12_000_000
    assert peak < total / 5, f"peak {peak} bytes for a body of {total}"


# --- what a site form added (contract §2a) ------------------------------------------------------

UTM_COLUMNS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


def set_form_data(app, contact_id: int, **values) -> None:
    """What the site-form intake stores, written straight into the row."""
    with app.app_context():
        db.session.execute(update(Contact).where(Contact.id == contact_id).values(
            **values, utm_source=(values.get("utm") or {}).get("utm_source"),
        ))
        db.session.commit()
        db.session.remove()


def test_both_exports_carry_the_utm_columns_and_contacts_also_page_form_fields_and_warnings():
    assert CONTACT_COLUMNS[-8:] == (*UTM_COLUMNS, "page_url", "form_fields", "warnings")
    assert LEAD_COLUMNS[-5:] == UTM_COLUMNS


def test_contacts_export_spreads_what_a_site_form_added(client, sign_in, contacts, app):
    set_form_data(
        app, contacts[1].id,
        utm={"utm_source": "yandex", "utm_medium": "cpc", "utm_term": "купить диван"},
        page_url="https://shop.example/?utm_source=yandex", warnings=["Phone could not be read.", "Second."],
        form_fields={"Город": "Казань", "tel-715": "12", "Comment": "line one\nline two"},
    )
    sign_in()
    rows = {int(r["id"]): r for r in rows_of(client.get("/contacts/export.csv"))}
    olga = rows[contacts[1].id]
    assert {c: olga[c] for c in UTM_COLUMNS} == {
        "utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": "", "utm_content": "",
        "utm_term": "купить диван",
    }
    assert olga["page_url"] == "https://shop.example/?utm_source=yandex"
    assert olga["form_fields"] == "Город: Казань; tel-715: 12; Comment: line one\nline two"
    assert olga["warnings"] == "Phone could not be read.; Second."
    plain = rows[contacts[0].id]  # a contact no form added anything to: empty cells
    assert [plain[c] for c in (*UTM_COLUMNS, "page_url", "form_fields", "warnings")] == [""] * 8


def test_formula_like_form_data_gets_an_apostrophe(client, sign_in, contacts, app):
    set_form_data(app, contacts[0].id, utm={"utm_source": "=HYPERLINK(\"http://evil\")", "utm_term": "+1"},
                  form_fields={"=cmd|' /C calc'!A0": "x"}, warnings=["-bad"])
    sign_in()
    row = next(r for r in rows_of(client.get("/contacts/export.csv")) if r["id"] == str(contacts[0].id))
    assert row["utm_source"] == "'=HYPERLINK(\"http://evil\")"
    assert row["utm_term"] == "'+1"
    assert row["form_fields"] == "'=cmd|' /C calc'!A0: x"
    assert row["warnings"] == "'-bad"


# --- the reader's language and time zone (contract §5) ---------------------------------------------

RU = {"Accept-Language": "ru-RU,ru;q=0.9"}
RU_CONTACT_HEADERS = (
    "Номер", "Поступило", "Статус", "Источник", "Оператор", "Номер клиента", "Имя клиента", "Телефон клиента",
    "Эл. почта клиента", "Внешний ID клиента", "Имя", "Сообщение", "Назначено", "Закрыто", "Итог", "Заметок",
    "Последняя заметка", *UTM_COLUMNS, "Адрес страницы", "Другие поля формы", "Предупреждения",
)
RU_LEAD_HEADERS = (
    "Номер", "Впервые", "Имя", "Телефон", "Эл. почта", "Внешний ID", "Обращения", "Последнее обращение",
    *UTM_COLUMNS,
)


def semicolon_rows(response) -> list[dict]:
    text = response.get_data(as_text=True)
    assert text.startswith(BOM)
    return list(csv.DictReader(io.StringIO(text[1:], newline=""), delimiter=";"))


def set_created(app, contact_id: int, moment: datetime) -> None:
    with app.app_context():
        db.session.execute(update(Contact).where(Contact.id == contact_id).values(created_at=moment))
        db.session.commit()
        db.session.remove()


def test_a_russian_reader_gets_semicolons_russian_headers_and_words_and_moscow_time(
    client, sign_in, contacts, app
):
    app.config["CRM_TIMEZONE"] = "Europe/Moscow"
    sign_in()
    assert "Выйти" in client.get("/contacts", headers=RU).get_data(as_text=True)  # the pages are in Russian
    response = client.get("/contacts/export.csv", headers=RU)
    assert response.get_data(as_text=True).startswith(BOM + "Номер;Поступило;Статус;Источник;")
    rows = {int(r["Номер"]): r for r in semicolon_rows(response)}
    assert tuple(next(iter(rows.values()))) == RU_CONTACT_HEADERS  # utm_* named so in every language
    closed = rows[contacts[0].id]
    assert (closed["Статус"], closed["Итог"], closed["Оператор"]) == ("закрыто", "Выполнено", "Anna")
    for column in ("Поступило", "Назначено", "Закрыто"):
        assert closed[column].endswith("+03:00"), closed[column]
        parsed = datetime.fromisoformat(closed[column])
        assert abs(parsed - datetime.now(UTC)) < timedelta(minutes=5)
    assert rows[contacts[3].id]["Статус"] == "не назначено"
    assert rows[contacts[1].id]["Сообщение"] == 'Said "call me", tomorrow,\nafter 10'  # quoting as before
    assert rows[contacts[2].id]["Имя"] == "'=HYPERLINK(\"http://evil\")"  # formulas neutralised as before
    set_created(app, contacts[4].id, datetime(2026, 12, 4, 21, 30, tzinfo=UTC))
    again = {int(r["Номер"]): r for r in semicolon_rows(client.get("/contacts/export.csv", headers=RU))}
    assert again[contacts[4].id]["Поступило"] == "2026-12-05T00:30:00+03:00"

    leads = client.get("/leads/export.csv", headers=RU)
    assert tuple(semicolon_rows(leads)[0]) == RU_LEAD_HEADERS
    assert semicolon_rows(leads)[0]["Впервые"].endswith("+03:00")


def test_the_users_own_language_chooses_the_separator(client, sign_in, contacts, app):
    from crm_web.services.preferences import set_locale

    staff = sign_in()
    with app.app_context():
        set_locale(db.session, staff.user_id, "ru")
        db.session.remove()
    english_browser = {"Accept-Language": "en-US,en;q=0.9"}
    assert client.get("/leads/export.csv", headers=english_browser).get_data(as_text=True).startswith(
        BOM + "Номер;Впервые;"
    )


def test_an_english_reader_gets_commas_the_column_names_and_the_codes(client, sign_in, contacts, app):
    app.config["CRM_TIMEZONE"] = "Europe/Moscow"
    sign_in()
    response = client.get("/contacts/export.csv", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert response.get_data(as_text=True).startswith(BOM + ",".join(CONTACT_COLUMNS) + "\r\n")
    closed = next(r for r in rows_of(response) if r["id"] == str(contacts[0].id))
    assert (closed["status"], closed["outcome"]) == ("closed", "done")
    assert closed["created_at"].endswith("+03:00")


def test_csv_times_carry_the_viewers_offset_at_their_time_of_year(client, sign_in, contacts, app):
    from crm_web.services.preferences import set_timezone

    set_created(app, contacts[0].id, datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    set_created(app, contacts[1].id, datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    set_created(app, contacts[2].id, datetime(2012, 6, 1, 12, 0, tzinfo=UTC))  # Moscow was on UTC+4
    staff = sign_in()

    def created(zone: str) -> list[str]:
        with app.app_context():
            set_timezone(db.session, staff.user_id, zone)
            db.session.remove()
        rows = {int(r["id"]): r["created_at"] for r in rows_of(client.get("/contacts/export.csv"))}
        return [rows[c.id] for c in contacts[:3]]

    assert created("America/New_York") == [
        "2026-07-01T08:00:00-04:00", "2026-12-01T07:00:00-05:00", "2012-06-01T08:00:00-04:00",
    ]
    assert created("Europe/Moscow") == [
        "2026-07-01T15:00:00+03:00", "2026-12-01T15:00:00+03:00", "2012-06-01T16:00:00+04:00",
    ]
    assert created("Asia/Vladivostok") == [
        "2026-07-01T22:00:00+10:00", "2026-12-01T22:00:00+10:00", "2012-06-01T23:00:00+11:00",
    ]


def test_a_leads_utm_columns_are_its_earliest_marked_contacts(
    client, sign_in, contacts, make_contact, sources, app
):
    second = make_contact(sources["site"], phone="+7 999 000-00-01", message="from an ad")
    third = make_contact(sources["call"], phone="+7 999 000-00-01", message="from another ad")
    set_form_data(app, third.id, utm={"utm_source": "google", "utm_campaign": "late"})
    set_form_data(app, second.id, utm={"utm_source": "yandex", "utm_medium": "cpc"})
    set_form_data(app, contacts[3].id, utm={})  # stored empty: no marks
    sign_in()
    rows = {int(r["id"]): r for r in rows_of(client.get("/leads/export.csv"))}
    ivan = rows[second.lead_id]
    assert ivan["contacts"] == "3"
    assert [ivan[c] for c in UTM_COLUMNS] == ["yandex", "cpc", "", "", ""]  # not the first contact's (none)
    for lead_id, row in rows.items():
        if lead_id != second.lead_id:
            assert [row[c] for c in UTM_COLUMNS] == [""] * 5, row


def test_form_data_costs_no_extra_statement_per_row(client, sign_in, sources, make_contact, app):
    made = [make_contact(sources["site"], phone=f"+7999222000{i}") for i in range(5)]
    made += [make_contact(sources["site"], phone=f"+7999222000{i}") for i in range(5)]  # a second each
    for contact in made:
        set_form_data(app, contact.id, utm={"utm_source": f"s{contact.id}"}, form_fields={"a": "b"},
                      warnings=["w"], page_url="https://x.example/")
    app.config["CRM_EXPORT_BATCH_SIZE"] = 3
    sign_in()

    def reads(log, table: str) -> int:  # the export's own statements (the request's others aside)
        return sum(
            1 for s in log.statements
            if s.lstrip().upper().startswith("SELECT") and f"FROM {table}" in s
        )

    with recorded_statements(app) as log:
        rows = rows_of(client.get("/contacts/export.csv"))
    assert len(rows) == 10 and all(r["form_fields"] == "a: b" for r in rows)
    assert reads(log, "contacts") == 4  # 3, 3, 3, 1 rows a batch
    with recorded_statements(app) as log:
        rows = rows_of(client.get("/leads/export.csv"))
    assert len(rows) == 5 and all(r["utm_source"] for r in rows)
    assert reads(log, "leads") == 2  # 3, 2 leads a batch
    assert reads(log, "contacts") == 2 + 2  # a batch: the leads (their marks a subquery), their counts


# --- outcomes and notes (contract §3) --------------------------------------------------------------


def test_contacts_export_has_the_outcome_the_number_of_notes_and_the_last_note(
    client, sign_in, contacts, app, factory
):
    from crm_web.services.notes import add_note

    assert CONTACT_COLUMNS[CONTACT_COLUMNS.index("closed_at") + 1:][:3] == ("outcome", "notes", "last_note")
    writer = factory.staff("operator", operator_id=factory.operator("Vera").id)
    with app.app_context():
        author = db.session.get(User, writer.user_id)
        for text in ("first call", "second call\nwith a line break"):
            add_note(db.session, contacts[1].id, author, text)
        add_note(db.session, contacts[2].id, author, "=HYPERLINK(\"http://evil\")")  # a formula, neutralised
        add_note(db.session, contacts[3].id, author, "+7 999 — a number, as text")
        db.session.remove()
    app.config["CRM_EXPORT_BATCH_SIZE"] = 2  # notes read per batch: the same at every batch edge
    sign_in()
    rows = {int(r["id"]): r for r in rows_of(client.get("/contacts/export.csv"))}
    closed = rows[contacts[0].id]
    assert [closed[c] for c in ("status", "outcome", "notes", "last_note")] == ["closed", "done", "0", ""]
    olga = rows[contacts[1].id]
    assert (olga["outcome"], olga["notes"], olga["last_note"]) == ("", "2", "second call\nwith a line break")
    assert rows[contacts[2].id]["last_note"] == "'=HYPERLINK(\"http://evil\")"
    assert rows[contacts[3].id]["last_note"] == "'+7 999 — a number, as text"
    assert rows[contacts[4].id]["notes"] == "0"


def test_the_notes_cost_one_statement_per_batch(client, sign_in, sources, make_contact, app, factory):
    from crm_web.services.notes import add_note

    made = [make_contact(sources["site"], phone=f"+7999333000{i}") for i in range(7)]
    writer = factory.staff()
    with app.app_context():
        author = db.session.get(User, writer.user_id)
        for contact in made:
            add_note(db.session, contact.id, author, f"note of {contact.id}")
        db.session.remove()
    app.config["CRM_EXPORT_BATCH_SIZE"] = 3
    sign_in()
    with recorded_statements(app) as log:
        rows = rows_of(client.get("/contacts/export.csv"))
    assert [r["last_note"] for r in rows] == [f"note of {c.id}" for c in reversed(made)]
    assert sum(1 for s in log.statements if "FROM contact_notes" in s) == 3  # 3, 3, 1 rows a batch
