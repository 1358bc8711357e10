"""/api/v1/sources: what a source's webhook receives (§2a): form_format, field_map, vk_confirmation."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from crm_web.core.extensions import db
from crm_web.domain.form_body import MAX_FIELD_MAP
from crm_web.domain.form_reading import MAX_VK_CONFIRMATION
from crm_web.models import AuditEvent, Source
from tests.helpers import assert_error

from .helpers import Api, as_json, db_state

SETTINGS = ("form_format", "field_map", "vk_confirmation")
DEFAULTS = {"form_format": "standard", "field_map": {}, "vk_confirmation": None}


def settings(body: dict) -> dict:
    return {name: body[name] for name in SETTINGS}


def audit_rows(app, source_id: int) -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_type == "source", AuditEvent.subject_id == source_id)
            .order_by(AuditEvent.id)
        ).all()
        found = [{"action": row.action, **json.loads(row.details)} for row in rows]
        db.session.remove()
    return found


# --- create and read ----------------------------------------------------------------------------

def test_a_new_source_receives_the_standard_format_with_no_field_map(api, factory):
    created = as_json(api.post("/sources", {"name": "Site"}), 201)
    assert settings(created) == DEFAULTS
    assert settings(as_json(api.get(f"/sources/{created['id']}"))) == DEFAULTS
    assert settings(as_json(api.get("/sources"))["items"][0]) == DEFAULTS
    # The pages' own path (the factory) gets the same defaults.
    made = factory.source("Calls")
    assert settings(as_json(api.get(f"/sources/{made.id}"))) == DEFAULTS


def test_create_with_every_setting_reads_them_back(app, api):
    body = {
        "name": "VK ads", "form_format": "vk", "vk_confirmation": "  a1b2c3d4 ",
        "field_map": {" your-city ": "message", "tel-715": "phone", "Client": "external_id"},
    }
    created = as_json(api.post("/sources", body), 201)
    expected = {
        "form_format": "vk", "vk_confirmation": "a1b2c3d4",  # trimmed
        "field_map": {"your-city": "message", "tel-715": "phone", "Client": "external_id"},
    }
    assert settings(created) == expected
    assert settings(as_json(api.get(f"/sources/{created['id']}"))) == expected
    stored = db_state(app, Source, created["id"])
    assert {name: stored[name] for name in SETTINGS} == expected


def test_operator_users_do_not_see_how_forms_connect(client, factory, api):
    site = as_json(api.post("/sources", {"name": "Site", "form_format": "site_form",
                                         "field_map": {"city": "message"}}), 201)
    operator_api = Api(client, factory.staff("operator", operator_id=factory.operator("Anna").id))
    for body in (as_json(operator_api.get(f"/sources/{site['id']}")),
                 as_json(operator_api.get("/sources"))["items"][0]):
        assert not set(SETTINGS) & set(body), body
    assert_error(operator_api.patch(f"/sources/{site['id']}", {"form_format": "vk"}), 403, "forbidden")
    assert settings(as_json(api.get(f"/sources/{site['id']}")))["form_format"] == "site_form"


# --- change -------------------------------------------------------------------------------------

def test_patch_changes_only_the_settings_given(app, api):
    site = as_json(api.post("/sources", {"name": "Site"}), 201)
    path = f"/sources/{site['id']}"
    body = as_json(api.patch(path, {"form_format": "site_form"}))
    assert settings(body) == {**DEFAULTS, "form_format": "site_form"}
    body = as_json(api.patch(path, {"field_map": {"Your phone": "phone"}}))
    assert settings(body) == {"form_format": "site_form", "field_map": {"Your phone": "phone"},
                              "vk_confirmation": None}
    body = as_json(api.patch(path, {"vk_confirmation": "f00d"}))
    assert settings(body) == {"form_format": "site_form", "field_map": {"Your phone": "phone"},
                              "vk_confirmation": "f00d"}
    # Another field alone changes none of them; a field_map replaces the whole map.
    body = as_json(api.patch(path, {"name": "Site form"}))
    assert body["vk_confirmation"] == "f00d" and body["field_map"] == {"Your phone": "phone"}
    body = as_json(api.patch(path, {"field_map": {"email_2": "email"}}))
    assert body["field_map"] == {"email_2": "email"}
    assert settings(as_json(api.get(path))) == settings(body)


def test_null_or_empty_clears_the_field_map_and_the_confirmation_but_not_the_format(app, api):
    site = as_json(api.post("/sources", {
        "name": "Site", "form_format": "vk", "field_map": {"a": "name"}, "vk_confirmation": "x1",
    }), 201)
    path = f"/sources/{site['id']}"
    body = as_json(api.patch(path, {"form_format": None, "field_map": None, "vk_confirmation": None}))
    assert settings(body) == {"form_format": "vk", "field_map": {}, "vk_confirmation": None}
    as_json(api.patch(path, {"field_map": {"a": "name"}, "vk_confirmation": "x1"}))
    body = as_json(api.patch(path, {"field_map": {}, "vk_confirmation": "   "}))
    assert settings(body) == {"form_format": "vk", "field_map": {}, "vk_confirmation": None}
    stored = db_state(app, Source, site["id"])
    assert (stored["field_map"], stored["vk_confirmation"]) == (None, None)  # stored as NULL, read as {}


def test_a_read_sent_back_as_it_is_changes_nothing(app, api):
    site = as_json(api.post("/sources", {"name": "Site", "form_format": "site_form",
                                         "field_map": {"city": "message"}}), 201)
    before = db_state(app, Source, site["id"])
    echoed = as_json(api.patch(f"/sources/{site['id']}", as_json(api.get(f"/sources/{site['id']}"))))
    assert settings(echoed) == settings(site)
    assert db_state(app, Source, site["id"]) == before
    assert [row["action"] for row in audit_rows(app, site["id"])] == ["source.created"]


def test_the_audit_trail_shows_the_settings_before_and_after(app, api):
    site = as_json(api.post("/sources", {"name": "Site", "field_map": {"tel": "phone"}}), 201)
    as_json(api.patch(f"/sources/{site['id']}", {
        "form_format": "vk", "field_map": {"tel": "phone", "city": "message"}, "vk_confirmation": "ok1",
    }))
    created, updated = audit_rows(app, site["id"])
    assert created["action"] == "source.created"
    assert {name: created["after"][name] for name in SETTINGS} == {
        "form_format": "standard", "field_map": {"tel": "phone"}, "vk_confirmation": None,
    }
    assert updated == {
        "action": "source.updated",
        "before": {"form_format": "standard", "field_map": {"tel": "phone"}, "vk_confirmation": None},
        "after": {"form_format": "vk", "field_map": {"tel": "phone", "city": "message"},
                  "vk_confirmation": "ok1"},
    }


# --- invalid values -----------------------------------------------------------------------------

INVALID = [
    ({"form_format": "xml"}, "form_format"),
    ({"form_format": "Standard"}, "form_format"),
    ({"form_format": ""}, "form_format"),
    ({"form_format": 1}, "form_format"),
    ({"form_format": ["vk"]}, "form_format"),
    ({"field_map": ["name"]}, "field_map"),
    ({"field_map": "your-name=name"}, "field_map"),
    ({"field_map": {"city": "address"}}, "field_map"),
    ({"field_map": {"city": None}}, "field_map"),
    ({"field_map": {"city": ["name"]}}, "field_map"),
    ({"field_map": {"": "name"}}, "field_map"),
    ({"field_map": {"  ": "name"}}, "field_map"),
    ({"field_map": {"a\u0000b": "name"}}, "field_map"),
    ({"field_map": {"x" * 256: "name"}}, "field_map"),
    ({"field_map": {"a": "name", " a ": "phone"}}, "field_map"),
    ({"field_map": {f"f{i}": "message" for i in range(MAX_FIELD_MAP + 1)}}, "field_map"),
    ({"vk_confirmation": "x" * (MAX_VK_CONFIRMATION + 1)}, "vk_confirmation"),
    ({"vk_confirmation": "ab\u0000cd"}, "vk_confirmation"),
    ({"vk_confirmation": 1234}, "vk_confirmation"),
    ({"vk_confirmation": ["a"]}, "vk_confirmation"),
    ({"vk_confirmation": True}, "vk_confirmation"),
]


@pytest.mark.parametrize(("body", "field"), INVALID)
def test_an_invalid_setting_is_422_naming_it_on_create_and_patch(app, api, factory, body, field):
    site = factory.source("Site", key="site")
    before, counts = db_state(app, Source, site.id), factory.counts()
    error = assert_error(api.post("/sources", {"name": "New", **body}), 422, "validation_error",
                         fields={field})
    assert factory.counts() == counts
    patched = assert_error(api.patch(f"/sources/{site.id}", body), 422, fields={field})
    assert patched["fields"] == error["fields"]
    assert db_state(app, Source, site.id) == before


def test_the_messages_say_what_is_allowed(api, factory):
    site = factory.source("Site")
    path = f"/sources/{site.id}"
    error = assert_error(api.patch(path, {"form_format": "tilda"}), 422)
    assert error["fields"] == {"form_format": ["Must be one of standard, site_form, vk."]}
    error = assert_error(api.patch(path, {"field_map": {"city": "address", "": "name"}}), 422)
    assert error["fields"] == {"field_map": [
        "The target of 'city' must be one of name, phone, email, external_id, message.",
        "A field name must not be empty.",
    ]}
    error = assert_error(api.patch(path, {"vk_confirmation": "x" * 65}), 422)
    assert error["fields"] == {"vk_confirmation": ["At most 64 characters."]}
    # Every wrong field at once, with the others' errors.
    error = assert_error(api.post("/sources", {"name": "", "form_format": "x", "field_map": [],
                                               "vk_confirmation": 5}), 422)
    assert set(error["fields"]) == {"name", *SETTINGS}


def test_the_largest_field_map_and_confirmation_are_accepted(api):
    field_map = {f"{i:0>255}": "message" for i in range(MAX_FIELD_MAP)}
    created = as_json(api.post("/sources", {
        "name": "Big", "field_map": field_map, "vk_confirmation": "c" * MAX_VK_CONFIRMATION,
    }), 201)
    assert created["field_map"] == field_map
    assert created["vk_confirmation"] == "c" * MAX_VK_CONFIRMATION
