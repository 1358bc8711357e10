"""Migration 0013: the delivery log without foreign keys, and back, on both databases."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from crm_web import create_app
from crm_web.core.extensions import db

from .helpers import insert_bare_contact


def _keys() -> set[str]:
    return {fk["referred_table"] for fk in inspect(db.engine).get_foreign_keys("webhook_deliveries")}


def _add(source_id: int, contact_id: int | None, body: str) -> None:
    db.session.execute(
        text(
            "INSERT INTO webhook_deliveries (source_id, received_at, status, contact_id, body) "
            "VALUES (:s, CURRENT_TIMESTAMP, 201, :c, :b)"
        ),
        {"s": source_id, "c": contact_id, "b": body},
    )
    db.session.commit()


def _rows() -> list[tuple]:
    return [tuple(r) for r in db.session.execute(
        text("SELECT body, contact_id FROM webhook_deliveries ORDER BY id")
    )]


def test_the_delivery_log_loses_its_foreign_keys_and_gets_them_back(empty_database):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "CRM_WEBHOOK_RATE_LIMIT": ""})
    with app.app_context():
        upgrade(revision="0012_outcome_check_one_array")
        assert _keys() == {"sources", "contacts"}
        upgrade()
        assert _keys() == set()
        source_id, contact_id = insert_bare_contact()
        _add(source_id, contact_id, "stored")
        _add(source_id, contact_id + 1000, "contact gone")  # refused before 0013
        _add(source_id + 1000, None, "source gone")
        assert _rows() == [("stored", contact_id), ("contact gone", contact_id + 1000), ("source gone", None)]

        db.session.remove()  # no snapshot of the session's left open across the migration
        downgrade(revision="0012_outcome_check_one_array")
        assert _keys() == {"sources", "contacts"}
        assert _rows() == [("stored", contact_id), ("contact gone", None)]
        db.session.remove()
        upgrade()
        assert _keys() == set()
        assert _rows() == [("stored", contact_id), ("contact gone", None)]
        db.session.remove()
        db.engine.dispose()
