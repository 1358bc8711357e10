"""The sign-in throttle under gunicorn with several workers and no Redis, as `make run` serves."""

from __future__ import annotations

import re
import socket
import time
from collections import Counter

import pytest
import requests

from tests.live_server import start_server

from .conftest import PASSWORD, csrf_from

WORKERS = 4
# "<worker pid> <method> <path> <status>" on each access-log line.
ACCESS_LOG = "--no-control-socket --access-logformat '%(p)s %(m)s %(U)s %(s)s'"
ACCESS_LINE = re.compile(r"^<(\d+)> (\S+) (\S+) (\d{3})$")
SETTLE = 0.3  # seconds for a worker to take up or let go of a connection


class WorkerRotation:
    """Sends each request to another worker than the one before.

    A sync worker serves one connection at a time, and one that was opened
    and left silent holds it. All workers but one are held so; after each
    request the worker that served it is held and the longest-held one let
    go, so the requests go round the workers in turn.
    """

    def __init__(self, address: tuple[str, int], workers: int) -> None:
        self.address = address
        self.held: list[socket.socket] = []
        for _ in range(workers - 1):
            self._hold()

    def _hold(self) -> None:
        self.held.append(socket.create_connection(self.address))
        time.sleep(SETTLE)

    def next(self) -> None:
        self._hold()
        self.held.pop(0).close()
        time.sleep(SETTLE)

    def close(self) -> None:
        for held in self.held:
            held.close()
        time.sleep(SETTLE)  # let the workers see it before the server stops


def access_log(server, path: str, wait_for: int) -> list[tuple[int, str, int]]:
    """(worker pid, method, status) of the requests to `path` so far."""
    deadline = time.monotonic() + 5
    while True:
        entries = []
        for line in server.stdout_path.read_text(errors="replace").splitlines():
            match = ACCESS_LINE.match(line.strip())
            if match and match.group(3) == path:
                entries.append((int(match.group(1)), match.group(2), int(match.group(4))))
        if len(entries) >= wait_for or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


@pytest.mark.slow
def test_five_failures_spread_over_four_workers_lock_the_account(app, factory, database_url, tmp_path):
    staff = factory.staff("supervisor")
    server = start_server(
        database_url, tmp_path / "gunicorn", workers=WORKERS, env={"GUNICORN_CMD_ARGS": ACCESS_LOG}
    )
    host, port = server.base_url.removeprefix("http://").split(":")
    browser = requests.Session()
    token = csrf_from(browser.get(server.url("/login"), timeout=10).text)
    rotation = WorkerRotation((host, int(port)), WORKERS)
    try:
        answers = []
        for password in ["wrong-password"] * 5 + [PASSWORD]:
            answers.append(
                browser.post(
                    server.url("/login"),
                    data={"email": staff.email, "password": password, "csrf_token": token},
                    allow_redirects=False,
                    timeout=10,
                )
            )
            rotation.next()
    finally:
        rotation.close()
        server.stop()

    assert [a.status_code for a in answers[:5]] == [200] * 5
    assert all("Wrong email or password." in a.text for a in answers[:5])
    # The sixth, with the right password, is refused: every worker counted the same five.
    assert answers[5].status_code == 429
    assert 1 <= int(answers[5].headers["Retry-After"]) <= 15 * 60
    served = access_log(server, "/login", wait_for=7)
    posts = [pid for pid, method, _ in served if method == "POST"]
    assert len(posts) == 6
    # What makes this a test of sharing: no worker saw all five failures, the sixth's least of all.
    failures_per_worker = Counter(posts[:5])
    assert len(failures_per_worker) == WORKERS, served
    assert failures_per_worker[posts[5]] < 5
    assert not server.server_errors(), server.stderr_tail()
