"""The pool does not ping: a connection that died is noticed at its first use.

The webhook then retries once on a fresh connection (nothing had been
written), so a database restart costs no failed intake.
"""

from __future__ import annotations

import psycopg
import pytest

from crm_web.core.extensions import db
from tests.conftest import PG_ADMIN_URL

from .helpers import assert_created, post_json


def _kill_connections(app) -> int:
    """Terminate every server connection to the app's database, as a restart would."""
    with app.app_context():
        name = db.engine.url.database
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


@pytest.fixture
def database_url(postgresql_url):
    """PostgreSQL only: SQLite has no server connections to drop."""
    return postgresql_url


def test_webhook_survives_a_dropped_connection(app, client, factory):
    anna = factory.operator("Anna", max_load=10)
    source = factory.source("Site", key="site", weights={anna: 1})
    assert_created(post_json(client, source, {"phone": "+79991230001"}))  # the pool now holds a connection
    assert _kill_connections(app) >= 1
    body = assert_created(post_json(client, source, {"phone": "+79991230002"}))
    assert body["operator_available"] is True
    assert factory.counts()["contacts"] == 2
