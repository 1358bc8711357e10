"""Migrations 0009 to 0011 (search): they index the rows already there, and can be undone and redone."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

from crm_web import create_app
from crm_web.core.extensions import db
from crm_web.domain.search import parse_query
from crm_web.models import Contact, Lead
from crm_web.services.search import SEARCH_INDEXES, SEARCH_TABLES, contact_condition, lead_condition


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
        upgrade()  # and 0010 and 0011, which the search service needs
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


def test_sqlite_indexes_new_rows_in_batches_and_keeps_changes_of_waiting_and_indexed_rows(tmp_path):
    """0011 on SQLite: a new row waits above the mark, not indexed; a search indexes what waits
    first. Changing or removing a waiting row and an indexed row both leave the index right, a new
    row given a deleted row's id is indexed at once, and 0011 and 0010 are undone and redone with
    what waits carried over."""
    from crm_web.services.search import catch_up

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'queue.sqlite3'}"})
    with app.app_context():
        upgrade(revision="0010_search_pending")
        db.session.execute(text(
            "INSERT INTO sources (id, name, key, webhook_token, is_active, created_at) "
            "VALUES (1, 'Site', 'site', 'token', true, CURRENT_TIMESTAMP)"
        ))
        db.session.commit()

        def add_lead(lead_id: int, name: str) -> None:
            db.session.execute(text(
                f"INSERT INTO leads (id, name, created_at) VALUES ({lead_id}, '{name}', CURRENT_TIMESTAMP)"
            ))

        def waiting() -> int:
            return db.session.scalar(text(
                "SELECT count(*) FROM leads"
                " WHERE id > (SELECT up_to FROM search_indexed WHERE name = 'leads_search')"
            ))

        def indexed(word: str) -> list[int]:
            return list(db.session.scalars(text(
                f"SELECT rowid FROM leads_search WHERE leads_search MATCH '\"{word}\"'"
            )))

        add_lead(1, "Анна Семёнова")  # queued by 0010
        db.session.commit()
        db.session.remove()
        upgrade()
        assert indexed("семенова") == [1]  # 0011 indexed 0010's queue
        assert waiting() == 0

        for lead_id, name in ((2, "Борис Иванов"), (3, "Вера Петрова")):
            add_lead(lead_id, name)
        db.session.commit()
        assert waiting() == 2
        assert indexed("иванов") == []
        assert found("иванов") == ([2], [])  # the search indexed what waited first
        assert waiting() == 0
        # An indexed row changed and one removed; a new one changed and one removed while waiting.
        db.session.execute(text("UPDATE leads SET name = 'Анна Смирнова' WHERE id = 1"))
        db.session.execute(text("DELETE FROM leads WHERE id = 2"))
        add_lead(4, "Галина")
        add_lead(5, "Дарья")
        db.session.execute(text("UPDATE leads SET name = 'Галина Орлова' WHERE id = 4"))
        db.session.execute(text("DELETE FROM leads WHERE id = 5"))
        db.session.commit()
        assert waiting() == 1
        catch_up(db.session)
        assert waiting() == 0
        assert found("семенова") == ([], [])
        assert found("смирнова") == ([1], [])
        assert found("иванов") == ([], [])
        assert found("орлова") == ([4], [])
        assert found("дарья") == ([], [])
        # The highest indexed row removed: SQLite gives its id to the next row, indexed at once.
        db.session.execute(text("DELETE FROM leads WHERE id = 4"))
        db.session.execute(text("INSERT INTO leads (name, created_at) VALUES ('Жанна', CURRENT_TIMESTAMP)"))
        db.session.commit()
        assert indexed("жанна") == [4]
        assert found("орлова") == ([], [])
        # FTS5's own check of its structure (a wrong 'delete' would also show in the finds above).
        db.session.execute(text("INSERT INTO leads_search (leads_search) VALUES ('integrity-check')"))

        add_lead(6, "Елена")
        db.session.commit()
        db.session.remove()
        downgrade(revision="0010_search_pending")
        assert db.session.scalar(text("SELECT group_concat(id) FROM leads_search_pending")) == "6"
        db.session.remove()
        downgrade(revision="0009_search")
        assert indexed("елена") == [6]
        db.session.remove()
        upgrade()
        add_lead(7, "Зоя")
        db.session.commit()
        assert found("зоя") == ([7], [])
        assert found("елена") == ([6], [])
        db.session.remove()
        db.engine.dispose()
