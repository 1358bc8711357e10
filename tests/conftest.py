"""Fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is required, not optional: when it cannot be reached the run
fails. Each run creates a throw-away database and drops it at the end.
The fixtures shared by the packages are all here (the staff pages' sign-in
and CSRF, the API client, the SQL counter); helpers to import are in
tests/helpers.py.
"""

from __future__ import annotations

import os
import random
import secrets
import uuid
from dataclasses import dataclass

import psycopg
import pytest
from flask_migrate import upgrade
from sqlalchemy import text

os.environ.setdefault("SECRET_KEY", "test-secret-key")
# Still argon2id, with little memory: hundreds of users are created.
os.environ.setdefault("CRM_PASSWORD_PROFILE", "test")

from crm_web import create_app  # noqa: E402
from crm_web.core.extensions import db  # noqa: E402
from tests.helpers import PASSWORD, csrf_from, recorded_statements  # noqa: E402

PG_ADMIN_URL = os.environ.get("CRM_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
ENGINES = ("sqlite", "postgresql")
TABLES = (
    "contact_notes",
    "audit_events",
    "signin_failures",
    "signin_lockouts",
    "user_sessions",
    "api_tokens",
    "webhook_idempotency_keys",
    "users",
    "source_operator_distributions",
    "lead_duplicates",
    "contacts",
    "operators",
    "sources",
    "leads",
)
# Wiped but not counted by `Factory.counts`: the webhook's delivery log keeps
# refused requests too (contract §2a), which "an error writes nothing" leaves aside.
LOG_TABLES = ("webhook_deliveries",)


def _pg_url(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session")
def postgresql_url():
    """A fresh PostgreSQL database for this run; the run fails without a server."""
    yield from fresh_postgresql_database("crm_test")


def fresh_postgresql_database(prefix: str):
    """Create a throw-away database, yield its URL, drop it (a fixture's body)."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is required for the test suite and is not reachable at "
            f"{PG_ADMIN_URL}: {exc}. Start it (see README, 'Tests').",
            pytrace=False,
        )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield _pg_url(PG_ADMIN_URL, name)
    from crm_web.services.deliveries import discard_waiting

    discard_waiting()  # nothing left to write into the database about to go
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """The URL of a database with no schema yet, once SQLite and once PostgreSQL (migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    else:
        yield from fresh_postgresql_database("crm_test_migration")


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'crm.sqlite3'}"


_migrated: set[str] = set()


def make_app(url: str, **overrides):
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "CRM_WEBHOOK_RATE_LIMIT": "",
        "RATELIMIT_STORAGE_URI": "memory://",
        "CRM_PHONE_REGION": "RU",
        # Most tests reason in UTC days; the tests of local time set their zone (CRM_TIMEZONE's default
        # is Europe/Moscow), so that the others do not depend on the hour they run at.
        "CRM_TIMEZONE": "UTC",
    }
    config.update(overrides)
    app = create_app(config)
    app.extensions["crm_rng"] = random.Random(20261125)
    if url not in _migrated:
        with app.app_context():
            upgrade()
        _migrated.add(url)
    return app


def wipe(app) -> None:
    from crm_web.services.deliveries import discard_waiting

    discard_waiting()  # delivery rows an earlier test's requests left to write
    with app.app_context():
        engine = db.engine
        with engine.begin() as conn:
            # DELETE beats TRUNCATE on tables this small (no file rewrites).
            for table in (*LOG_TABLES, *TABLES):
                conn.execute(text(f"DELETE FROM {table}"))
        engine.dispose()


@pytest.fixture(params=ENGINES)
def database_url(request):
    """The URL of a migrated, empty database: once SQLite, once PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def app(database_url):
    app = make_app(database_url)
    wipe(app)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    """The app's database session inside an app context."""
    with app.app_context():
        yield db.session
        db.session.remove()


@dataclass
class Staff:
    user_id: int
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Factory:
    """Creates data through the services, as the app itself does."""

    def __init__(self, app) -> None:
        self.app = app

    def _call(self, fn, *args, **kwargs):
        with self.app.app_context():
            result = fn(db.session, *args, **kwargs)
            db.session.remove()
            return result

    def operator(self, name: str | None = None, max_load: int = 10, is_active: bool = True):
        from crm_web.services.operators import create_operator

        name = name or f"Operator {secrets.token_hex(3)}"
        return self._call(create_operator, {"name": name, "max_load": max_load, "is_active": is_active})

    def source(self, name: str | None = None, key: str | None = None, weights: dict | None = None):
        from crm_web.services.sources import create_source, replace_distribution

        data = {"name": name or f"Source {secrets.token_hex(3)}"}
        if key:
            data["key"] = key
        source = self._call(create_source, data)
        if weights:
            self._call(replace_distribution, source.id, {op.id: str(w) for op, w in weights.items()})
        return source

    def staff(
        self, role: str = "supervisor", operator_id: int | None = None, email: str | None = None
    ) -> Staff:
        from crm_web.services.users import create_user, issue_token

        email = email or f"{role}-{secrets.token_hex(3)}@example.com"
        user = self._call(create_user, email, role, "password-123", operator_id)
        token = self._call(issue_token, user)
        return Staff(user.id, email, token)

    def count(self, table: str) -> int:
        with self.app.app_context():
            value = db.session.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            db.session.remove()
            return value

    def counts(self) -> dict[str, int]:
        return {table: self.count(table) for table in TABLES}


@pytest.fixture
def factory(app):
    return Factory(app)


# --- staff pages: sign-in, CSRF, rows -------------------------------------------------


@pytest.fixture
def csrf(client):
    """The CSRF token of the client's session, read from a rendered page."""

    def token(path: str = "/login") -> str:
        return csrf_from(client.get(path).get_data(as_text=True))

    return token


@pytest.fixture
def log_in():
    """Post the sign-in form with any test client; returns the response."""

    def post(some_client, email: str, password: str = PASSWORD):
        token = csrf_from(some_client.get("/login").get_data(as_text=True))
        return some_client.post("/login", data={"email": email, "password": password, "csrf_token": token})

    return post


@pytest.fixture
def sign_in(client, factory, log_in):
    """Create a staff user (an operator user gets its own Operator) and sign the client in."""

    def sign_in_as(role: str = "supervisor", operator_id: int | None = None, email: str | None = None):
        if role == "operator" and operator_id is None:
            operator_id = factory.operator().id
        staff = factory.staff(role, operator_id=operator_id, email=email)
        response = log_in(client, staff.email)
        assert response.status_code == 303, response.get_data(as_text=True)
        return staff

    return sign_in_as


@pytest.fixture
def fetch(app):
    """Read one row afresh, outside any request (detached, attributes loaded)."""

    def get(model, row_id: int):
        with app.app_context():
            row = db.session.get(model, row_id)
            db.session.remove()
            return row

    return get


@pytest.fixture
def make_contact(app):
    """Register a contact through the intake service, as the webhook does; return it (detached)."""
    from crm_web.domain.identifiers import parse_contact_input
    from crm_web.services.intake import register_contact

    def make(source, **fields):
        with app.app_context():
            data = parse_contact_input(fields, app.config["CRM_PHONE_REGION"])
            contact = register_contact(db.session, source, data, app.extensions["crm_rng"]).contact
            db.session.remove()
            return contact

    return make


@pytest.fixture
def count_queries(app):
    """`count_queries(action)` → (SQL statements the action issued, its result)."""

    def count(action):
        with recorded_statements(app) as log:
            result = action()
        return len(log), result

    return count


# --- the JSON API -----------------------------------------------------------------------


@pytest.fixture
def sup(factory):
    """A supervisor with an API token."""
    return factory.staff("supervisor")


@pytest.fixture
def api(client, sup):
    """The supervisor's API client."""
    from tests.api.helpers import Api

    return Api(client, sup)
