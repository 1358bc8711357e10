"""The live stream: server-sent events for open pages (docs/live.md, "The stream").

A process of its own (`gunicorn -c stream.conf.py`, threads): each open page
holds one connection and one thread, asleep until the hub (one watcher per
process, services/live_hub.py) says that what the page shows changed. Idle
pages cost a heartbeat every HEARTBEAT_SECONDS, nothing else. No Flask: the
page's ticket (signed by the app, services/live.py) says whose state it
follows, and the stream ends when the ticket runs out; the page then asks
the app for a new one and opens the stream again.

`GET /live/stream?t=<ticket>&v=<version>` → 200 `text/event-stream`: a
`data: {"v", "waiting", "mine_count"}` event whenever the state differs from
the page's (the first at once if it already does), `event: renew` when the
ticket runs out; 401 `{"renew": true}` for a missing, forged or expired
ticket; 503 when the database does not answer. `GET /healthz` → 200.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs

from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError

from .core.config import load_settings
from .core.database import configure_engine, engine_options
from .services.live import TICKET_SECONDS, read_ticket
from .services.live_hub import LiveHub

PATH = "/live/stream"
HEARTBEAT_SECONDS = 15  # a comment line: proxies keep the connection, a closed page frees its thread
RETRY_MS = 2000  # how soon the browser reconnects after a dropped connection
EVENT_EVERY = 1.0  # seconds between two events to one page, at least
COUNT_EVERY = 3.0  # the same when only the number waiting changed (the page fetches nothing then)
FIRST_PAGE = 50  # the queue's page size (crm_web/web/pages.py PER_PAGE; checked by a test)

_STREAM_HEADERS = [
    ("Content-Type", "text/event-stream; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("X-Accel-Buffering", "no"),  # nginx: pass each event on at once
    # The ticket is the credential, not a cookie: any page holding one may read its stream
    # (the app's pages may be served from another origin than the stream).
    ("Access-Control-Allow-Origin", "*"),
]


def create_stream_app() -> LiveStream:
    root = Path(__file__).resolve().parent.parent
    settings = load_settings(root / "instance")
    uri = settings["SQLALCHEMY_DATABASE_URI"]
    engine = create_engine(uri, **engine_options(uri, settings["CRM_DB_POOL_SIZE"]))
    configure_engine(engine)
    return LiveStream(settings["SECRET_KEY"], LiveHub(engine, FIRST_PAGE))


class LiveStream:
    def __init__(self, secret_key: str, hub: LiveHub, heartbeat: float = HEARTBEAT_SECONDS) -> None:
        self.secret_key = secret_key
        self.hub = hub
        self.heartbeat = heartbeat

    def __call__(self, environ, start_response):
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == "/healthz" and method in ("GET", "HEAD"):
            return _json(start_response, "200 OK", {"status": "ok"})
        if path != PATH:
            return _json(start_response, "404 Not Found", {"error": {"code": "not_found"}})
        if method not in ("GET", "HEAD"):
            return _json(start_response, "405 Method Not Allowed", {"error": {"code": "method_not_allowed"}})
        query = parse_qs(environ.get("QUERY_STRING", ""))
        ticket = read_ticket(self.secret_key, query.get("t", [""])[0], TICKET_SECONDS)
        if ticket is None:
            return _json(start_response, "401 Unauthorized", {"renew": True})
        operator_id, signed_at = ticket
        try:
            state = self.hub.open(operator_id)
        except SQLAlchemyError:
            return _json(start_response, "503 Service Unavailable", {"error": {"code": "unavailable"}})
        start_response("200 OK", list(_STREAM_HEADERS))
        if method == "HEAD":
            self.hub.close(operator_id)
            return []
        return self._events(operator_id, query.get("v", [""])[0], state, signed_at + TICKET_SECONDS)

    def _events(self, operator_id, shown: str, state, ends_at: float):
        try:
            yield f"retry: {RETRY_MS}\n\n".encode()
            sent = written = time.monotonic()
            while True:
                if state is not None and state.version != shown:
                    yield _event(state.as_json())
                    shown = state.version
                    sent = written = time.monotonic()
                left = ends_at - time.time()
                if left <= 0:
                    yield b"event: renew\ndata: {}\n\n"
                    return
                now = time.monotonic()
                # A busy intake changes the state all the time: a page hears of it at most every
                # EVENT_EVERY seconds (each event may make it fetch its rows), of a new number
                # waiting alone every COUNT_EVERY; after a quiet spell, at once.
                not_before, count_not_before = sent + EVENT_EVERY, sent + COUNT_EVERY
                wait = min(written + self.heartbeat - now, left)
                if now < not_before:
                    # Nothing goes out before then: not woken by every change meanwhile.
                    time.sleep(max(0.0, min(wait, not_before - now)))
                    wait -= not_before - now
                    now = time.monotonic()
                if now < count_not_before:
                    wait = min(wait, count_not_before - now)  # a new count waiting by then goes out
                state = self.hub.next_state(
                    operator_id, shown, max(wait, 0.01), not_before, count_not_before
                )
                if self.hub.stopped:
                    return
                if state is None and time.monotonic() - written >= self.heartbeat:
                    yield b": \n\n"  # heartbeat; writing to a closed page ends this stream
                    written = time.monotonic()
        finally:
            self.hub.close(operator_id)


def _event(data: dict) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()


def _json(start_response, status: str, body: dict):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                            ("Cache-Control", "no-store")])
    return [data]
