"""VK lead forms through the VK Callback API (contract §2a, `form_format: vk`).

Reading only: the view compares `secret` with the source's token, answers
`confirmation` with the source's `vk_confirmation`, and dedupes on `event_id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from .form_body import FormField, flatten, mapped_role
from .form_reading import FormReading, read_fields

LEAD_EVENT = "lead_forms_new"
CONFIRMATION = "confirmation"
# VK's standard answer keys. Name parts are joined first name, patronymic, last
# name ("Анна Сергеевна Иванова"): the order site forms get for first_name +
# last_name, and the first words are how an operator addresses the caller.
_KEY_ROLES = {
    "first_name": "first_name",
    "patronymic_name": "middle_name",
    "last_name": "last_name",
    "phone_number": "phone",
    "email": "email",
}


@dataclass(frozen=True)
class VkEvent:
    """One Callback API request; `lead` is read for `lead_forms_new` only."""

    type: str
    group_id: int | None
    event_id: str | None
    secret: str | None
    lead: FormReading | None = None


def read_vk(
    body: Mapping[str, object], *, field_map: Mapping[str, str] | None = None, region: str = "RU"
) -> VkEvent:
    """The event in a Callback API body `{type, group_id, event_id, secret, object}`."""
    kind = body.get("type")
    group_id = body.get("group_id")
    event_id = body.get("event_id")
    secret = body.get("secret")
    event = VkEvent(
        type=kind if isinstance(kind, str) else "",
        group_id=group_id if isinstance(group_id, int) and not isinstance(group_id, bool) else None,
        event_id=(event_id.strip() or None) if isinstance(event_id, str) else None,
        secret=secret if isinstance(secret, str) else None,
    )
    if event.type != LEAD_EVENT:
        return event
    lead = body.get("object")
    return replace(
        event,
        lead=read_vk_lead(lead if isinstance(lead, Mapping) else {}, field_map or {}, region, event.event_id),
    )


def read_vk_lead(
    lead: Mapping[str, object], field_map: Mapping[str, str], region: str, event_id: str | None = None
) -> FormReading:
    """A `lead_forms_new` object: its answers by `key` (field_map first), kept under their `question`.

    Only the answers are read; the lead's own ids (lead_id, form_id, ad_id) are VK's bookkeeping.
    """
    fields: list[FormField] = []
    user_id = lead.get("user_id")
    if isinstance(user_id, int) and not isinstance(user_id, bool) and user_id > 0:
        fields.append(FormField("user_id", f"vk:{user_id}", "external_id"))
    answers = lead.get("answers")
    for answer in answers if isinstance(answers, list) else []:
        if not isinstance(answer, Mapping):
            continue
        key, question = _plain(answer.get("key")), _plain(answer.get("question"))
        # The answer may be a list (several choices): read like a form's repeated field.
        text = ", ".join(flatten({"answer": answer.get("answer")}).values())
        if text:
            role = mapped_role((key, question), field_map) or _KEY_ROLES.get(key)
            fields.append(FormField(question or key, text, role))
    if not fields:
        return FormReading(empty=True, delivery_id=event_id)
    return replace(read_fields(fields, region), delivery_id=event_id)


def _plain(value: object) -> str:
    return value.replace("\x00", "").strip() if isinstance(value, str) else ""
