"""/operators pages: list, create, edit, pause, delete; supervisors only."""

import pytest
from sqlalchemy import select

from crm_web.core.extensions import db
from crm_web.models import Contact, Operator
from crm_web.services.sources import replace_distribution, update_source
from tests.helpers import csrf_from


def form_token(client, path):
    return csrf_from(client.get(path).get_data(as_text=True))


def test_list_shows_load_and_bar(client, sign_in, factory, make_contact):
    sign_in("supervisor")
    anna = factory.operator("Anna", max_load=4)
    source = factory.source(weights={anna: 1})
    make_contact(source, phone="+79990000001")
    page = client.get("/operators").get_data(as_text=True)
    assert "Anna" in page
    assert "1 / 4" in page
    assert '<progress' in page and 'value="1" max="4"' in page


def test_create_operator(client, sign_in, fetch, app):
    sign_in("supervisor")
    token = form_token(client, "/operators/new")
    response = client.post("/operators/new", data={"name": " Boris ", "max_load": "7", "is_active": "y",
                                                   "csrf_token": token})
    assert response.status_code == 303
    from crm_web.core.extensions import db

    with app.app_context():
        op = db.session.scalar(select(Operator).where(Operator.name == "Boris"))
        assert (op.max_load, op.is_active) == (7, True)
    assert "Operator Boris created." in client.get("/operators").get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "max_load": "3"}, "This field is required."),
        ({"name": "X", "max_load": ""}, "This field is required."),
        ({"name": "X", "max_load": "abc"}, "Not a valid integer value."),
        ({"name": "X", "max_load": "-1"}, "Number must be between 0 and 10000."),
        ({"name": "X", "max_load": "10001"}, "Number must be between 0 and 10000."),
        # 310+ digits: WTForms' own range check overflows on these (it was a 500).
        ({"name": "X", "max_load": "9" * 400}, "Number must be between 0 and 10000."),
        ({"name": "X", "max_load": "-" + "9" * 400}, "Number must be between 0 and 10000."),
        ({"name": "X" * 121, "max_load": "3"}, "Field cannot be longer than 120 characters."),
    ],
)
def test_create_operator_validation(client, sign_in, factory, data, message):
    sign_in("supervisor")
    before = factory.count("operators")
    token = form_token(client, "/operators/new")
    response = client.post("/operators/new", data={**data, "csrf_token": token})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert factory.count("operators") == before


def test_duplicate_name_is_shown_on_the_field(client, sign_in, factory):
    sign_in("supervisor")
    factory.operator("Anna")
    response = client.post("/operators/new", data={"name": "Anna", "max_load": "3",
                                                   "csrf_token": form_token(client, "/operators/new")})
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)
    assert factory.count("operators") == 1


def test_a_new_operator_lands_on_their_page_with_next_steps(client, sign_in, factory, app):
    night, day = factory.source("Night"), factory.source("Day")
    off = factory.source("Old form")
    factory._call(update_source, off.id, {"is_active": False})
    sign_in("supervisor")
    response = client.post("/operators/new", data={"name": "Clara", "max_load": "10", "is_active": "y",
                                                   "csrf_token": form_token(client, "/operators/new")})
    with app.app_context():
        clara = db.session.scalar(select(Operator).where(Operator.name == "Clara"))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/operators/{clara.id}/edit"

    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Operator Clara created." in html
    assert "Next steps for Clara" in html
    assert f'href="/users/new?operator_id={clara.id}"' in html
    for source in (night, day):
        assert f'href="/sources/{source.id}/weights#weight-{clara.id}"' in html
    assert f"/sources/{off.id}/weights" not in html  # a disabled source takes nothing anyway


def test_next_steps_show_only_what_is_left_and_go_when_done(client, sign_in, factory):
    clara = factory.operator("Clara")
    night = factory.source("Night", weights={clara: 1})
    day = factory.source("Day")
    sign_in("supervisor")
    path = f"/operators/{clara.id}/edit"

    html = client.get(path).get_data(as_text=True)
    assert "Next steps for Clara" in html and "Already in: Night." in html
    assert f"/sources/{day.id}/weights#" in html and f"/sources/{night.id}/weights#" not in html

    factory.staff("operator", operator_id=clara.id, email="clara@example.com")
    html = client.get(path).get_data(as_text=True)
    assert "Signs in as clara@example.com." in html and "/users/new?" not in html

    factory._call(replace_distribution, day.id, {clara.id: "2"})
    assert "Next steps" not in client.get(path).get_data(as_text=True)


def test_edit_operator(client, sign_in, factory, fetch):
    sign_in("supervisor")
    op = factory.operator("Anna", max_load=3)
    path = f"/operators/{op.id}/edit"
    page = client.get(path).get_data(as_text=True)
    assert 'value="Anna"' in page
    response = client.post(path, data={"name": "Anna K", "max_load": "9", "csrf_token": csrf_from(page)})
    assert response.status_code == 303
    saved = fetch(Operator, op.id)
    assert (saved.name, saved.max_load, saved.is_active) == ("Anna K", 9, False)
    assert client.get("/operators/999999/edit").status_code == 404


def test_pause_and_resume(client, sign_in, factory, fetch):
    sign_in("supervisor")
    op = factory.operator("Anna")
    token = form_token(client, "/operators")
    assert client.post(f"/operators/{op.id}/active", data={"csrf_token": token}).status_code == 303
    assert fetch(Operator, op.id).is_active is False
    client.post(f"/operators/{op.id}/active", data={"csrf_token": token})
    assert fetch(Operator, op.id).is_active is True


def test_delete_says_contacts_return_and_returns_them(client, sign_in, factory, make_contact, app):
    sign_in("supervisor")
    op = factory.operator("Anna", max_load=5)
    source = factory.source(weights={op: 1})
    for i in range(2):
        make_contact(source, phone=f"+7999000000{i}")
    page = client.get(f"/operators/{op.id}/delete").get_data(as_text=True)
    assert "2 active contacts of this operator will go back to the unassigned queue." in page
    response = client.post(f"/operators/{op.id}/delete", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303
    from crm_web.core.extensions import db

    with app.app_context():
        contacts = db.session.scalars(select(Contact)).all()
        assert [c.status for c in contacts] == ["unassigned", "unassigned"]
    page = client.get("/operators").get_data(as_text=True)
    assert "Operator Anna deleted; 2 active contacts went back to the queue." in page
    assert f"/operators/{op.id}/edit" not in page


@pytest.mark.parametrize("method,path", [
    ("get", "/operators"), ("get", "/operators/new"), ("post", "/operators/new"),
    ("get", "/operators/{id}/edit"), ("post", "/operators/{id}/edit"),
    ("get", "/operators/{id}/delete"), ("post", "/operators/{id}/delete"), ("post", "/operators/{id}/active"),
])
def test_operator_users_get_403_and_change_nothing(client, sign_in, factory, fetch, method, path):
    op = factory.operator("Anna", max_load=3)
    sign_in("operator")
    token = csrf_from(client.get("/").get_data(as_text=True))
    data = {"name": "Hacked", "max_load": "99", "csrf_token": token}
    response = getattr(client, method)(path.format(id=op.id), data=data if method == "post" else None)
    assert response.status_code == 403
    saved = fetch(Operator, op.id)
    assert (saved.name, saved.max_load, saved.deleted_at) == ("Anna", 3, None)


def test_post_without_csrf_is_400_and_changes_nothing(client, sign_in, factory, fetch):
    sign_in("supervisor")
    op = factory.operator("Anna", max_load=3)
    assert client.post("/operators/new", data={"name": "B", "max_load": "3"}).status_code == 400
    assert client.post(f"/operators/{op.id}/edit", data={"name": "C", "max_load": "4"}).status_code == 400
    assert client.post(f"/operators/{op.id}/delete").status_code == 400
    assert client.post(f"/operators/{op.id}/active").status_code == 400
    saved = fetch(Operator, op.id)
    assert (saved.name, saved.max_load, saved.is_active, saved.deleted_at) == ("Anna", 3, True, None)
    assert factory.count("operators") == 1


def test_operator_name_is_escaped(client, sign_in, factory):
    sign_in("supervisor")
    factory.operator("<script>alert(1)</script>")
    for path in ("/operators", "/"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
