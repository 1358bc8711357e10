"""A real gunicorn server for the concurrency tests (clients are in clients.py).

The app is served exactly as in production (`gunicorn -c gunicorn.conf.py
wsgi:app`) with several sync worker processes over the same database as the
test (the `database_url` fixture: once SQLite, once PostgreSQL), so the
atomicity guarantees of the contract are checked across processes, not
only across threads of one process.

Data is prepared with `Factory` before a server starts; afterwards the test
inspects the database directly with SQL (`sql` fixture). Each server logs
to files under the test's tmp_path: stderr (gunicorn and app errors; its
tail is attached to the report of a failed test) and stdout (the access
log, with the worker's pid on every line).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import text

from crm_web.extensions import db

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
WORKERS = 3
START_TIMEOUT = 30.0
STDERR_TAIL_LINES = 80
ACCESS_LOG_FORMAT = "%(p)s %(m)s %(U)s %(s)s"
ACCESS_LINE = re.compile(r"^<(\d+)> (\S+) (\S+) (\d{3})$")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = STDERR_TAIL_LINES) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no output)"
    return "\n".join(content[-lines:])


@dataclass
class Server:
    """One running gunicorn master with its workers."""

    process: subprocess.Popen
    base_url: str
    stderr_path: Path
    stdout_path: Path
    workers: int

    def url(self, path: str) -> str:
        return self.base_url + path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stderr_tail(self, lines: int = STDERR_TAIL_LINES) -> str:
        return _tail(self.stderr_path, lines)

    def booted_workers(self) -> set[str]:
        return set(re.findall(r"Booting worker with pid: (\d+)", self.stderr()))

    def access_log(self, path_prefix: str = "/", wait_for: int = 0) -> list[tuple[int, str, str, int]]:
        """(worker pid, method, path, status) of the requests served so far.

        A worker writes its line just after the answer; wait up to a few
        seconds until at least `wait_for` matching lines are there.
        """
        deadline = time.monotonic() + 5
        while True:
            entries = []
            for line in self.stdout_path.read_text(errors="replace").splitlines():
                match = ACCESS_LINE.match(line.strip())
                if match and match.group(3).startswith(path_prefix):
                    pid, method, path, status = match.groups()
                    entries.append((int(pid), method, path, int(status)))
            if len(entries) >= wait_for or time.monotonic() > deadline:
                return entries
            time.sleep(0.05)

    def server_errors(self) -> list[str]:
        """Lines of the server's stderr that tell of a failure."""
        patterns = ("Traceback", "database is locked", "Exception on", "[ERROR]", "WORKER TIMEOUT")
        return [line for line in self.stderr().splitlines() if any(p in line for p in patterns)]

    def terminate(self) -> None:
        """Ask for gunicorn's quick shutdown (SIGINT) without waiting.

        The test's requests are all answered by then; a graceful stop would
        cost seconds per server.
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def wait(self, timeout: float = 15) -> None:
        """Wait for the master to exit (it reaps its workers); kill it if it hangs."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for pid in self.booted_workers():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            self.process.kill()
            self.process.wait(timeout=5)

    def stop(self) -> None:
        self.terminate()
        self.wait()


def _start_server(env_overrides: dict[str, str], database_url: str, log_dir: Path) -> Server:
    port = _free_port()
    env = dict(os.environ)
    for name in ("RATELIMIT_STORAGE_URI", "GUNICORN_THREADS", "GUNICORN_ACCESS_LOG", "CRM_PUBLIC_URL"):
        env.pop(name, None)
    env.update(
        {
            "CRM_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(WORKERS),
            "DATABASE_URL": database_url,
            "SECRET_KEY": "concurrency-test-secret",
            "CRM_WEBHOOK_RATE_LIMIT": "",
            "CRM_PHONE_REGION": "RU",
            "PYTHONUNBUFFERED": "1",
            # Access log on stdout as "<worker pid> <method> <path> <status>";
            # no control socket: gunicorn 27 puts it at one fixed path per
            # user (shared with any other gunicorn running), and stopping it
            # costs up to 2 s.
            "GUNICORN_CMD_ARGS": f"--no-control-socket --access-logformat '{ACCESS_LOG_FORMAT}'",
        }
    )
    env.update(env_overrides)
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = f"{port}-{time.monotonic_ns()}"
    stderr_path = log_dir / f"gunicorn-{stamp}.stderr.log"
    stdout_path = log_dir / f"gunicorn-{stamp}.stdout.log"
    with open(stderr_path, "wb") as err, open(stdout_path, "wb") as out:
        process = subprocess.Popen(
            [str(GUNICORN), "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
    server = Server(process, f"http://127.0.0.1:{port}", stderr_path, stdout_path, WORKERS)
    began = time.monotonic()
    deadline = began + START_TIMEOUT
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"gunicorn exited with {process.returncode} before answering /healthz.\n"
                f"--- gunicorn stderr (tail) ---\n{server.stderr_tail()}",
                pytrace=False,
            )
        try:
            answer = requests.get(server.url("/healthz"), timeout=2)
            if answer.status_code == 200 and len(server.booted_workers()) >= WORKERS:
                print(f"gunicorn {server.base_url} ready in {time.monotonic() - began:.2f}s")
                return server
            last_error = f"/healthz answered {answer.status_code}"
        except requests.RequestException as exc:
            last_error = repr(exc)
        time.sleep(0.1)
    server.stop()
    pytest.fail(
        f"gunicorn did not become ready within {START_TIMEOUT}s ({last_error}).\n"
        f"--- gunicorn stderr (tail) ---\n{server.stderr_tail()}",
        pytrace=False,
    )


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
def _stopping_servers() -> Iterable[list[Server]]:
    """Servers told to stop whose exit has not been awaited yet.

    A worker process takes about a second to exit; instead of waiting for
    that after every test, the exit is awaited before the next server starts
    and at the end of the session, so no gunicorn outlives the run.
    """
    stopping: list[Server] = []
    yield stopping
    for server in stopping:
        server.wait()


@pytest.fixture
def start_server(request, app, database_url, tmp_path, _stopping_servers) -> Iterable[Callable[..., Server]]:
    """Start gunicorn over the test's database: `start_server(ENV=value, ...)`.

    Depends on `app`, so the database is migrated and wiped first, and wiped
    again after the test, when the server has been told to stop and has
    answered every request (the exiting workers hold no transaction).
    """
    servers: list[Server] = []
    request.node.stash[_SERVERS] = servers

    def start(**env_overrides: str) -> Server:
        while _stopping_servers:
            _stopping_servers.pop().wait()
        server = _start_server(env_overrides, database_url, tmp_path / "gunicorn")
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
