"""An operator user tries every supervisor page, form and API call: 403, and nothing changes.

The routes come from the app's URL map, so a new route must be classified
here (supervisor only, or open to any staff member) before the suite passes.
"""

from __future__ import annotations

from flask import url_for
from sqlalchemy import text

from tests.api.helpers import API, Api, as_json, intake
from tests.helpers import assert_error, csrf_from

SUPERVISOR_ONLY = {
    ("web.operators", "GET"),
    ("web.new_operator", "GET"),
    ("web.new_operator", "POST"),
    ("web.edit_operator", "GET"),
    ("web.edit_operator", "POST"),
    ("web.delete_operator", "GET"),
    ("web.delete_operator", "POST"),
    ("web.toggle_operator", "POST"),
    ("web.sources", "GET"),
    ("web.new_source", "GET"),
    ("web.new_source", "POST"),
    ("web.source", "GET"),
    ("web.edit_source", "GET"),
    ("web.edit_source", "POST"),
    ("web.toggle_source", "POST"),
    ("web.rotate_source_token", "POST"),
    ("web.source_format", "POST"),
    ("web.weights", "GET"),
    ("web.weights", "POST"),
    ("web.users", "GET"),
    ("web.new_user", "GET"),
    ("web.new_user", "POST"),
    ("web.toggle_user", "POST"),
    ("web.reset_password", "POST"),
    ("web.audit", "GET"),
    ("web.distribution_report", "GET"),
    ("web.team_report", "GET"),
    ("web.duplicates", "GET"),
    ("web.merge_preview", "GET"),
    ("web.merge_confirm", "POST"),
    ("web.dismiss_duplicate", "POST"),
    ("web.drain", "POST"),
    ("api.create_operator", "POST"),
    ("api.update_operator", "PATCH"),
    ("api.delete_operator", "DELETE"),
    ("api.create_source", "POST"),
    ("api.update_source", "PATCH"),
    ("api.rotate_token", "POST"),
    ("api.put_distribution", "PUT"),
}

# Open to every signed-in staff member (some with an own-only rule, tested below),
# or public by design (sign-in, health, static files, the webhook).
OPEN = {
    ("web.overview", "GET"),
    ("web.queue", "GET"),
    ("web.assign_contact", "POST"),
    ("web.contacts", "GET"),
    ("web.contact", "GET"),
    ("web.close_contact", "POST"),
    ("web.close_same_source", "POST"),
    ("web.add_note", "POST"),
    ("web.new_contact", "GET"),
    ("web.new_contact", "POST"),
    ("web.export_contacts", "GET"),
    ("web.export_leads", "GET"),
    ("web.leads", "GET"),
    ("web.lead", "GET"),
    ("web.my_contacts", "GET"),
    ("web.my_availability", "POST"),
    ("web.live_ticket", "GET"),
    ("web.change_password", "GET"),
    ("web.change_password", "POST"),
    ("web.account_timezone", "GET"),
    ("web.account_timezone", "POST"),
    ("web.tokens", "GET"),
    ("web.issue_token", "POST"),
    ("web.revoke_token", "POST"),
    ("web.login", "GET"),
    ("web.login", "POST"),
    ("web.logout", "POST"),
    ("web.switch_language", "POST"),
    ("api.list_operators", "GET"),
    ("api.get_operator", "GET"),
    ("api.list_sources", "GET"),
    ("api.get_source", "GET"),
    ("api.get_distribution", "GET"),
    ("api.create_contact", "POST"),
    ("api.list_contacts", "GET"),
    ("api.get_contact", "GET"),
    ("api.assign_contact", "POST"),
    ("api.close_contact", "POST"),
    ("api.list_notes", "GET"),
    ("api.add_note", "POST"),
    ("api.list_leads", "GET"),
    ("api.get_lead", "GET"),
    ("health.healthz", "GET"),
    ("static", "GET"),
    ("webhooks.receive", "POST"),
    ("api.openapi_json", "GET"),
    ("api_docs.reference", "GET"),
}

# A valid request body per endpoint, so that only the role check can refuse it.
FORMS = {
    "web.new_operator": lambda w: {"name": "Mallory", "max_load": "9", "is_active": "y"},
    "web.edit_operator": lambda w: {"name": "Renamed", "max_load": "99", "is_active": "y"},
    "web.new_source": lambda w: {"name": "Evil", "key": "evil", "is_active": "y"},
    "web.edit_source": lambda w: {"name": "Renamed", "key": "renamed", "is_active": "y"},
    "web.weights": lambda w: {f"weight-{w['operator_id']}": "5"},
    "web.merge_confirm": lambda w: {"keep": w["lead_id"], "other": w["other_lead"]},
    "web.dismiss_duplicate": lambda w: {"keep": w["lead_id"], "other": w["other_lead"]},
    "web.new_user": lambda w: {
        "email": "mallory@example.com",
        "role": "supervisor",
        "operator_id": "0",
        "password": "password-123",
    },
}
QUERIES = {
    "web.merge_preview": lambda w: {"keep": w["lead_id"], "other": w["other_lead"]},
}
API_BODIES = {
    "api.create_operator": lambda w: {"name": "Mallory", "max_load": 3},
    "api.update_operator": lambda w: {"max_load": 99},
    "api.create_source": lambda w: {"name": "Evil"},
    "api.update_source": lambda w: {"name": "Renamed"},
    "api.put_distribution": lambda w: {"rules": [{"operator_id": w["operator_id"], "weight": "5"}]},
}
SNAPSHOT_TABLES = (
    "operators",
    "sources",
    "source_operator_distributions",
    "users",
    "api_tokens",
    "contacts",
    "contact_notes",
    "leads",
    "audit_events",
)


def routes(app) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def snapshot(app) -> dict[str, list]:
    from crm_web.core.extensions import db

    with app.app_context():
        state = {
            t: sorted(map(repr, db.session.execute(text(f"SELECT * FROM {t}")).all()))
            for t in SNAPSHOT_TABLES
        }
        db.session.remove()
    return state


def world(factory, api):
    """An object of every kind, so that every path has something real to act on."""
    mine = factory.operator("Own", max_load=5)
    boris = factory.operator("Boris", max_load=5)
    source = factory.source("Site", key="site", weights={boris: 1})
    assigned = intake(api, source.id, phone="+79991234567")["contact"]
    queued_source = factory.source("Empty", key="empty")
    queued = intake(api, queued_source.id, phone="+79991234568")["contact"]
    victim = factory.staff("supervisor")
    return {
        "mine": mine.id,
        "operator_id": boris.id,
        "source_id": source.id,
        "contact_id": queued["id"],
        "assigned_contact": assigned["id"],
        "lead_id": assigned["lead_id"],
        "other_lead": queued["lead_id"],
        "user_id": victim.user_id,
        "token_id": 1,
    }


def test_every_route_is_classified(app):
    unknown = routes(app) - SUPERVISOR_ONLY - OPEN
    assert not unknown, f"classify these routes in {__file__}: {sorted(unknown)}"
    assert not SUPERVISOR_ONLY & OPEN
    assert not (SUPERVISOR_ONLY | OPEN) - routes(app), "routes listed here that the app no longer has"


def test_an_operator_user_is_refused_every_supervisor_route(app, client, factory, api, sign_in):
    w = world(factory, api)
    operator_user = sign_in("operator", operator_id=w["mine"])
    operator_api = Api(client, operator_user)
    token = csrf_from(client.get("/").get_data(as_text=True))
    before = snapshot(app)
    refused = []
    for endpoint, method in sorted(SUPERVISOR_ONLY):
        rule = next(r for r in app.url_map.iter_rules(endpoint))
        with app.test_request_context():
            path = url_for(
                endpoint, **{arg: w[arg] for arg in rule.arguments}, **QUERIES.get(endpoint, lambda w: {})(w)
            )
        if endpoint.startswith("api."):
            body = API_BODIES.get(endpoint, lambda w: None)(w)
            response = operator_api.open(method, path.removeprefix(API), body)
            if response.status_code == 403:
                assert_error(response, 403)
        else:
            data = {**FORMS.get(endpoint, lambda w: {})(w), "csrf_token": token} if method == "POST" else None
            response = client.open(path, method=method, data=data)
        refused.append((endpoint, method, response.status_code))
        assert snapshot(app) == before, f"{method} {path} changed data"
    assert [r for r in refused if r[2] != 403] == []
    # Still signed in and served where the role allows it.
    assert client.get("/queue").status_code == 200


def test_a_supervisor_reaches_the_same_pages(app, client, factory, api, sign_in):
    w = world(factory, api)
    sign_in("supervisor")
    for endpoint, method in sorted(SUPERVISOR_ONLY):
        if method != "GET" or not endpoint.startswith("web."):
            continue
        rule = next(r for r in app.url_map.iter_rules(endpoint))
        with app.test_request_context():
            path = url_for(
                endpoint, **{arg: w[arg] for arg in rule.arguments}, **QUERIES.get(endpoint, lambda w: {})(w)
            )
        assert client.get(path).status_code == 200, path


def test_an_operator_user_acts_only_for_itself(app, client, factory, api, sign_in):
    w = world(factory, api)
    operator_user = sign_in("operator", operator_id=w["mine"])
    operator_api = Api(client, operator_user)
    token = csrf_from(client.get("/").get_data(as_text=True))
    before = snapshot(app)
    # Give a queued contact to somebody else, close somebody else's contact: pages and API.
    response = client.post(
        f"/queue/{w['contact_id']}/assign", data={"operator_id": w["operator_id"], "csrf_token": token}
    )
    assert response.status_code == 403
    assert (
        client.post(f"/contacts/{w['assigned_contact']}/close", data={"csrf_token": token}).status_code == 403
    )
    assert_error(
        operator_api.post(f"/contacts/{w['contact_id']}/assign", {"operator_id": w["operator_id"]}), 403
    )
    assert_error(operator_api.post(f"/contacts/{w['assigned_contact']}/close"), 403)
    assert snapshot(app) == before
    # Reading a source works, without its webhook token.
    assert "webhook_token" not in as_json(operator_api.get(f"/sources/{w['source_id']}"))
