"""The live stream (crm_web/live_stream.py): server-sent events that tell an open page its state
changed, fed by one watcher per process (services/live_hub.py)."""

from __future__ import annotations

import json
import queue
import threading
import time

import pytest

from crm_web import live_stream
from crm_web.core.extensions import db
from crm_web.live_stream import LiveStream
from crm_web.services import live as live_service
from crm_web.services.live import live_state, make_ticket
from crm_web.services.live_hub import LiveHub
from tests.helpers import FailsOnce, recorded_statements

from ..webhooks.helpers import post_json

SECRET = "stream-test-secret"
WAIT_S = 2.0  # the contract's bound for a change to show


@pytest.fixture
def hub(app):
    with app.app_context():
        engine = db.engine
    hub = LiveHub(engine, live_stream.FIRST_PAGE, every=0.05)
    yield hub
    hub.stop()


@pytest.fixture
def stream(hub):
    return LiveStream(SECRET, hub, heartbeat=0.3)


class Opened:
    """A stream as a browser holds it: its status, headers, and its events as they come."""

    def __init__(self, app, query: str, method: str = "GET") -> None:
        self.status, self.headers = "", {}

        def start_response(status, headers, exc_info=None):
            self.status, self.headers = status, dict(headers)

        environ = {"PATH_INFO": live_stream.PATH, "REQUEST_METHOD": method, "QUERY_STRING": query}
        self.body = app(environ, start_response)
        self.chunks: queue.Queue = queue.Queue()
        self.closed = False
        self.reader = None
        if self.status.startswith("200") and method == "GET":
            self.reader = threading.Thread(target=self._read, daemon=True)
            self.reader.start()

    def _read(self) -> None:
        # As the server does: the next write (an event or a heartbeat) after the page went away
        # fails, and the server closes the stream.
        for chunk in self.body:
            if self.closed:
                break
            self.chunks.put(chunk.decode())
        self.body.close()

    def next_event(self, timeout: float = WAIT_S) -> dict | str:
        """The next data event (as JSON) or named event, skipping the retry hint and heartbeats."""
        deadline = time.monotonic() + timeout
        while True:
            chunk = self.chunks.get(timeout=max(0.01, deadline - time.monotonic()))
            if chunk.startswith("data: "):
                return json.loads(chunk[6:])
            if chunk.startswith("event: "):
                return chunk.split("\n")[0][7:]

    def close(self) -> None:
        self.closed = True
        if self.reader is not None:
            self.reader.join(timeout=5)


def ticket(operator_id: int | None = None) -> str:
    return make_ticket(SECRET, 1, operator_id)


def version_now(app, operator_id: int | None = None) -> str:
    live_service.forget()
    with app.app_context():
        return live_state(db.engine, operator_id, live_stream.FIRST_PAGE, fresh=True).version


def test_the_first_page_size_is_the_queue_pages():
    from crm_web.web.pages import PER_PAGE

    assert live_stream.FIRST_PAGE == PER_PAGE


def test_a_missing_forged_or_expired_ticket_is_401_asking_for_a_new_one(stream, monkeypatch):
    for query in ("", "t=nonsense", "t=" + make_ticket("another-secret", 1, None)):
        opened = Opened(stream, query)
        assert opened.status.startswith("401")
        assert json.loads(b"".join(opened.body)) == {"renew": True}
    old = ticket()
    monkeypatch.setattr(live_stream, "TICKET_SECONDS", 0)
    time.sleep(1.1)  # itsdangerous counts whole seconds
    assert Opened(stream, "t=" + old).status.startswith("401")


def test_the_stream_is_an_event_stream_any_origin_may_read_with_a_ticket(stream):
    opened = Opened(stream, "t=" + ticket())
    assert opened.status == "200 OK"
    assert opened.headers["Content-Type"].startswith("text/event-stream")
    assert opened.headers["Cache-Control"] == "no-store"
    assert opened.headers["Access-Control-Allow-Origin"] == "*"
    opened.close()


def test_a_page_behind_gets_the_state_at_once_and_an_up_to_date_one_nothing(app, stream):
    behind = Opened(stream, "t=" + ticket() + "&v=old")
    assert behind.next_event()["v"] == version_now(app)
    current = Opened(stream, "t=" + ticket() + "&v=" + version_now(app))
    with pytest.raises(queue.Empty):
        current.next_event(timeout=0.5)
    behind.close()
    current.close()


def test_a_contact_entering_the_queue_reaches_every_open_stream_within_2_seconds(
    app, client, factory, stream
):
    source = factory.source("Site", key="site")  # nobody in its weight table: contacts wait
    shown = version_now(app)
    pages = [Opened(stream, f"t={ticket()}&v={shown}") for _ in range(3)]
    post_json(client, source, {"phone": "+79990000011"})
    answered = time.monotonic()
    for page in pages:
        event = page.next_event()
        assert event["waiting"] == 1 and event["v"] != shown
    assert time.monotonic() - answered < WAIT_S
    for page in pages:
        page.close()


def test_an_assignment_reaches_the_operators_stream_and_not_another_operators(app, client, factory, stream):
    anna = factory.operator("Anna", max_load=5)
    boris = factory.operator("Boris", max_load=5)
    source = factory.source("Site", key="site", weights={anna: 1})
    anna_page = Opened(stream, f"t={ticket(anna.id)}&v={version_now(app, anna.id)}")
    boris_page = Opened(stream, f"t={ticket(boris.id)}&v={version_now(app, boris.id)}")
    post_json(client, source, {"phone": "+79990000012"})  # to Anna: the only one with a rule
    assert anna_page.next_event()["mine_count"] == 1
    with pytest.raises(queue.Empty):
        boris_page.next_event(timeout=0.5)
    anna_page.close()
    boris_page.close()


def test_an_idle_stream_sends_heartbeats_only(app, stream):
    opened = Opened(stream, f"t={ticket()}&v={version_now(app)}")
    time.sleep(0.8)  # heartbeat every 0.3 s here
    chunks = []
    while not opened.chunks.empty():
        chunks.append(opened.chunks.get())
    assert chunks[0].startswith("retry: ")
    assert chunks[1:] and set(chunks[1:]) == {": \n\n"}
    opened.close()


def test_the_stream_ends_asking_for_a_new_ticket_when_its_ticket_runs_out(app, stream, monkeypatch):
    monkeypatch.setattr(live_stream, "TICKET_SECONDS", 2)
    opened = Opened(stream, f"t={ticket()}&v={version_now(app)}")
    assert opened.next_event(timeout=3.5) == "renew"


def test_the_watcher_reads_twice_per_round_however_many_streams_are_open(app, factory, hub, stream):
    operators = [factory.operator(f"Op {i}") for i in range(3)]
    # Listeners are added and removed while the watcher is idle: SQLAlchemy's are not
    # thread-safe against a dispatch in another thread.
    with recorded_statements(app, any_thread=True) as log:
        pages = [Opened(stream, f"t={ticket(operators[i % 3].id)}&v=x") for i in range(12)]
        pages += [Opened(stream, f"t={ticket()}&v=x") for _ in range(4)]
        time.sleep(0.3)
        reads, seen = hub.reads, len(log.statements)
        time.sleep(0.5)
        rounds, during = hub.reads - reads, log.statements[seen:]
        for page in pages:
            page.close()
        hub.stop(wait=5)
    assert rounds >= 3
    selects = [s for s in during if s.lstrip().upper().startswith("SELECT")]
    # One round may be cut by the window's start or end.
    assert 2 * (rounds - 1) <= len(selects) <= 2 * (rounds + 1)


def test_the_watcher_outlives_an_unexpected_error_and_the_page_still_hears_the_change(
    app, client, factory, hub, stream, monkeypatch
):
    from crm_web.services import live_hub

    failing = FailsOnce(live_hub.live_states)
    monkeypatch.setattr(live_hub, "live_states", failing)
    source = factory.source("Site", key="site")
    opened = Opened(stream, f"t={ticket()}&v={version_now(app)}")
    post_json(client, source, {"phone": "+79990000060"})
    event = opened.next_event(timeout=WAIT_S + 1)
    assert failing.failed and event["waiting"] == 1
    opened.close()


def test_nothing_open_nothing_read(app, hub, stream):
    opened = Opened(stream, f"t={ticket()}&v=x")
    opened.next_event()
    opened.close()
    time.sleep(0.2)
    reads = hub.reads
    time.sleep(0.4)
    assert hub.reads == reads


def test_the_health_check_answers_without_a_ticket(stream):
    statuses = []
    body = stream({"PATH_INFO": "/healthz", "REQUEST_METHOD": "GET", "QUERY_STRING": ""},
                  lambda status, headers: statuses.append(status))
    assert statuses == ["200 OK"] and json.loads(b"".join(body)) == {"status": "ok"}


def test_pages_open_the_configured_stream_and_may_connect_to_its_origin(database_url, log_in, factory):
    from tests.conftest import make_app

    app = make_app(database_url, CRM_LIVE_STREAM_URL="http://127.0.0.1:8001/live/stream")
    client = app.test_client()
    staff = factory.staff("supervisor")
    log_in(client, staff.email)
    response = client.get("/queue")
    assert 'data-live-stream="http://127.0.0.1:8001/live/stream"' in response.get_data(as_text=True)
    assert "connect-src 'self' http://127.0.0.1:8001;" in response.headers["Content-Security-Policy"]


def test_without_a_stream_pages_poll_and_connect_to_their_own_origin_only(client, sign_in):
    sign_in()
    response = client.get("/queue")
    assert "data-live-stream" not in response.get_data(as_text=True)
    assert "connect-src 'self';" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("value", ["javascript:alert(1)", "live/stream", "http://a b/", "/x\"y"])
def test_a_stream_url_that_is_neither_a_path_nor_http_is_refused(value, monkeypatch, tmp_path):
    from crm_web.core.config import load_settings

    monkeypatch.setenv("CRM_LIVE_STREAM_URL", value)
    with pytest.raises(ValueError, match="CRM_LIVE_STREAM_URL"):
        load_settings(tmp_path)


def test_a_page_hears_at_most_one_event_a_second_and_the_latest_state(
    app, client, factory, make_contact
):
    with app.app_context():
        hub = LiveHub(db.engine, live_stream.FIRST_PAGE, every=0.05)
    stream = LiveStream(SECRET, hub, heartbeat=5)
    source = factory.source("Site", key="site")
    opened = Opened(stream, f"t={ticket()}&v={version_now(app)}")
    times, counts = [], []
    for n in range(3):
        post_json(client, source, {"phone": f"+7999000003{n}"})
        post_json(client, source, {"phone": f"+7999000004{n}"})
        event = opened.next_event(timeout=3)
        times.append(time.monotonic())
        counts.append(event["waiting"])
    assert counts[-1] == 6 and counts == sorted(counts)
    assert all(b - a >= 0.9 for a, b in zip(times, times[1:], strict=False))
    opened.close()
    hub.stop()


def test_a_new_number_waiting_alone_reaches_a_page_less_often_than_a_change_of_its_rows(
    app, client, factory, monkeypatch
):
    """A contact joining the end of a long queue changes only the count (the page fetches nothing
    then): a page hears of it COUNT_EVERY after its last event, not EVENT_EVERY; a change of what
    the page lists still comes EVENT_EVERY after."""
    from crm_web.models import User
    from crm_web.services.contacts import close_contact

    monkeypatch.setattr(live_stream, "EVENT_EVERY", 0.3)
    monkeypatch.setattr(live_stream, "COUNT_EVERY", 1.5)
    with app.app_context():
        hub = LiveHub(db.engine, 1, every=0.05)  # a first page of one contact
    stream = LiveStream(SECRET, hub, heartbeat=5)
    source = factory.source("Site", key="site")
    boss = factory.staff("supervisor", email="boss@example.com")
    first_id = post_json(client, source, {"phone": "+79990000050"}).get_json()["contact"]["id"]
    post_json(client, source, {"phone": "+79990000051"})  # the queue has a second page
    opened = Opened(stream, f"t={ticket()}&v=")
    shown = opened.next_event(timeout=3)
    shown_at = time.monotonic()
    assert shown["waiting"] == 2

    post_json(client, source, {"phone": "+79990000052"})  # the end of the queue: the count alone
    count_only = opened.next_event(timeout=4)
    heard_at = time.monotonic()
    assert count_only["waiting"] == 3
    assert count_only["v"].rpartition("~")[0] == shown["v"].rpartition("~")[0]
    assert heard_at - shown_at >= 1.4

    with app.app_context():  # the first page's contact leaves the queue: the page's rows change
        close_contact(db.session, first_id, db.session.get(User, boss.user_id))
        db.session.remove()
    rows_changed = opened.next_event(timeout=3)
    assert rows_changed["waiting"] == 2
    assert rows_changed["v"].rpartition("~")[0] != count_only["v"].rpartition("~")[0]
    assert time.monotonic() - heard_at < 1.2
    opened.close()
    hub.stop()
