"""/users pages: list staff users, create one, enable or disable sign-in."""

from __future__ import annotations

import pytest

from crm_web.core.extensions import db
from crm_web.models import User
from crm_web.services.users import get_user_by_email

PASSWORD = "password-123"  # the factory's password for every staff user


def page(response) -> str:
    return response.get_data(as_text=True)


def user_by_email(app, email: str) -> User | None:
    with app.app_context():
        user = get_user_by_email(db.session, email)
        db.session.remove()
        return user


# --- who may see what ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/users", "/users/new"])
def test_anonymous_visitors_are_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("path", ["/users", "/users/new"])
def test_operator_users_get_403(client, sign_in, path):
    sign_in("operator")
    assert client.get(path).status_code == 403


def test_operator_users_cannot_create_or_disable_users(client, sign_in, csrf, factory, fetch):
    boss = factory.staff("supervisor")
    sign_in("operator")
    token = csrf("/")
    response = client.post(
        "/users/new",
        data={"email": "new@example.com", "role": "supervisor", "operator_id": "0",
              "password": "long-enough", "csrf_token": token},
    )
    assert response.status_code == 403
    assert client.post(f"/users/{boss.user_id}/enabled", data={"csrf_token": token}).status_code == 403
    assert factory.count("users") == 2
    assert fetch(User, boss.user_id).is_enabled is True


def test_a_post_without_csrf_token_is_400_and_changes_nothing(client, sign_in, factory, fetch):
    other = factory.staff("supervisor")
    sign_in()
    response = client.post(
        "/users/new",
        data={"email": "new@example.com", "role": "supervisor", "operator_id": "0",
              "password": "long-enough"},
    )
    assert response.status_code == 400
    assert client.post(f"/users/{other.user_id}/enabled").status_code == 400
    assert factory.count("users") == 2
    assert fetch(User, other.user_id).is_enabled is True


# --- list -------------------------------------------------------------------------------


def test_list_shows_email_role_operator_and_state(client, sign_in, factory):
    anna = factory.operator("Anna Petrova")
    factory.staff("operator", operator_id=anna.id, email="anna@example.com")
    me = sign_in(email="boss@example.com")
    html = page(client.get("/users"))
    assert "anna@example.com" in html and "Anna Petrova" in html
    assert "boss@example.com" in html and "(you)" in html
    assert "supervisor" in html and "operator" in html and "enabled" in html
    # No button to disable oneself, one for the other user.
    assert f'action="/users/{me.user_id}/enabled"' not in html
    assert html.count('/enabled"') == 1


def test_list_issues_the_same_number_of_queries_for_5_and_50_users(client, sign_in, factory, count_queries):
    sign_in()

    def queries() -> int:
        count, response = count_queries(lambda: client.get("/users"))
        assert response.status_code == 200
        return count

    def add(n: int) -> None:
        for _ in range(n):
            factory.staff("operator", operator_id=factory.operator().id)

    add(5)
    with_5 = queries()
    add(45)
    assert queries() == with_5


def test_a_script_in_an_operator_name_is_escaped(client, sign_in, factory):
    evil = factory.operator("<script>alert(1)</script>")
    factory.staff("operator", operator_id=evil.id)
    sign_in()
    html = page(client.get("/users"))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- create -------------------------------------------------------------------------------


def test_new_user_form_offers_every_operator(client, sign_in, factory):
    anna = factory.operator("Anna")
    sign_in()
    html = page(client.get("/users/new"))
    assert f'<option value="{anna.id}">Anna</option>' in html
    assert 'name="csrf_token"' in html


def test_new_user_form_preselects_the_operator_given_in_the_address(client, sign_in, factory):
    anna = factory.operator("Anna")
    boris = factory.operator("Boris")
    sign_in()
    html = page(client.get(f"/users/new?operator_id={boris.id}"))
    assert f'<option selected value="{boris.id}">Boris</option>' in html
    assert '<option selected value="operator">' in html
    assert html.count("<option selected") == 2
    # An unknown or malformed operator preselects nothing.
    for query in ("operator_id=999999", "operator_id=x"):
        html = page(client.get(f"/users/new?{query}"))
        assert f'<option value="{anna.id}">Anna</option>' in html
        assert f'<option value="{boris.id}">Boris</option>' in html


def test_create_a_supervisor(app, client, sign_in, csrf):
    sign_in()
    response = client.post(
        "/users/new",
        data={"email": " New.Boss@Example.com ", "role": "supervisor", "operator_id": "0",
              "password": "long-enough", "csrf_token": csrf("/users/new")},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/users"
    assert "User new.boss@example.com created." in page(client.get("/users"))
    user = user_by_email(app, "new.boss@example.com")
    assert (user.role, user.operator_id, user.is_enabled) == ("supervisor", None, True)


def test_a_new_operator_user_can_sign_in(app, client, sign_in, csrf, factory, log_in):
    anna = factory.operator("Anna")
    sign_in()
    response = client.post(
        "/users/new",
        data={"email": "anna@example.com", "role": "operator", "operator_id": str(anna.id),
              "password": "anna-secret", "csrf_token": csrf("/users/new")},
    )
    assert response.status_code == 303
    user = user_by_email(app, "anna@example.com")
    assert (user.role, user.operator_id) == ("operator", anna.id)

    assert log_in(app.test_client(), "anna@example.com", "anna-secret").status_code == 303


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"email": ""}, "email", "This field is required."),
        ({"email": "not-an-email"}, "email", "email"),
        ({"password": "short"}, "password", "Field must be between 8 and 1024 characters long."),
        ({"password": ""}, "password", "This field is required."),
        ({"role": "operator", "operator_id": "0"}, "operator_id", "must be linked to an operator"),
        ({"role": "operator", "operator_id": "999999"}, "operator_id", "Operator 999999 does not exist."),
        ({"role": "operator", "operator_id": "abc"}, "operator_id", "Invalid Choice"),
        ({"role": "admin"}, "role", "Not a valid choice."),
    ],
)
def test_create_validation_errors_are_422_and_create_nothing(
    client, sign_in, csrf, factory, data, field, message
):
    sign_in()
    form = {"email": "new@example.com", "role": "supervisor", "operator_id": "0", "password": "long-enough"}
    response = client.post("/users/new", data={**form, **data, "csrf_token": csrf("/users/new")})
    assert response.status_code == 422
    html = page(response)
    assert f'<small id="{field}-help" class="field-error">' in html
    error = html.split(f'<small id="{field}-help" class="field-error">', 1)[1].split("</small>", 1)[0]
    assert message.lower() in error.lower()
    assert factory.count("users") == 1


def test_create_with_a_taken_email_is_422(client, sign_in, csrf, factory):
    factory.staff("supervisor", email="taken@example.com")
    sign_in()
    response = client.post(
        "/users/new",
        data={"email": "TAKEN@example.com", "role": "supervisor", "operator_id": "0",
              "password": "long-enough", "csrf_token": csrf("/users/new")},
    )
    assert response.status_code == 422
    assert "A user with email taken@example.com already exists." in page(response)
    assert factory.count("users") == 2


# --- enable / disable ----------------------------------------------------------------------


def test_disable_and_enable_another_user(app, client, sign_in, csrf, factory, fetch, log_in):
    anna = factory.staff("operator", operator_id=factory.operator().id, email="anna@example.com")
    sign_in()
    token = csrf("/")
    response = client.post(f"/users/{anna.user_id}/enabled", data={"csrf_token": token})
    assert response.status_code == 303
    assert fetch(User, anna.user_id).is_enabled is False
    html = page(client.get("/users"))
    assert "anna@example.com is disabled" in html and "disabled" in html

    # A disabled user can neither sign in nor use the API.
    other = app.test_client()
    response = log_in(other, "anna@example.com", PASSWORD)
    assert response.status_code == 200 and "Wrong email or password." in page(response)
    assert other.get("/api/v1/operators", headers=anna.headers).status_code == 401

    client.post(f"/users/{anna.user_id}/enabled", data={"csrf_token": token})
    assert fetch(User, anna.user_id).is_enabled is True
    assert "anna@example.com can sign in again." in page(client.get("/users"))


def test_disabling_signs_out_a_user_who_is_signed_in(app, client, sign_in, csrf, factory, log_in):
    anna = factory.staff("operator", operator_id=factory.operator().id, email="anna@example.com")
    anna_client = app.test_client()
    assert log_in(anna_client, "anna@example.com").status_code == 303
    assert anna_client.get("/").status_code == 200

    sign_in()
    client.post(f"/users/{anna.user_id}/enabled", data={"csrf_token": csrf("/")})
    response = anna_client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_supervisor_cannot_disable_itself(client, sign_in, csrf, fetch):
    me = sign_in()
    response = client.post(f"/users/{me.user_id}/enabled", data={"csrf_token": csrf("/")})
    assert response.status_code == 303
    assert fetch(User, me.user_id).is_enabled is True
    assert "You cannot disable your own account." in page(client.get("/users"))


def test_unknown_user_is_404(client, sign_in, csrf):
    sign_in()
    assert client.post("/users/4242/enabled", data={"csrf_token": csrf("/")}).status_code == 404
