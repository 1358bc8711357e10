"""VK Callback API bodies (contract §2a, `form_format: vk`): reading only, no secret check here."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_web.domain.form_reading import NO_IDENTIFIER
from crm_web.domain.identifiers import Identifiers
from crm_web.domain.vk import read_vk

# The Callback API envelope `{type, group_id, event_id, v, secret, object}` and the `lead_forms_new`
# object `{lead_id, group_id, user_id, form_id, form_name, ad_id, answers: [{key, question, answer}]}`
# as VK's Callback API documents them (dev.vk.com/ru/api/callback/getting-started) and the Go SDK
# SevereCloud/vksdk declares them (callback/, events/objects.go). The `custom_<n>` keys and the list
# answer are a form owner's own questions.
LEAD = {
    "type": "lead_forms_new",
    "group_id": 218530000,
    "event_id": "3b4d6f0e8a2c1d5e7f9a0b1c2d3e4f5a6b7c8d9e",
    "v": "5.199",
    "secret": "the-source-token",
    "object": {
        "lead_id": 4021,
        "group_id": 218530000,
        "user_id": 1234567,
        "form_id": 3,
        "form_name": "Запись на консультацию",
        "ad_id": 0,
        "answers": [
            {"key": "last_name", "question": "Фамилия", "answer": "Иванова"},
            {"key": "first_name", "question": "Имя", "answer": "Анна"},
            {"key": "patronymic_name", "question": "Отчество", "answer": "Сергеевна"},
            {"key": "phone_number", "question": "Номер телефона", "answer": "+7 (999) 123-45-67"},
            {"key": "email", "question": "Email", "answer": "anna@example.com"},
            {"key": "custom_0", "question": "Удобное время", "answer": "после 18:00"},
            {"key": "custom_1", "question": "Услуги", "answer": ["Стрижка", "Окрашивание"]},
        ],
    },
}


def test_confirmation_is_read_without_a_lead():
    event = read_vk({"type": "confirmation", "group_id": 218530000, "secret": "s"})
    assert (event.type, event.group_id, event.secret, event.lead) == ("confirmation", 218530000, "s", None)


def test_a_new_lead_is_read_with_its_answers_by_key():
    event = read_vk(LEAD)
    assert (event.type, event.event_id, event.secret) == (
        "lead_forms_new",
        LEAD["event_id"],
        "the-source-token",
    )
    lead = event.lead
    assert lead.contact.identifiers == Identifiers(
        external_id="vk:1234567", phone="+79991234567", email="anna@example.com"
    )
    # First name, patronymic, last name: the order site forms get for first_name + last_name.
    assert lead.contact.name == "Анна Сергеевна Иванова"
    assert lead.form_fields == {"Удобное время": "после 18:00", "Услуги": "Стрижка, Окрашивание"}
    assert lead.warnings == [] and lead.utm == {} and lead.page_url is None
    assert lead.delivery_id == LEAD["event_id"]


def test_other_events_are_read_without_a_lead():
    event = read_vk({"type": "wall_post_new", "event_id": "e", "secret": "s", "object": {"id": 1}})
    assert event.type == "wall_post_new" and event.lead is None


def test_field_map_wins_over_the_answer_key_and_matches_the_question_too():
    body = {
        "type": "lead_forms_new",
        "object": {
            "user_id": 5,
            "answers": [
                {"key": "custom_0", "question": "Ваш телефон для связи", "answer": "8 912 345 67 89"},
                {"key": "email", "question": "Email", "answer": "not an email"},
            ],
        },
    }
    lead = read_vk(body, field_map={"Ваш телефон для связи": "phone", "email": "message"}).lead
    assert lead.contact.identifiers == Identifiers(external_id="vk:5", phone="+79123456789")
    assert lead.contact.message == "not an email"


def test_an_unreadable_phone_is_kept_under_its_question_with_a_warning():
    body = {
        "type": "lead_forms_new",
        "object": {"answers": [{"key": "phone_number", "question": "Телефон", "answer": "нет телефона"}]},
    }
    lead = read_vk(body).lead
    assert lead.contact.identifiers == Identifiers()
    assert lead.form_fields == {"Телефон": "нет телефона"}
    assert lead.warnings[0].startswith('Phone "нет телефона"') and lead.warnings[1] == NO_IDENTIFIER


def test_a_lead_without_answers_or_user_is_empty():
    assert read_vk({"type": "lead_forms_new", "object": {"answers": []}}).lead.empty
    assert read_vk({"type": "lead_forms_new"}).lead.empty


def test_malformed_members_are_read_as_missing():
    event = read_vk({"type": 5, "group_id": "x", "event_id": 7, "secret": None, "object": []})
    assert (event.type, event.group_id, event.event_id, event.secret, event.lead) == (
        "",
        None,
        None,
        None,
        None,
    )
    lead = read_vk(
        {"type": "lead_forms_new", "object": {"user_id": True, "answers": [1, {"answer": "x"}]}}
    ).lead
    assert lead.contact.identifiers == Identifiers() and lead.form_fields == {"": "x"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25,
)


answers = st.lists(st.dictionaries(st.sampled_from(["key", "question", "answer"]), json_values) | json_values)
leads = st.fixed_dictionaries({}, optional={"user_id": json_values, "answers": answers | json_values})


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(["event_id", "secret", "group_id"]), json_values), leads | json_values)
def test_read_vk_never_fails(body, lead):
    event = read_vk({**body, "type": "lead_forms_new", "object": lead})
    assert event.lead is not None
    assert all(isinstance(text, str) and text for text in event.lead.form_fields.values())
