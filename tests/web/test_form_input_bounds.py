"""Numbers and text the staff forms carry: out-of-range integers and NUL are refused, never a 500."""

from __future__ import annotations

import pytest
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField

from crm_web.core.extensions import db
from crm_web.models import ApiToken, Contact, LeadDuplicate
from crm_web.web.forms import BoundedIntegerField, CrmForm
from tests.helpers import csrf_from

HX = {"HX-Request": "true"}
HUGE = "9" * 20


def page(response) -> str:
    return response.get_data(as_text=True)


def count(app, model) -> int:
    with app.app_context():
        value = db.session.query(model).count()
        db.session.remove()
        return value


@pytest.fixture
def queued(factory, make_contact):
    source = factory.source(name="Call centre", key="call-centre")
    return make_contact(source, phone="+79990000001", name="Client")


@pytest.fixture
def pair(factory, make_contact):
    source = factory.source(name="Website form")
    keep = make_contact(source, phone="+7 999 100-00-01", name="Ivan").lead_id
    other = make_contact(source, email="ivan@example.org", name="Ivan P.").lead_id
    make_contact(source, phone="+7 999 100-00-01", email="ivan@example.org")
    return {"keep": keep, "other": other}


# --- the queue's page number --------------------------------------------------------


@pytest.mark.parametrize("value", [HUGE, "-1", "0", "-" + HUGE, "abc", "1\x002"])
def test_assign_with_a_page_out_of_range_answers_page_one(client, sign_in, factory, queued, value):
    anna = factory.operator("Anna")
    sign_in()
    token = csrf_from(page(client.get("/queue")))
    response = client.post(f"/queue/{queued.id}/assign", headers=HX,
                           data={"csrf_token": token, "operator_id": anna.id, "page": value})
    assert response.status_code == 200, page(response)[:500]
    assert 'id="queue-rows"' in page(response)


def test_plain_assign_with_a_huge_page_redirects_to_the_queue(client, sign_in, factory, queued):
    anna = factory.operator("Anna")
    sign_in()
    token = csrf_from(page(client.get("/queue")))
    response = client.post(f"/queue/{queued.id}/assign",
                           data={"csrf_token": token, "operator_id": anna.id, "page": HUGE})
    assert response.status_code == 303
    assert HUGE not in response.headers["Location"]


@pytest.mark.parametrize("value", [HUGE, "-1", "0", "2147483648"])
def test_assign_to_an_operator_id_out_of_range_is_refused(client, sign_in, queued, fetch, value):
    sign_in()
    token = csrf_from(page(client.get("/queue")))
    response = client.post(f"/queue/{queued.id}/assign", headers=HX,
                           data={"csrf_token": token, "operator_id": value, "page": "1"})
    assert response.status_code == 200
    assert fetch(Contact, queued.id).operator_id is None


@pytest.mark.parametrize("value", [HUGE, "-1", "0", "abc", "1\x002"])
def test_query_string_page_out_of_range_is_page_one(client, sign_in, queued, value):
    sign_in()
    for path in ("/queue", "/contacts", "/leads", "/leads/duplicates", "/audit"):
        response = client.get(path, query_string={"page": value, "after": value})
        assert response.status_code < 500, (path, page(response)[:300])


# --- duplicate pairs ------------------------------------------------------------------


@pytest.mark.parametrize("field", ["lead", "other"])
@pytest.mark.parametrize("value", [HUGE, "-" + HUGE, "-1", "0", "2147483648", "abc", "1\x002"])
def test_dismiss_with_an_id_out_of_range_is_refused(app, client, sign_in, pair, field, value):
    sign_in()
    token = csrf_from(page(client.get("/leads/duplicates")))
    data = {"csrf_token": token, "lead": pair["keep"], "other": pair["other"], field: value}
    response = client.post("/leads/duplicates/dismiss", data=data)
    assert response.status_code == 400, page(response)[:500]
    assert count(app, LeadDuplicate) == 1


@pytest.mark.parametrize("value", [HUGE, "-1", "0", "abc"])
def test_merge_with_an_id_out_of_range_is_refused(app, client, sign_in, pair, value):
    sign_in()
    token = csrf_from(page(client.get("/leads/duplicates")))
    response = client.post("/leads/merge", data={
        "csrf_token": token, "keep": pair["keep"], "other": value, "token": "x"})
    assert response.status_code == 400
    assert client.get(f"/leads/merge?keep={pair['keep']}&other={value}").status_code == 404


# --- NUL in text ------------------------------------------------------------------------


def test_token_label_with_nul_is_refused(app, client, sign_in):
    sign_in()
    before = count(app, ApiToken)
    token = csrf_from(page(client.get("/tokens")))
    response = client.post("/tokens", data={"csrf_token": token, "label": "a\x00b"})
    assert response.status_code == 422, page(response)[:500]
    assert "Invalid character." in page(response)
    assert count(app, ApiToken) == before


def test_refusals_are_in_the_page_language(app, client, sign_in):
    staff = sign_in()
    with app.app_context():
        from crm_web.services.preferences import set_locale

        set_locale(db.session, staff.user_id, "ru")
        db.session.remove()
    token = csrf_from(page(client.get("/tokens")))
    response = client.post("/tokens", data={"csrf_token": token, "label": "a\x00b", "expires_in_days": HUGE})
    assert response.status_code == 422
    assert "Недопустимый символ." in page(response)
    assert "Значение должно быть между 1 и" in page(response)  # WTForms' catalog


@pytest.mark.parametrize("path, data", [
    ("/operators/new", {"name": "a\x00b", "max_load": "3"}),
    ("/sources/new", {"name": "Site", "key": "a\x00b"}),
    ("/sources/new", {"name": "Site", "thank_you_url": "https://example.com/\x00"}),
    ("/users/new", {"email": "a\x00@example.com", "role": "operator", "password": "password-123"}),
])
def test_nul_in_any_text_field_is_a_field_error(app, client, sign_in, path, data):
    sign_in()
    token = csrf_from(page(client.get(path)))
    response = client.post(path, data={"csrf_token": token, **data})
    assert response.status_code == 422, page(response)[:500]
    assert "Invalid character." in page(response)


def test_nul_in_the_sign_in_form_is_refused(client, factory):
    staff = factory.staff()
    token = csrf_from(page(client.get("/login")))
    response = client.post("/login", data={"csrf_token": token, "email": staff.email + "\x00",
                                           "password": "password-123"})
    assert response.status_code == 200
    assert client.get("/").status_code == 302  # still signed out


@pytest.mark.parametrize("value", ["1\x00", "9" * 10_000, "-1", "abc"])
def test_weights_and_language_take_any_text_without_500(client, sign_in, factory, value):
    anna = factory.operator("Anna")
    source = factory.source("Site", weights={anna: 1})
    sign_in()
    token = csrf_from(page(client.get(f"/sources/{source.id}/weights")))
    response = client.post(f"/sources/{source.id}/weights",
                           data={"csrf_token": token, f"weight-{anna.id}": value})
    assert response.status_code == 422
    language = client.post("/language", data={"csrf_token": token, "locale": value, "next": value})
    assert language.status_code == 400


def test_invalid_utf8_in_a_form_is_not_a_500(client, sign_in):
    sign_in()
    token = csrf_from(page(client.get("/tokens")))
    body = f"csrf_token={token}&label=%ED%A0%80%FF&expires_in_days=%ED%A0%80".encode()
    response = client.post("/tokens", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code < 500
    response = client.get("/leads?q=%ED%A0%80%FF&page=%ED%A0%80")
    assert response.status_code < 500


# --- the field type, the base form -----------------------------------------------------


def test_every_form_of_the_pages_derives_from_the_base_form():
    import crm_web.web  # noqa: F401  (every page module defines its forms on import)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = [cls for cls in subclasses(FlaskForm) if cls.__module__.startswith("crm_web.")]
    assert len(ours) >= 10
    assert [cls.__qualname__ for cls in ours if not issubclass(cls, CrmForm)] == []
    for cls in ours:
        for name, unbound in vars(cls).items():
            field_class = getattr(unbound, "field_class", None)
            if field_class is None:
                continue
            # Every integer goes through the bounded type, plain or as a select's value.
            if issubclass(field_class, IntegerField):
                assert issubclass(field_class, BoundedIntegerField), (cls.__qualname__, name)
            if issubclass(field_class, SelectField):
                assert unbound.kwargs.get("coerce") is not int, (cls.__qualname__, name)


@pytest.mark.parametrize("raw, expected", [
    ("1", 1), (" 7 ", 7), ("+3", 3), ("2147483647", 2147483647),
    ("0", None), ("-1", None), ("2147483648", None), (HUGE, None), ("9" * 10_000, None),
    ("abc", None), ("1.5", None), ("1e3", None), ("", None), ("1_000", None), ("٣", None), ("1\x00", None),
])
def test_bounded_integer_field_holds_only_numbers_in_range(app, raw, expected):
    class Form(CrmForm):
        class Meta:
            csrf = False

        number = BoundedIntegerField()

    from werkzeug.datastructures import MultiDict

    with app.test_request_context():
        form = Form(formdata=MultiDict({"number": raw}))
        assert form.validate() is (expected is not None)
        assert form.number.data == expected
