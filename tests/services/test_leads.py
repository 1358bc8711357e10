"""Lead resolution against a real database (both engines)."""

from sqlalchemy import select

from crm_web.domain.identifiers import Identifiers
from crm_web.models import Lead, LeadDuplicate
from crm_web.services.leads import possible_duplicates, resolve_lead
from crm_web.services.tx import write_transaction


def resolve(session, name=None, **ids):
    with write_transaction(session):
        return resolve_lead(session.connection(), Identifiers(**ids), name)


def test_new_lead_gets_every_identifier(session):
    lead_id, created = resolve(session, name="Ivan", external_id="x-1", phone="+79991234567", email="a@b.ru")
    lead = session.get(Lead, lead_id)
    assert created
    assert (lead.external_id, lead.phone, lead.email, lead.name) == ("x-1", "+79991234567", "a@b.ru", "Ivan")


def test_match_fills_missing_identifiers_without_overwriting(session):
    lead_id, _ = resolve(session, name="Ivan", phone="+79991234567")
    again, created = resolve(session, name="Other", phone="+79991234567", email="ivan@example.com")
    session.expire_all()
    lead = session.get(Lead, lead_id)
    assert (again, created) == (lead_id, False)
    assert lead.email == "ivan@example.com"
    assert lead.name == "Ivan"
    assert session.scalar(select(LeadDuplicate.id)) is None


def test_several_leads_priority_and_duplicates(session):
    by_email, _ = resolve(session, email="a@b.ru")
    by_phone, _ = resolve(session, phone="+79991234567")
    by_ext, _ = resolve(session, external_id="crm-7")
    chosen, created = resolve(session, external_id="crm-7", phone="+79991234567", email="a@b.ru")
    assert (chosen, created) == (by_ext, False)
    assert {d.id for d in possible_duplicates(session, by_ext)} == {by_email, by_phone}
    # Identifiers held by other leads stay with them.
    session.expire_all()
    assert session.get(Lead, by_ext).phone is None
    # Without external_id, phone wins over email.
    chosen, _ = resolve(session, phone="+79991234567", email="a@b.ru")
    assert chosen == by_phone
    assert by_email in {d.id for d in possible_duplicates(session, by_phone)}


def test_recorded_duplicate_is_not_repeated(session):
    a, _ = resolve(session, email="a@b.ru")
    b, _ = resolve(session, phone="+79991234567")
    for _ in range(3):
        resolve(session, phone="+79991234567", email="a@b.ru")
    rows = session.scalars(select(LeadDuplicate)).all()
    assert [(r.lead_id, r.duplicate_of_id) for r in rows] == [(a, b)]
