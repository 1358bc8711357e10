"""Request bodies over 1 MiB: 413 on every route, before anything reads them (crm_web/core/body_limit.py).

Pages answer with the error page, /api with the JSON error; the webhook
keeps its own 64 KiB limit. The client tests run on both databases; the
last ones send raw HTTP to gunicorn, as a client whose body never ends.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import threading
import time
from urllib.parse import urlencode, urlsplit

import pytest

from crm_web.core.config import MAX_REQUEST_BODY
from crm_web.core.extensions import db
from tests.api.helpers import API
from tests.conftest import Factory, make_app, wipe
from tests.helpers import assert_error
from tests.live_server import start_server
from tests.webhooks.helpers import MAX_BODY as WEBHOOK_MAX_BODY
from tests.webhooks.helpers import PHONE, auth, json_of_size, url

MIB = 1024 * 1024
FORM = "application/x-www-form-urlencoded"
HUGE = 40 * MIB  # the report's form


class UnreadableBody(io.RawIOBase):
    """A request body that must not be read: reading it fails the test."""

    def __init__(self) -> None:
        self.reads = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self.reads += 1
        raise AssertionError("the body was read")


def padded_form(size: int, **fields) -> bytes:
    base = urlencode({**fields, "padding": ""}).encode()
    body = urlencode({**fields, "padding": "x" * (size - len(base))}).encode()
    assert len(body) == size
    return body


def assert_too_large_page(response) -> str:
    assert response.status_code == 413, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_the_limit_is_one_mib(app):
    assert MAX_REQUEST_BODY == MIB
    assert app.config["MAX_CONTENT_LENGTH"] == MAX_REQUEST_BODY
    # Form parsing is bounded too: one multipart text part, and the number of parts.
    assert app.config["MAX_FORM_MEMORY_SIZE"] < MAX_REQUEST_BODY
    assert app.config["MAX_FORM_PARTS"] <= 1000


# --- pages -------------------------------------------------------------------


def test_sign_in_form_over_1_mib_is_413_page_and_nothing_written(client, factory, csrf):
    staff = factory.staff("supervisor")
    fields = {"email": staff.email, "password": "password-123", "csrf_token": csrf()}
    before = factory.counts()
    response = client.post("/login", data=padded_form(MIB + 1, **fields), content_type=FORM)
    page = assert_too_large_page(response)
    assert "Request too large" in page and "Shorten the text" in page
    assert response.headers["X-Request-ID"] in page
    assert factory.counts() == before
    assert client.get("/").status_code == 302  # not signed in


def test_the_page_reads_well_in_russian(client):
    response = client.post(
        "/login", data=padded_form(2 * MIB), content_type=FORM, headers={"Accept-Language": "ru"}
    )
    page = assert_too_large_page(response)
    assert "Слишком большой запрос" in page and "Сократите текст" in page


def test_signed_in_form_over_1_mib_is_413_and_creates_nothing(client, factory, sign_in, csrf):
    sign_in("supervisor")
    token = csrf("/operators/new")
    before = factory.counts()
    body = padded_form(MIB + 1024, name="Huge", max_load="5", csrf_token=token)
    page = assert_too_large_page(client.post("/operators/new", data=body, content_type=FORM))
    assert "Request too large" in page
    assert factory.counts() == before
    # The same form within the limit goes through.
    small = client.post("/operators/new", data={"name": "Small", "max_load": "5", "csrf_token": token})
    assert small.status_code in (302, 303), small.get_data(as_text=True)[:300]


def test_multipart_over_1_mib_is_413(client, factory):
    before = factory.counts()
    response = client.post(
        "/login",
        data={"email": "a@example.com", "file": (io.BytesIO(b"x" * (2 * MIB)), "big.bin")},
        content_type="multipart/form-data",
    )
    assert response.request.content_length > MIB
    assert_too_large_page(response)
    assert factory.counts() == before


def test_multipart_text_part_over_the_form_memory_limit_is_413(app, client):
    size = app.config["MAX_FORM_MEMORY_SIZE"] + 1
    response = client.post("/login", data={"email": "x" * size}, content_type="multipart/form-data")
    assert response.request.content_length < MIB
    assert_too_large_page(response)


def test_multipart_with_too_many_parts_is_413(app, client):
    parts = {f"f{i}": "1" for i in range(app.config["MAX_FORM_PARTS"] + 1)}
    response = client.post("/login", data=parts, content_type="multipart/form-data")
    assert response.request.content_length < MIB
    assert_too_large_page(response)


def test_chunked_form_over_1_mib_is_413(client):
    """No Content-Length (chunked, as gunicorn passes it): cut at the limit."""
    response = client.post(
        "/login",
        input_stream=io.BytesIO(padded_form(MIB + 1024, email="a@example.com")),
        content_type=FORM,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.request.content_length is None
    assert_too_large_page(response)


# --- the API -----------------------------------------------------------------


def contact_of_size(size: int, source_id: int) -> bytes:
    """A staff intake body of exactly `size` bytes, its message far too long."""
    base = json.dumps({"source_id": source_id, "phone": PHONE, "message": ""}).encode()
    body = json.dumps({"source_id": source_id, "phone": PHONE, "message": "x" * (size - len(base))}).encode()
    assert len(body) == size
    return body


@pytest.fixture
def site(factory):
    anna = factory.operator("Anna", max_load=100)
    return factory.source("Site form", key="site", weights={anna: 1})


@pytest.mark.parametrize("size", [MIB + 1, 5 * MIB])
def test_api_json_over_1_mib_is_413_json(client, factory, site, size):
    staff = factory.staff("supervisor")
    before = factory.counts()
    response = client.post(
        f"{API}/contacts", data=contact_of_size(size, site.id), content_type="application/json",
        headers=staff.headers,
    )
    error = assert_error(response, 413, "payload_too_large")
    assert error["message"] == "The body is larger than 1 MiB."
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert factory.counts() == before


@pytest.mark.parametrize("size", [MIB - 1, MIB])
def test_api_json_up_to_1_mib_gets_its_normal_answer(client, factory, site, size):
    staff = factory.staff("supervisor")
    response = client.post(
        f"{API}/contacts", data=contact_of_size(size, site.id), content_type="application/json",
        headers=staff.headers,
    )
    assert response.request.content_length == size
    error = assert_error(response, 422, "validation_error")
    assert "message" in error["fields"]
    assert factory.count("contacts") == 0


def test_api_chunked_json_over_1_mib_is_413_json(client, factory, site):
    staff = factory.staff("supervisor")
    response = client.post(
        f"{API}/contacts",
        input_stream=io.BytesIO(contact_of_size(MIB + 1024, site.id)),
        content_type="application/json",
        headers={**staff.headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_error(response, 413, "payload_too_large")
    assert factory.count("contacts") == 0


def test_api_refuses_the_size_before_the_token(client):
    response = client.post(f"{API}/contacts", data=b"x" * (MIB + 1), content_type="application/json")
    assert_error(response, 413, "payload_too_large")


# --- the webhook keeps 64 KiB ---------------------------------------------------


def test_webhook_keeps_its_64_kib_limit(client, factory, site):
    before = factory.counts()
    body = json_of_size(WEBHOOK_MAX_BODY + 1, phone=PHONE)
    response = client.post(url(site), data=body, content_type="application/json", headers=auth(site))
    error = assert_error(response, 413, "payload_too_large")
    assert "64 KiB" in error["message"]
    big = client.post(url(site), data=json_of_size(2 * MIB, phone=PHONE), content_type="application/json",
                      headers=auth(site))
    assert_error(big, 413, "payload_too_large")
    assert factory.counts() == before
    within = client.post(url(site), data=json_of_size(WEBHOOK_MAX_BODY, phone=PHONE),
                         content_type="application/json", headers=auth(site))
    assert within.status_code == 201, within.get_data(as_text=True)[:300]


# --- nothing read ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type", "json_answer"),
    [
        ("/login", FORM, False),
        ("/login", "multipart/form-data; boundary=x", False),
        (f"{API}/contacts", "application/json", True),
        ("/webhooks/site", "application/json", True),
        ("/no-such-page", FORM, False),
    ],
)
def test_a_declared_length_over_1_mib_is_answered_without_reading(client, site, path, content_type,
                                                                   json_answer):
    body = UnreadableBody()
    response = client.post(
        path, content_type=content_type, environ_overrides={"wsgi.input": body, "CONTENT_LENGTH": str(HUGE)}
    )
    assert response.status_code == 413
    assert response.mimetype == ("application/json" if json_answer else "text/html")
    assert body.reads == 0


# --- a real server ---------------------------------------------------------------


@pytest.fixture(scope="module")
def server(postgresql_url, tmp_path_factory):
    """gunicorn (sync workers, as deployed) over a fresh database, with a supervisor's token."""
    app = make_app(postgresql_url)
    wipe(app)
    staff = Factory(app).staff("supervisor")
    with app.app_context():
        db.engine.dispose()
    live = start_server(postgresql_url, tmp_path_factory.mktemp("gunicorn"), workers=2)
    try:
        yield live, staff
    finally:
        live.stop()
        wipe(app)


def raw_request(server, head: str, body: bytes = b"", wait: float = 5.0) -> tuple[bytes, float, float | None]:
    """Send `head` and `body`, never the rest.

    Returns the answer, the seconds until its first byte, and the seconds
    until the server closed the connection (None: still open after `wait`).
    """
    address = urlsplit(server.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=wait) as sock:
        started = time.monotonic()
        sock.sendall(head.encode() + body)
        answer = sock.recv(65536)
        first_byte = time.monotonic() - started
        closed = None
        try:
            while chunk := sock.recv(65536):
                answer += chunk
            closed = time.monotonic() - started
        except TimeoutError:
            pass
    return answer, first_byte, closed


def head_of(path: str, content_type: str, length: int, *extra: str) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {content_type}",
             f"Content-Length: {length}", *extra]
    return "\r\n".join(lines) + "\r\n\r\n"


def status_line(answer: bytes) -> bytes:
    return answer.split(b"\r\n", 1)[0]


def headers_of(answer: bytes) -> bytes:
    return answer.split(b"\r\n\r\n", 1)[0].lower()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "content_type", "json_answer"),
    [("/login", FORM, False), (f"{API}/contacts", "application/json", True)],
)
def test_server_answers_413_at_once_while_the_body_never_arrives(server, path, content_type, json_answer):
    live, staff = server
    head = head_of(path, content_type, HUGE, f"Authorization: Bearer {staff.token}")
    answer, first_byte, closed = raw_request(live, head, b"email=a")
    assert status_line(answer).startswith(b"HTTP/1.1 413 "), answer[:300]
    assert first_byte < 2.0
    # The connection is closed, not kept to read (or drain) the other 40 MiB.
    assert b"connection: close" in headers_of(answer)
    assert closed is not None and closed < 2.0
    content_type_header = b"content-type: application/json" if json_answer else b"content-type: text/html"
    assert content_type_header in headers_of(answer)
    assert not live.server_errors(), live.server_errors()


@pytest.mark.slow
def test_server_cuts_a_chunked_body_at_1_mib(server):
    live, staff = server
    head = (f"POST {API}/contacts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {staff.token}\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 65536
    body = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * (MIB // len(chunk) + 1)  # never the last chunk
    answer, first_byte, _closed = raw_request(live, head, body)
    assert status_line(answer).startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b'"payload_too_large"' in answer
    assert first_byte < 2.0


def peak_rss_kib(pid: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmHWM for {pid}")


def send_whole_body(server, head: str, body: bytes) -> bytes:
    """Send all of `body` from a thread, as a client uploading it would; return the answer."""
    address = urlsplit(server.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:

        def upload():
            with contextlib.suppress(OSError):  # the server closes while the body is still coming
                sock.sendall(head.encode() + body)

        sender = threading.Thread(target=upload, daemon=True)
        sender.start()
        answer = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in answer and (chunk := sock.recv(65536)):
                answer += chunk
        sender.join(timeout=10)
    return answer


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_server_memory_does_not_grow_with_oversized_forms(server):
    live, _staff = server
    workers = sorted(live.booted_workers())
    # Warm every worker up on the same 413 page with a body that is declared too
    # large but barely sent: its first page (templates, catalogs) is not what
    # is measured, and a peak reached here could hide nothing (it reads ~nothing).
    for _ in range(4 * len(workers)):
        answer = send_whole_body(live, head_of("/login", FORM, 2 * MIB), b"padding=x")
        assert status_line(answer).startswith(b"HTTP/1.1 413 "), answer[:300]
    before = {pid: peak_rss_kib(pid) for pid in workers}
    body = b"padding=" + b"x" * (8 * MIB)
    for _ in range(4):
        answer = send_whole_body(live, head_of("/login", FORM, len(body)), body)
        assert status_line(answer).startswith(b"HTTP/1.1 413 "), answer[:300]
    growth_kib = sum(peak_rss_kib(pid) - before[pid] for pid in workers)
    assert growth_kib < 4 * 1024, f"the workers' peak memory grew by {growth_kib} KiB"
