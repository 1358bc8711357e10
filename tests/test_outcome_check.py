"""The database itself refuses an outcome that is not in the list, on both databases, before and
after migration 0012 (PostgreSQL's check written with one array constant)."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from crm_web import create_app
from crm_web.core.extensions import db
from crm_web.domain.outcomes import OUTCOMES

from .helpers import insert_bare_contact


def _outcome_is_stored(contact_id: int, outcome: str | None) -> bool:
    try:
        db.session.execute(
            text("UPDATE contacts SET outcome = :o WHERE id = :id"), {"o": outcome, "id": contact_id}
        )
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return db.session.execute(
        text("SELECT outcome FROM contacts WHERE id = :id"), {"id": contact_id}
    ).scalar_one() == outcome


def _holds(contact_id: int) -> None:
    for outcome in (*OUTCOMES, None):
        assert _outcome_is_stored(contact_id, outcome), outcome
    for outcome in ("maybe", "", "Done", "done "):
        assert not _outcome_is_stored(contact_id, outcome), outcome


def test_only_the_known_outcomes_are_stored_at_every_revision_of_the_check(empty_database):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "CRM_WEBHOOK_RATE_LIMIT": ""})
    with app.app_context():
        upgrade()
        _, contact_id = insert_bare_contact()
        _holds(contact_id)
        downgrade(revision="0011_search_indexed_up_to")
        _holds(contact_id)
        upgrade()
        _holds(contact_id)
        db.session.remove()
        db.engine.dispose()
