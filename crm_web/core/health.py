"""GET /healthz: 200 when the database answers, 503 otherwise."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from .extensions import db

bp = Blueprint("health", __name__)


def _ping() -> None:
    try:
        db.session.execute(text("SELECT 1"))
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        # A pooled connection that died with a database restart (the pool
        # does not ping; SQLAlchemy has now discarded it and its siblings):
        # what matters is whether the database answers now.
        db.session.rollback()
        db.session.execute(text("SELECT 1"))


@bp.get("/healthz")
def healthz():
    try:
        _ping()
    except SQLAlchemyError:
        current_app.logger.warning("health check: database unreachable", exc_info=True)
        db.session.rollback()
        response = jsonify(status="unavailable", database="unreachable")
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response
    finally:
        db.session.remove()
    return jsonify(status="ok")
