"""A real gunicorn server for the concurrency tests (clients are in clients.py).

The app is served exactly as in production (`gunicorn -c gunicorn.conf.py
wsgi:app`, started by tests/live_server.py) with several sync worker
processes over the same database as the test (the `database_url` fixture:
once SQLite, once PostgreSQL), so the atomicity guarantees of the contract
are checked across processes, not only across threads of one process.

Data is prepared with `Factory` before a server starts; afterwards the test
inspects the database directly with SQL (`sql` fixture). Each server logs
to files under the test's tmp_path: stderr (gunicorn and app errors; its
tail is attached to the report of a failed test) and stdout (the access
log, with the worker's pid on every line: `LiveServer.access_log`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from sqlalchemy import text

from crm_web.core.extensions import db
from tests.live_server import PID_ACCESS_LOG, LiveServer, ServerError
from tests.live_server import start_server as start_live_server

WORKERS = 3
_SERVERS = pytest.StashKey[list]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, attach the tail of each gunicorn's stderr to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for index, server in enumerate(item.stash.get(_SERVERS, [])):
            report.sections.append(
                (f"gunicorn #{index} stderr (tail, {server.stderr_path})", server.stderr_tail())
            )


@pytest.fixture(scope="session")
def _stopping_servers() -> Iterable[list[LiveServer]]:
    """Servers told to stop whose exit has not been awaited yet.

    A worker process takes about a second to exit; instead of waiting for
    that after every test, the exit is awaited before the next server starts
    and at the end of the session, so no gunicorn outlives the run.
    """
    stopping: list[LiveServer] = []
    yield stopping
    for server in stopping:
        server.wait()


@pytest.fixture
def start_server(
    request, app, database_url, tmp_path, _stopping_servers
) -> Iterable[Callable[..., LiveServer]]:
    """Start gunicorn over the test's database: `start_server(ENV=value, ...)`.

    Depends on `app`, so the database is migrated and wiped first, and wiped
    again after the test, when the server has been told to stop and has
    answered every request (the exiting workers hold no transaction).
    """
    servers: list[LiveServer] = []
    request.node.stash[_SERVERS] = servers

    def start(**env_overrides: str) -> LiveServer:
        while _stopping_servers:
            _stopping_servers.pop().wait()
        began = time.monotonic()
        try:
            server = start_live_server(
                database_url,
                tmp_path / "gunicorn",
                workers=WORKERS,
                secret_key="concurrency-test-secret",
                env=env_overrides,
                access_log_format=PID_ACCESS_LOG,
            )
        except ServerError as exc:
            pytest.fail(str(exc), pytrace=False)
        print(f"gunicorn {server.base_url} ready in {time.monotonic() - began:.2f}s")
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.terminate()
        _stopping_servers.append(server)


# -- database inspection ----------------------------------------------------


@pytest.fixture
def sql(app) -> Callable[..., list[Any]]:
    """Run a SELECT against the test database and return its rows."""

    def run(query: str, **params: Any) -> list[Any]:
        with app.app_context():
            rows = db.session.execute(text(query), params).all()
            db.session.remove()
            return rows

    return run
