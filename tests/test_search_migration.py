"""Migrations 0009 and 0010 (search): they index the rows already there, and can be undone and redone."""

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
        upgrade()  # and 0010, which the search service needs
        assert found("СЕМЕНОВА") == ([1], [])
        assert found("123-45-67") == ([1], [1])
        assert found("завтра") == ([], [1])
        assert len(search_objects()) == (3 if db.engine.dialect.name == "postgresql" else 2)

        db.session.remove()
        downgrade(revision="0008_user_timezone")
        assert search_objects() == set()

        upgrade()
        assert found("анна") == ([1], [])
        db.session.remove()
        db.engine.dispose()


def test_sqlite_indexes_new_rows_in_batches_and_keeps_changes_of_queued_and_indexed_rows(tmp_path):
    """0010 on SQLite: a new row is queued, not indexed; a search indexes the queue first. Changing
    or removing a queued row and an indexed row both leave the index right, and undoing 0010
    indexes what is still queued."""
    from crm_web.services.search import catch_up

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'queue.sqlite3'}"})
    with app.app_context():
        upgrade()
        db.session.execute(text(
            "INSERT INTO sources (id, name, key, webhook_token, is_active, created_at) "
            "VALUES (1, 'Site', 'site', 'token', true, CURRENT_TIMESTAMP)"
        ))
        db.session.commit()

        def add_lead(lead_id: int, name: str) -> None:
            db.session.execute(text(
                f"INSERT INTO leads (id, name, created_at) VALUES ({lead_id}, '{name}', CURRENT_TIMESTAMP)"
            ))

        def queued() -> int:
            return db.session.scalar(text("SELECT count(*) FROM leads_search_pending"))

        for lead_id, name in ((1, "Анна Семёнова"), (2, "Борис Иванов"), (3, "Вера Петрова")):
            add_lead(lead_id, name)
        db.session.commit()

        assert queued() == 3
        assert found("семенова") == ([1], [])  # the search indexed the queue first
        assert queued() == 0
        # An indexed row changed and one removed; a new one changed and one removed while queued.
        db.session.execute(text("UPDATE leads SET name = 'Анна Смирнова' WHERE id = 1"))
        db.session.execute(text("DELETE FROM leads WHERE id = 2"))
        add_lead(4, "Галина")
        add_lead(5, "Дарья")
        db.session.execute(text("UPDATE leads SET name = 'Галина Орлова' WHERE id = 4"))
        db.session.execute(text("DELETE FROM leads WHERE id = 5"))
        db.session.commit()
        assert queued() == 1
        catch_up(db.session)
        assert queued() == 0
        assert found("семенова") == ([], [])
        assert found("смирнова") == ([1], [])
        assert found("иванов") == ([], [])
        assert found("орлова") == ([4], [])
        assert found("дарья") == ([], [])
        # FTS5's own check of its structure (a wrong 'delete' would also show in the finds above).
        db.session.execute(text("INSERT INTO leads_search (leads_search) VALUES ('integrity-check')"))

        add_lead(6, "Елена")
        db.session.commit()
        db.session.remove()
        downgrade(revision="0009_search")
        leads = list(db.session.scalars(text(
            "SELECT rowid FROM leads_search WHERE leads_search MATCH '\"елена\"'"
        )))
        assert leads == [6]
        db.session.remove()
        db.engine.dispose()
