"""/sources pages: list, create, detail with webhook URL and token, edit, enable/disable, new token."""

from __future__ import annotations

import pytest

from crm_web.models import Source


@pytest.fixture
def source(factory):
    return factory.source(name="Website form", key="website-form")


def page(response) -> str:
    return response.get_data(as_text=True)


# --- who may see what ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/sources", "/sources/new", "/sources/{id}", "/sources/{id}/edit"])
def test_anonymous_visitors_are_sent_to_login(client, source, path):
    response = client.get(path.format(id=source.id))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("path", ["/sources", "/sources/new", "/sources/{id}", "/sources/{id}/edit"])
def test_operator_users_get_403_on_every_page(client, sign_in, source, path):
    sign_in("operator")
    assert client.get(path.format(id=source.id)).status_code == 403


@pytest.mark.parametrize(
    "path, data",
    [
        ("/sources/new", {"name": "Other", "key": "other"}),
        ("/sources/{id}/edit", {"name": "Renamed", "key": "renamed", "is_active": "y"}),
        ("/sources/{id}/active", {}),
        ("/sources/{id}/token", {}),
    ],
)
def test_operator_users_get_403_on_every_post_and_nothing_changes(
    client, sign_in, csrf, factory, fetch, source, path, data
):
    sign_in("operator")
    response = client.post(path.format(id=source.id), data={**data, "csrf_token": csrf("/")})
    assert response.status_code == 403
    after = fetch(Source, source.id)
    assert (after.name, after.key, after.is_active, after.webhook_token) == (
        source.name, source.key, source.is_active, source.webhook_token
    )
    assert factory.count("sources") == 1


@pytest.mark.parametrize(
    "path, data",
    [
        ("/sources/new", {"name": "Other", "key": "other"}),
        ("/sources/{id}/edit", {"name": "Renamed", "key": "renamed", "is_active": "y"}),
        ("/sources/{id}/active", {}),
        ("/sources/{id}/token", {}),
    ],
)
def test_a_post_without_csrf_token_is_400_and_changes_nothing(
    client, sign_in, factory, fetch, source, path, data
):
    sign_in()
    response = client.post(path.format(id=source.id), data=data)
    assert response.status_code == 400
    after = fetch(Source, source.id)
    assert (after.name, after.key, after.is_active, after.webhook_token) == (
        source.name, source.key, source.is_active, source.webhook_token
    )
    assert factory.count("sources") == 1


def test_unknown_source_is_404(client, sign_in, csrf):
    sign_in()
    token = csrf("/")
    assert client.get("/sources/4242").status_code == 404
    assert client.get("/sources/4242/edit").status_code == 404
    assert client.post("/sources/4242/active", data={"csrf_token": token}).status_code == 404
    assert client.post("/sources/4242/token", data={"csrf_token": token}).status_code == 404


# --- list ---------------------------------------------------------------------------


def test_list_shows_name_key_state_and_number_of_rules(client, sign_in, factory):
    anna, boris = factory.operator("Anna"), factory.operator("Boris")
    web = factory.source(name="Website form", key="website-form", weights={anna: "10", boris: "5"})
    factory.source(name="Call centre", key="call-centre")
    sign_in()
    html = page(client.get("/sources"))
    assert "Website form" in html and "website-form" in html and "Call centre" in html
    assert "2 operators" in html
    assert "none yet" in html  # the call centre has no rule
    assert f'href="/sources/{web.id}/weights"' in html
    assert "enabled" in html


def test_list_with_no_sources_invites_to_create_one(client, sign_in):
    sign_in()
    html = page(client.get("/sources"))
    assert "No sources yet" in html
    assert 'href="/sources/new"' in html


def test_list_issues_the_same_number_of_queries_for_5_and_50_sources(client, sign_in, factory, count_queries):
    op = factory.operator()
    sign_in()

    def queries_for_list() -> int:
        count, response = count_queries(lambda: client.get("/sources"))
        assert response.status_code == 200
        return count

    for i in range(5):
        factory.source(name=f"Source {i:02d}", weights={op: "1"})
    with_5 = queries_for_list()
    for i in range(5, 50):
        factory.source(name=f"Source {i:02d}", weights={op: "1"})
    assert queries_for_list() == with_5


# --- create -------------------------------------------------------------------------


def test_create_with_a_derived_key(client, sign_in, csrf, factory):
    sign_in()
    response = client.post(
        "/sources/new", data={"name": "Landing page", "key": "", "csrf_token": csrf("/sources/new")}
    )
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/sources/")
    html = page(client.get(response.headers["Location"]))
    assert "Source Landing page created" in html
    assert "/webhooks/landing-page" in html
    assert factory.count("sources") == 1


def test_a_cyrillic_name_gives_a_transliterated_key_numbered_when_taken(client, sign_in, csrf):
    sign_in()
    locations = []
    for name in ("Сайт салона", "Сайт  салона!"):
        response = client.post(
            "/sources/new", data={"name": name, "key": "", "csrf_token": csrf("/sources/new")}
        )
        assert response.status_code == 303
        locations.append(response.headers["Location"])
    assert 'value="http://localhost/webhooks/sait-salona" readonly' in page(client.get(locations[0]))
    assert 'value="http://localhost/webhooks/sait-salona-2" readonly' in page(client.get(locations[1]))


def test_create_with_an_explicit_key(client, sign_in, csrf, fetch):
    sign_in()
    response = client.post(
        "/sources/new", data={"name": "Landing page", "key": "lp-2026", "csrf_token": csrf("/sources/new")}
    )
    assert response.status_code == 303
    source_id = int(response.headers["Location"].rsplit("/", 1)[1])
    created = fetch(Source, source_id)
    assert (created.name, created.key, created.is_active) == ("Landing page", "lp-2026", True)
    assert len(created.webhook_token) >= 32


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": ""}, "This field is required."),
        ({"name": "   "}, "This field is required."),
        ({"name": "x" * 121}, "Field cannot be longer than 120 characters."),
        ({"name": "Landing", "key": "Bad Key!"}, "lower-case letters, digits"),
        ({"name": "Landing", "key": "-starts-with-dash"}, "lower-case letters, digits"),
        ({"name": "Landing", "key": "k" * 65}, "Field cannot be longer than 64 characters."),
    ],
)
def test_create_validation_errors_are_422_and_create_nothing(client, sign_in, csrf, factory, data, message):
    sign_in()
    response = client.post("/sources/new", data={**data, "csrf_token": csrf("/sources/new")})
    assert response.status_code == 422
    html = page(response)
    assert message in html
    assert 'class="field-error"' in html
    assert factory.count("sources") == 0


def test_create_with_a_taken_name_or_key_is_422(client, sign_in, csrf, factory, source):
    sign_in()
    token = csrf("/sources/new")
    response = client.post("/sources/new", data={"name": "Website form", "csrf_token": token})
    assert response.status_code == 422
    assert "A source with this name already exists." in page(response)
    response = client.post("/sources/new", data={"name": "New", "key": "website-form", "csrf_token": token})
    assert response.status_code == 422
    assert "A source with this key already exists." in page(response)
    assert factory.count("sources") == 1


# --- detail -------------------------------------------------------------------------


def test_detail_shows_webhook_url_token_copy_buttons_and_example(client, sign_in, factory):
    anna = factory.operator("Anna")
    source = factory.source(name="Website form", key="website-form", weights={anna: "10"})
    sign_in()
    html = page(client.get(f"/sources/{source.id}"))
    assert 'value="http://localhost/webhooks/website-form" readonly' in html
    assert f'value="{source.webhook_token}" readonly' in html
    assert 'data-copy="#webhook-url"' in html and 'data-copy="#webhook-token"' in html
    assert "curl -X POST 'http://localhost/webhooks/website-form'" in html
    assert f"X-Webhook-Token: {source.webhook_token}" in html
    # The weight table summary.
    assert "Anna" in html and "10.00" in html and "100.0%" in html
    # The new token needs a confirmation that says what happens.
    assert "stops working at once" in html
    assert f'action="/sources/{source.id}/token"' in html


def test_detail_shows_the_weight_table_before_the_connection_help(client, sign_in, factory):
    anna = factory.operator("Anna")
    source = factory.source(name="Website form", weights={anna: "10"})
    sign_in()
    html = page(client.get(f"/sources/{source.id}"))
    weights, webhook, connect = (html.index(f'<article id="{part}">') for part in ("weights", "webhook",
                                                                                   "connect"))
    assert weights < webhook < connect
    assert html.index('href="#weights"') < html.index('href="#webhook"')  # the page's contents too


def test_detail_uses_crm_public_url_when_set(app, client, sign_in, source):
    app.config["CRM_PUBLIC_URL"] = "https://crm.example.com"
    sign_in()
    html = page(client.get(f"/sources/{source.id}"))
    assert 'value="https://crm.example.com/webhooks/website-form"' in html


def test_detail_of_a_source_without_rules_says_contacts_wait(client, sign_in, source):
    sign_in()
    assert "No operator has a weight on this source yet" in page(client.get(f"/sources/{source.id}"))


# --- edit ---------------------------------------------------------------------------


def test_edit_saves_name_key_and_enabled(client, sign_in, csrf, fetch, source):
    sign_in()
    form = page(client.get(f"/sources/{source.id}/edit"))
    assert 'value="Website form"' in form and 'value="website-form"' in form
    response = client.post(
        f"/sources/{source.id}/edit",
        data={"name": "Site form", "key": "site", "csrf_token": csrf(f"/sources/{source.id}/edit")},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/sources/{source.id}"
    after = fetch(Source, source.id)
    # An unchecked box is False: the source is now disabled.
    assert (after.name, after.key, after.is_active) == ("Site form", "site", False)
    assert "Source Site form saved." in page(client.get(f"/sources/{source.id}"))


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": "", "key": "website-form"}, "This field is required."),
        ({"name": "Website form", "key": ""}, "Must not be empty."),
        ({"name": "Website form", "key": "UPPER"}, "lower-case letters, digits"),
    ],
)
def test_edit_validation_errors_are_422_and_change_nothing(
    client, sign_in, csrf, fetch, source, data, message
):
    sign_in()
    response = client.post(
        f"/sources/{source.id}/edit", data={**data, "is_active": "y", "csrf_token": csrf("/")}
    )
    assert response.status_code == 422
    assert message in page(response)
    after = fetch(Source, source.id)
    assert (after.name, after.key, after.is_active) == ("Website form", "website-form", True)


def test_edit_to_a_taken_name_or_key_is_422(client, sign_in, csrf, factory, fetch, source):
    other = factory.source(name="Call centre", key="call-centre")
    sign_in()
    token = csrf("/")
    response = client.post(
        f"/sources/{other.id}/edit", data={"name": "Website form", "key": "call-centre", "csrf_token": token}
    )
    assert response.status_code == 422
    assert "A source with this name already exists." in page(response)
    response = client.post(
        f"/sources/{other.id}/edit", data={"name": "Call centre", "key": "website-form", "csrf_token": token}
    )
    assert response.status_code == 422
    assert "A source with this key already exists." in page(response)
    assert fetch(Source, other.id).key == "call-centre"


# --- enable / disable, new token -------------------------------------------------------------


def test_disable_and_enable(client, sign_in, csrf, fetch, source):
    sign_in()
    token = csrf("/")
    response = client.post(f"/sources/{source.id}/active", data={"csrf_token": token})
    assert response.status_code == 303
    assert fetch(Source, source.id).is_active is False
    html = page(client.get("/sources"))
    assert "Website form is disabled" in html and "disabled" in html
    client.post(f"/sources/{source.id}/active", data={"csrf_token": token})
    assert fetch(Source, source.id).is_active is True
    assert "Website form is enabled" in page(client.get("/sources"))


def test_a_disabled_source_refuses_its_webhook(client, sign_in, csrf, source):
    sign_in()
    client.post(f"/sources/{source.id}/active", data={"csrf_token": csrf("/")})
    response = client.post(
        "/webhooks/website-form", json={"phone": "+79991234567"},
        headers={"X-Webhook-Token": source.webhook_token},
    )
    assert response.status_code == 404


def test_new_token_replaces_the_old_one(client, sign_in, csrf, fetch, source):
    sign_in()
    response = client.post(f"/sources/{source.id}/token", data={"csrf_token": csrf("/")})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/sources/{source.id}"
    new_token = fetch(Source, source.id).webhook_token
    assert new_token != source.webhook_token
    html = page(client.get(f"/sources/{source.id}"))
    assert "A new token was issued for Website form" in html
    assert f'value="{new_token}"' in html and source.webhook_token not in html
    old = client.post("/webhooks/website-form", json={"phone": "+79991234567"},
                      headers={"X-Webhook-Token": source.webhook_token})
    assert old.status_code == 401


# --- escaping -------------------------------------------------------------------------


def test_a_script_in_a_source_name_is_escaped(client, sign_in, factory):
    source = factory.source(name="<script>alert(1)</script>", key="xss")
    sign_in()
    base = f"/sources/{source.id}"
    for path in ("/sources", base, f"{base}/edit", f"{base}/weights"):
        html = page(client.get(path))
        assert "<script>alert(1)</script>" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
