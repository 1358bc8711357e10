"""JSON representations shared by the webhook and the API."""

from __future__ import annotations

from datetime import datetime

from .domain.choice import shares
from .domain.site_forms import origins_from_text
from .domain.weights import format_weight
from .models import Contact, Distribution, Lead, Operator, Source


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def operator_ref(operator_id: int | None, name: str | None) -> dict | None:
    return None if operator_id is None else {"id": operator_id, "name": name}


def contact_dict(contact: Contact, operator=None) -> dict:
    """`operator` (anything with id and name) saves loading contact.operator."""
    if operator is None and contact.operator_id is not None:
        operator = contact.operator
    return {
        "id": contact.id,
        "lead_id": contact.lead_id,
        "source_id": contact.source_id,
        "status": contact.status,
        "operator": operator_ref(operator.id, operator.name) if operator else None,
        "created_at": iso(contact.created_at),
        "name": contact.name,
        "message": contact.message,
        "assigned_at": iso(contact.assigned_at),
        "closed_at": iso(contact.closed_at),
    }


def intake_body(contact: Contact, lead_created: bool, operator=None) -> dict:
    return {
        "contact": contact_dict(contact, operator),
        "lead": {"id": contact.lead_id, "created": lead_created},
        "operator_available": contact.operator_id is not None,
    }


def operator_dict(operator: Operator) -> dict:
    return {
        "id": operator.id,
        "name": operator.name,
        "is_active": operator.is_active,
        "max_load": operator.max_load,
        "load": operator.active_load,
        "created_at": iso(operator.created_at),
    }


def source_dict(source: Source, with_token: bool) -> dict:
    data = {
        "id": source.id,
        "name": source.name,
        "key": source.key,
        "is_active": source.is_active,
        "created_at": iso(source.created_at),
    }
    if with_token:
        data["webhook_token"] = source.webhook_token
        data["allowed_origins"] = origins_from_text(source.allowed_origins)
        data["thank_you_url"] = source.thank_you_url
    return data


def distribution_dict(rules: list[Distribution]) -> dict:
    share = shares({rule.operator_id: rule.weight for rule in rules})
    return {
        "rules": [
            {
                "operator_id": rule.operator_id,
                "operator_name": rule.operator.name,
                "weight": format_weight(rule.weight),
                "share": round(share[rule.operator_id], 6),
            }
            for rule in rules
        ]
    }


def lead_dict(lead: Lead, with_contacts: bool = False) -> dict:
    data = {
        "id": lead.id,
        "external_id": lead.external_id,
        "phone": lead.phone,
        "email": lead.email,
        "name": lead.name,
        "created_at": iso(lead.created_at),
    }
    if with_contacts:
        data["contacts"] = [contact_dict(c) for c in lead.contacts]
    return data
