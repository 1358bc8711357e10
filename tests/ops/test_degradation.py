"""The database goes away and comes back: 503 with Retry-After meanwhile, recovery without a restart.

gunicorn serves the app over a TCP proxy in front of the machine's
PostgreSQL; the test cuts the proxy (the server itself keeps running for
the other tests) and restores it.
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from crm_web.core.extensions import db
from tests.conftest import Factory, make_app, wipe
from tests.live_server import start_server

from .tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow

PASSWORD = "password-123"  # the factory's
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
REQUEST_ID_RE = re.compile(r'<code class="request-id">([^<]+)</code>')
TIMEOUT = 10


def _via(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))


@pytest.fixture
def setup(postgresql_url, tmp_path):
    app = make_app(postgresql_url)
    wipe(app)
    factory = Factory(app)
    anna = factory.operator("Anna", max_load=100)
    source = factory.source("Site", key="site", weights={anna: 1})
    staff = factory.staff("supervisor")
    with app.app_context():
        db.engine.dispose()
    upstream = urlsplit(postgresql_url)
    proxy = TcpProxy((upstream.hostname, upstream.port or 5432)).start()
    server = start_server(_via(postgresql_url, proxy.port), tmp_path / "logs", workers=2)
    try:
        yield server, proxy, source, staff, factory
    finally:
        server.stop()
        proxy.cut()


def _webhook(server, source, n: int) -> requests.Response:
    # The token in the query, as form builders send it: it must not reach any log.
    return requests.post(
        server.url(f"/webhooks/{source.key}?token={source.webhook_token}"),
        json={"phone": f"+7999{n:07d}"},
        headers={"Idempotency-Key": f"degradation-{n}"},
        timeout=TIMEOUT,
    )


def _signed_in(server, staff) -> requests.Session:
    browser = requests.Session()
    token = CSRF_RE.search(browser.get(server.url("/login"), timeout=TIMEOUT).text).group(1)
    answer = browser.post(
        server.url("/login"),
        data={"email": staff.email, "password": PASSWORD, "csrf_token": token},
        timeout=TIMEOUT,
        allow_redirects=False,
    )
    assert answer.status_code in (302, 303), answer.text[:300]
    return browser


def _assert_json_503(response: requests.Response) -> None:
    assert response.status_code == 503, response.text[:500]
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "request_id"}
    assert body["error"]["code"] == "unavailable"
    assert body["error"]["request_id"] == response.headers["X-Request-ID"]
    assert "Traceback" not in response.text and "psycopg" not in response.text


def test_database_outage_answers_503_and_recovers_by_itself(setup):
    server, proxy, source, staff, factory = setup
    api = {"Authorization": f"Bearer {staff.token}"}
    browser = _signed_in(server, staff)
    # Every worker gets pooled connections while the database is there.
    for n in range(6):
        assert _webhook(server, source, n).status_code == 201
        assert requests.get(server.url("/api/v1/operators"), headers=api, timeout=TIMEOUT).status_code == 200
    assert browser.get(server.url("/"), timeout=TIMEOUT).status_code == 200

    proxy.cut()
    for n in range(100, 106):  # several requests: both workers, dead pooled connections and refused connects
        _assert_json_503(_webhook(server, source, n))
        _assert_json_503(requests.get(server.url("/api/v1/operators"), headers=api, timeout=TIMEOUT))
        _assert_json_503(
            requests.post(server.url("/api/v1/operators"), headers=api, json={"name": f"X{n}", "max_load": 1},
                          timeout=TIMEOUT)
        )
        page = browser.get(server.url("/queue"), timeout=TIMEOUT)
        assert page.status_code == 503, page.text[:500]
        assert page.headers["Retry-After"] == "5"
        assert page.headers["Content-Type"].startswith("text/html")
        assert REQUEST_ID_RE.search(page.text).group(1) == page.headers["X-Request-ID"]
        assert "Traceback" not in page.text
        health = requests.get(server.url("/healthz"), timeout=TIMEOUT)
        assert health.status_code == 503 and health.json()["status"] == "unavailable"

    proxy.restore()
    # The webhook retries a dead pooled connection once: no failed intake after the outage.
    for n in range(200, 206):
        assert _webhook(server, source, n).status_code == 201
    # Pages and the API may answer 503 once per worker still holding a dead connection; then 200.
    for check in (
        lambda: requests.get(server.url("/healthz"), timeout=TIMEOUT),
        lambda: requests.get(server.url("/api/v1/operators"), headers=api, timeout=TIMEOUT),
        lambda: browser.get(server.url("/queue"), timeout=TIMEOUT),
    ):
        statuses = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (not statuses or statuses[-1] != 200):
            statuses.append(check().status_code)
        assert set(statuses) <= {200, 503} and statuses[-1] == 200, statuses
    assert _webhook(server, source, 0).status_code == 200  # the first submission, replayed
    assert factory.count("contacts") == 12  # nothing written during the outage, nothing twice
    assert factory.count("operators") == 1

    # The server's own output: JSON request lines, no webhook token anywhere, no 500.
    output = server.stderr() + server.stdout_path.read_text(errors="replace")
    assert source.webhook_token not in output
    requests_logged = [
        json.loads(line) for line in server.stderr().splitlines() if '"event": "request"' in line
    ]
    statuses = {line["status"] for line in requests_logged if line["route"] == "/webhooks/<source_key>"}
    assert statuses == {200, 201, 503}
    assert all(line["status"] != 500 for line in requests_logged)
    assert all(line["request_id"] for line in requests_logged)
