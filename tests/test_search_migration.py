"""Migration 0009 (search): it indexes the rows already there, and it can be undone and redone."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

from crm_web import create_app
from crm_web.core.extensions import db
from crm_web.domain.search import parse_query
from crm_web.models import Contact, Lead
from crm_web.services.search import SEARCH_INDEXES, SEARCH_TABLES, contact_condition, lead_condition

from .conftest import fresh_postgresql_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """The URL of a database with no schema yet (this module migrates it step by step)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'search.sqlite3'}"
    else:
        yield from fresh_postgresql_database("crm_test_search_migration")


def found(query: str) -> tuple[list[int], list[int]]:
    search = parse_query(query, "RU")
    leads = list(db.session.scalars(select(Lead.id).where(lead_condition(db.session, search))))
    contacts = list(db.session.scalars(select(Contact.id).where(contact_condition(db.session, search))))
    return leads, contacts


def search_objects() -> set[str]:
    inspector = inspect(db.engine)
    names = set(inspector.get_table_names())
    for table in ("leads", "contacts"):
        names |= {index["name"] for index in inspector.get_indexes(table)}
    return names & {*SEARCH_TABLES, *SEARCH_INDEXES}


def test_the_search_migration_indexes_existing_rows_and_is_reversible(empty_database):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "CRM_WEBHOOK_RATE_LIMIT": ""})
    with app.app_context():
        upgrade(revision="0008_user_timezone")
        db.session.execute(text(
            "INSERT INTO sources (id, name, key, webhook_token, is_active, created_at) "
            "VALUES (1, 'Site', 'site', 'token', true, CURRENT_TIMESTAMP)"
        ))
        db.session.execute(text(
            "INSERT INTO leads (id, phone, email, name, created_at) "
            "VALUES (1, '+79991234567', 'anna@mail.ru', 'Анна Семёнова', CURRENT_TIMESTAMP)"
        ))
        db.session.execute(text(
            "INSERT INTO contacts (id, lead_id, source_id, is_active, message, created_at) "
            "VALUES (1, 1, 1, true, 'Перезвоните завтра', CURRENT_TIMESTAMP)"
        ))
        db.session.commit()

        upgrade(revision="0009_search")
        assert found("СЕМЕНОВА") == ([1], [])
        assert found("123-45-67") == ([1], [1])
        assert found("завтра") == ([], [1])
        assert len(search_objects()) == (3 if db.engine.dialect.name == "postgresql" else 2)

        db.session.remove()
        downgrade(revision="0008_user_timezone")
        assert search_objects() == set()

        upgrade(revision="0009_search")
        assert found("анна") == ([1], [])
        db.session.remove()
        db.engine.dispose()
