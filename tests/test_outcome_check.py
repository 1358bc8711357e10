"""The database itself refuses an outcome that is not in the list, on both databases, before and
after migration 0012 (PostgreSQL's check written with one array constant)."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from crm_web import create_app
from crm_web.core.extensions import db
from crm_web.domain.outcomes import OUTCOMES

from .conftest import fresh_postgresql_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'outcome.sqlite3'}"
    else:
        yield from fresh_postgresql_database("crm_test_outcome_check")


def _contact_id() -> int:
    db.session.execute(text(
        "INSERT INTO sources (name, key, webhook_token, is_active, created_at, form_format) "
        "VALUES ('Site', 'site', 't', true, CURRENT_TIMESTAMP, 'standard')"
    ))
    db.session.execute(text("INSERT INTO leads (name, created_at) VALUES ('Ivan', CURRENT_TIMESTAMP)"))
    db.session.execute(text(
        "INSERT INTO contacts (lead_id, source_id, is_active, created_at) "
        "SELECT (SELECT max(id) FROM leads), (SELECT max(id) FROM sources), true, CURRENT_TIMESTAMP"
    ))
    db.session.commit()
    return db.session.execute(text("SELECT max(id) FROM contacts")).scalar_one()


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
        contact_id = _contact_id()
        _holds(contact_id)
        downgrade(revision="0011_search_indexed_up_to")
        _holds(contact_id)
        upgrade()
        _holds(contact_id)
        db.session.remove()
        db.engine.dispose()
