"""Stored codes as the pages name them, in one place: the audit trail's actions, subjects, fields and
values, and who acted. The codes themselves stay in the database, the API and the CSV files."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from . import bp
from .forms import OUTCOME_LABELS

# What each action is called on the pages (the code is what the trail's action filter takes).
ACTION_LABELS = {
    "contact.assigned": _l("Contact assigned"),
    "contact.queued": _l("Contact queued"),
    "contact.closed": _l("Contact closed"),
    "contact.returned": _l("Contact back to the queue"),
    "contact.note_added": _l("Note added"),
    "lead.merged": _l("Leads merged"),
    "lead.duplicate_dismissed": _l("Not a duplicate"),
    "operator.created": _l("Operator created"),
    "operator.updated": _l("Operator changed"),
    "operator.deleted": _l("Operator deleted"),
    "source.created": _l("Source created"),
    "source.updated": _l("Source changed"),
    "source.token_rotated": _l("Webhook token replaced"),
    "weights.updated": _l("Weights changed"),
    "user.created": _l("User created"),
    "user.updated": _l("User changed"),
    "user.password_changed": _l("Password changed"),
    "user.password_set": _l("Password set from the command line"),
    "user.password_reset": _l("Password reset"),
    "api_token.issued": _l("API token issued"),
    "api_token.revoked": _l("API token revoked"),
    "signin.failed": _l("Failed sign-in"),
}
SUBJECT_LABELS = {
    "contact": _l("contact"), "lead": _l("lead"), "operator": _l("operator"), "source": _l("source"),
    "user": _l("user"), "api_token": _l("API token"),
}
# Keys of `details` and of the before → after lines (fields of operators, sources, users) as shown.
FIELD_LABELS = {
    "name": _l("name"), "is_active": _l("active"), "max_load": _l("max load"), "key": _l("key"),
    "allowed_origins": _l("allowed origins"), "thank_you_url": _l("thank-you URL"), "email": _l("email"),
    "role": _l("role"), "operator_id": _l("operator id"), "is_enabled": _l("enabled"),
    "sessions_ended": _l("sessions ended"), "attempts": _l("attempts"), "by": _l("locked by"),
    "mode": _l("mode"), "operator_name": _l("operator"), "load_before": _l("load before"),
    "reason": _l("reason"), "contacts_returned_to_queue": _l("contacts back to the queue"),
    "label": _l("label"), "user_id": _l("user id"), "expires_at": _l("expires"),
    "form_format": _l("form format"), "field_map": _l("field map"),
    "vk_confirmation": _l("VK confirmation string"),
    "outcome": _l("outcome"), "note_id": _l("note id"), "text": _l("text"),
    "same_source_as": _l("closed as spam with contact"),
    "assigned_at": _l("assigned"), "minutes": _l("minutes allowed"), "source_id": _l("source id"),
    "contact_id": _l("contact id"), "lead_id": _l("lead id"), "merged_lead_id": _l("merged lead"),
    "other_lead_id": _l("other lead"), "moved_contacts": _l("contacts moved"), "details": _l("details"),
}

# Stored values of `details` that are codes, by key: what the page calls them.
VALUE_LABELS = {
    "role": {"supervisor": _l("supervisor"), "operator": _l("operator")},
    "outcome": OUTCOME_LABELS,
    "mode": {"auto": _l("automatically"), "manual": _l("by hand"), "drain": _l("from the queue")},
    "reason": {
        "no_operator_free": _l("no operator was free"), "not_opened": _l("not opened in time"),
        "operator_deleted": _l("operator deleted"), "throttled": _l("too many failed sign-ins"),
        "unknown": _l("no such user"), "disabled": _l("user disabled"), "bad_password": _l("wrong password"),
    },
    "by": {"account": _l("account"), "address": _l("IP address")},
    "form_format": {
        "standard": _l("standard format"), "site_form": _l("site form format"), "vk": _l("VK format"),
    },
}


def label(labels: dict, code: str | None) -> str:
    """The code's name in the page's language, or the code itself if it has none."""
    named = labels.get(code) if code is not None else None
    return str(named) if named is not None else (code or "")


def value_label(key: str, value: object) -> object:
    """A stored value as the page says it: a known code of `key` by its name, anything else as it is."""
    names = VALUE_LABELS.get(key)
    if names is not None and isinstance(value, str) and value in names:
        return str(names[value])
    return value


@bp.app_template_filter("actor")
def actor_label(stored: str | None) -> str:
    """Who acted, as services/audit.py stored it (core/actor.py), in the page's language."""
    stored = stored or ""
    kind, _sep, rest = stored.partition(" ")
    if stored == "system":
        return _("system")
    if stored == "anonymous":
        return _("not signed in")
    if kind == "cli":
        return _("command line: %(command)s", command=rest) if rest else _("command line")
    if kind == "webhook" and rest:
        return _("webhook of %(key)s", key=rest)
    if kind == "api" and rest:
        return _("%(email)s via the API", email=rest)
    return stored  # a staff member's email


bp.add_app_template_global(value_label, "value_label")
