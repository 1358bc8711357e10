"""The sign-in throttle under gunicorn with several workers and no Redis, as `make run` serves."""

from __future__ import annotations

import socket
import time
from collections import Counter

import pytest
import requests

from tests.helpers import PASSWORD, csrf_from
from tests.live_server import PID_ACCESS_LOG, start_server

WORKERS = 4
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


@pytest.mark.slow
def test_five_failures_spread_over_four_workers_lock_the_account(app, factory, database_url, tmp_path):
    staff = factory.staff("supervisor")
    server = start_server(
        database_url, tmp_path / "gunicorn", workers=WORKERS, access_log_format=PID_ACCESS_LOG
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
    served = server.access_log("/login", wait_for=7, exact=True)
    posts = [pid for pid, method, _, _ in served if method == "POST"]
    assert len(posts) == 6
    # What makes this a test of sharing: no worker saw all five failures, the sixth's least of all.
    failures_per_worker = Counter(posts[:5])
    assert len(failures_per_worker) == WORKERS, served
    assert failures_per_worker[posts[5]] < 5
    assert not server.server_errors(), server.stderr_tail()
