"""bench/live: what open live pages cost, and how soon they show a change.

Run `bench/live` (or `.venv/bin/python bench/live.py`); `--help` for
options. For each database it serves the app with gunicorn (as bench/intake
does: 20 operators, 5 sources through the API), signs in 10 staff users
(6 operator users and 4 supervisors) through the login form, and opens
--pages simulated queue pages spread over them. Each follows the page's own
protocol (static/js/app.js). With `--mode stream` (the default, as `make run`
serves) the live stream (stream.conf.py) runs beside the app and each page
holds one open event stream with its ticket and version; with `--mode poll`
there is no stream and each page polls `/live` with the version it shows,
every `data-live-interval` ms after the last answer. Either way, when the
queue's part of the version changes the page fetches the queue's rows as
htmx does (with its user's session cookie). Then:

1. idle: nothing changes for --idle-seconds; the servers' CPU (the app's
   workers and master, the stream's, and PostgreSQL's backends) as a share
   of one core, and the polls answered or events sent;
2. latency: --events contacts arrive through the webhook into a source whose
   contacts wait in the queue, one every 1.5 s; for each, on every page, the
   time from the webhook's answer to the page's rows fetched with it
   (p50/p95 over all pages and events);
3. intake: bench/intake's request mix at peak (wrk) for --intake-seconds,
   without and with the pages open, twice each (without, with, with,
   without); the throughput with them, once every page is open and has
   fetched its rows, as a share of the throughput without.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path

from common import (
    PASSWORD,
    Api,
    Database,
    app_env,
    create_workload,
    default_workers,
    flask,
    free_port,
    log,
    percentile,
    prepare_database,
    start_server,
)
from loadgen import ensure_wrk, generate, run_wrk

TARGET_IDLE_CORE = 0.10
TARGET_INTAKE_RATIO = 0.95
TARGET_LATENCY_S = 2.0


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pages", type=int, default=200, help="open queue pages (200)")
    p.add_argument("--idle-seconds", type=float, default=20, help="length of the idle phase (20)")
    p.add_argument("--events", type=int, default=20, help="contacts posted in the latency phase (20)")
    p.add_argument("--intake-seconds", type=float, default=10, help="each intake run (10)")
    p.add_argument("--workers", type=int, help="gunicorn workers (gunicorn.conf.py: 2 per core)")
    p.add_argument("--databases", default="sqlite,postgresql", help="comma-separated (both)")
    p.add_argument("--mode", choices=("stream", "poll"), default="stream",
                   help="pages on the live stream (default) or polling /live")
    args = p.parse_args()
    args.workers = args.workers or default_workers()
    return args


@dataclass
class User:
    email: str
    cookie: str = ""  # the signed-in session, as the browser sends it
    live_url: str = ""
    state: dict = field(default_factory=dict)
    interval: float = 1.5
    spread: float = 0.0  # the page fetches its rows a random moment within this after a change


def sign_in(base: str, email: str) -> User:
    """Through the login form, then the queue page: the live URL, state and interval it carries."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = opener.open(base + "/login").read().decode()
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login).group(1)
    form = urllib.parse.urlencode({"email": email, "password": PASSWORD, "csrf_token": csrf}).encode()
    opener.open(base + "/login", form)
    page = opener.open(base + "/queue").read().decode()
    body = re.search(r"<body([^>]*)>", page, re.S).group(1)
    attributes = {k: html.unescape(v) for k, v in re.findall(r'(data-live[\w-]*)="([^"]*)"', body)}
    user = User(email, "; ".join(f"{c.name}={c.value}" for c in jar))
    user.live_url = attributes["data-live"]
    user.state = json.loads(attributes["data-live-state"])
    user.interval = int(attributes["data-live-interval"]) / 1000
    user.spread = int(attributes["data-live-spread"]) / 1000
    return user


async def get(port: int, path: str, cookie: str = "", htmx: bool = False) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
    if cookie:
        head += f"Cookie: {cookie}\r\n"
    if htmx:
        head += "HX-Request: true\r\n"
    writer.write((head + "\r\n").encode())
    data = await reader.read()
    writer.close()
    status = int(data.split(b" ", 2)[1])
    if status == 200 and not htmx:
        return status, data.partition(b"\r\n\r\n")[2]
    return status, b""


@dataclass
class Pages:
    """The simulated pages: polling or on the stream, and fetching the queue's rows when the
    queue changed."""

    port: int
    users: list[User]
    count: int
    stream_port: int = 0  # 0: polling
    polls: int = 0
    fetches: int = 0
    errors: int = 0
    posted: dict[str, float] = field(default_factory=dict)  # queue part of the version -> webhook answered
    latencies: list[float] = field(default_factory=list)
    stop: bool = False

    async def shown(self, user: User, version: str, new: str) -> str:
        """As the page does with a newer version: when the queue's part changed, fetch the rows
        (after the page's random spread) and note how long after the webhook's answer."""
        if new.split("~")[0] != version.split("~")[0]:
            await asyncio.sleep(random.random() * user.spread)
            await get(self.port, "/queue", user.cookie, htmx=True)  # hx-get of the rows
            self.fetches += 1
            posted = self.posted.get(new.split("~")[0])
            if posted is not None:
                self.latencies.append(time.monotonic() - posted)
        return new

    async def page(self, user: User) -> None:
        await asyncio.sleep(random.random() * user.interval)
        # As if loaded now: the state the page shows is the latest.
        status, body = await get(self.port, user.live_url)
        version = json.loads(body.decode())["v"]
        await asyncio.sleep(user.interval)
        while not self.stop:
            target = user.live_url + "&v=" + urllib.parse.quote(version)
            try:
                status, body = await get(self.port, target)
            except OSError:
                self.errors += 1
                status, body = 0, b""
            self.polls += 1
            if status == 200:
                answer = json.loads(body.decode())
                version = await self.shown(user, version, answer["v"])
            elif status not in (200, 204):
                self.errors += 1
            await asyncio.sleep(user.interval)

    async def on_stream(self, user: User) -> None:
        """As the page's EventSource: one connection, its events as they come."""
        await asyncio.sleep(random.random())
        version = user.state["v"]
        ticket = urllib.parse.parse_qs(urllib.parse.urlsplit(user.live_url).query)["t"][0]
        path = f"/live/stream?t={ticket}&v={urllib.parse.quote(version)}"
        reader, writer = await asyncio.open_connection("127.0.0.1", self.stream_port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            self.errors += 1
            writer.close()
            return
        text = ""
        while not self.stop:
            try:  # chunked: a size line, the chunk, CRLF
                size = int((await asyncio.wait_for(reader.readline(), 0.5)).strip() or b"0", 16)
            except TimeoutError:
                continue
            text += (await reader.readexactly(size + 2))[:-2].decode()
            while "\n\n" in text:
                event, text = text.split("\n\n", 1)
                if not event.startswith("data: "):
                    continue  # the retry hint, heartbeats
                self.polls += 1
                answer = json.loads(event[6:])
                version = await self.shown(user, version, answer["v"])
        writer.close()

    async def run(self, seconds: float) -> None:
        users = self.users
        follow = self.on_stream if self.stream_port else self.page
        tasks = [asyncio.create_task(follow(users[i % len(users)])) for i in range(self.count)]
        ends = time.monotonic() + seconds
        while not self.stop and time.monotonic() < ends:  # or until the caller stops the pages
            await asyncio.sleep(0.1)
        self.stop = True
        await asyncio.gather(*tasks)


def in_background(pages: Pages, seconds: float) -> threading.Thread:
    thread = threading.Thread(target=lambda: asyncio.run(pages.run(seconds)), daemon=True)
    thread.start()
    return thread


def post_waiting_contact(base: str, source, n: int) -> None:
    """A contact into the source whose operators are paused: it waits in the queue."""
    body = json.dumps({"phone": f"+7955{n:07d}", "name": f"Live {n}"}).encode()
    request = urllib.request.Request(
        f"{base}/webhooks/{source.key}", data=body, method="POST",
        headers={"Content-Type": "application/json", "X-Webhook-Token": source.token},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201, response.status


def queue_version(base: str, user: User) -> str:
    """The queue's part of the version now (after what a worker may still hold from a moment ago)."""
    time.sleep(0.3)
    with urllib.request.urlopen(base + user.live_url, timeout=10) as response:
        return json.loads(response.read())["v"].split("~")[0]


def measure(kind: str, args, work: Path) -> dict:
    db = Database.create(kind, "live")
    server = stream = None
    try:
        token = prepare_database(db)
        port = free_port()
        env = app_env(db, port, args.workers)
        stream_port = 0
        if args.mode == "stream":
            stream_port = free_port()
            stream_env = {**env, "CRM_LIVE_BIND": f"127.0.0.1:{stream_port}"}
            stream = start_server(None, stream_env, stream_port, 1, work / f"{kind}-stream.log",
                                  config="stream.conf.py")
            env["CRM_LIVE_STREAM_URL"] = f"http://127.0.0.1:{stream_port}/live/stream"
        server = start_server("wsgi:app", env, port, args.workers, work / f"{kind}.log")

        def cpu() -> float:
            return server.cpu_seconds() + (stream.cpu_seconds() if stream else 0.0)

        api = Api(server.base, token)
        sources = create_workload(api)
        operators = {o["name"]: o["id"] for o in api.call("GET", "/operators?per_page=100")["items"]}
        emails = []
        for number in range(15, 21):  # those that fill up or are paused (bench/common.py OPERATORS)
            email = f"live-operator-{number}@example.com"
            operator_id = str(operators[f"Operator {number}"])
            flask(env, "users", "create", email, "--role", "operator", "--operator-id", operator_id,
                  "--password", PASSWORD)
            emails.append(email)
        for i in range(4):
            email = f"live-supervisor-{i}@example.com"
            flask(env, "users", "create", email, "--role", "supervisor", "--password", PASSWORD)
            emails.append(email)
        users = [sign_in(server.base, email) for email in emails]
        night = next(s for s in sources if s.key == "night")  # paused operators only: contacts wait
        how = "on the live stream" if stream else f"polling every {users[0].interval:g} s"
        log(f"[{kind}] {args.pages} pages of {len(users)} users, {how}")

        # 1. idle
        pages = Pages(port, users, args.pages, stream_port)
        thread = in_background(pages, args.idle_seconds + 2)
        time.sleep(2)  # every page started
        cpu_before, pg_cpu, polls = cpu(), db.backend_cpu_seconds(), pages.polls
        time.sleep(args.idle_seconds)
        idle_core = (cpu() - cpu_before) / args.idle_seconds
        idle_pg = (db.backend_cpu_seconds() - pg_cpu) / args.idle_seconds
        idle_polls = (pages.polls - polls) / args.idle_seconds
        thread.join()
        unit = "events" if stream else "polls"
        log(f"  idle: {idle_polls:.0f} {unit}/s cost {idle_core:.1%} of one core in the app"
            + (f" + {idle_pg:.1%} in PostgreSQL" if db.pg_name else "")
            + f" (target < {TARGET_IDLE_CORE:.0%}); errors {pages.errors}")

        # 2. latency
        pages = Pages(port, users, args.pages, stream_port)
        thread = in_background(pages, args.events * 1.5 + 4)
        time.sleep(2)
        for n in range(args.events):
            post_waiting_contact(server.base, night, n)
            answered = time.monotonic()
            pages.posted[queue_version(server.base, users[-1])] = answered
            time.sleep(1.2)
        thread.join()
        shown = pages.latencies
        p50, p95 = percentile(shown, 50), percentile(shown, 95)
        log(f"  webhook answer -> rows fetched on each page: p50 {p50:.2f} s, p95 {p95:.2f} s, "
            f"max {max(shown):.2f} s over {len(shown)} page updates (target < {TARGET_LATENCY_S:g} s)")

        # 3. intake with and without the pages
        ensure_wrk()
        mix = work / f"mix-{kind}.tsv"
        window = int(3000 * args.intake_seconds)
        generate(mix, window * 4, 7, seed=107)
        rates = {"without": [], "with": []}
        # Without, with, with, without: the intake slows as the database grows, and this order
        # gives both kinds of run the same mean position (a steady drift cancels out).
        for r, mode in enumerate(("without", "with", "with", "without")):
            thread = None
            if mode == "with":
                pages = Pages(port, users, args.pages, stream_port)
                thread = in_background(pages, args.intake_seconds + 60)
                # Pages open: on the stream each fetches its rows once (it was signed in a while
                # ago), polling each polls once. The intake is measured beside open pages, not
                # pages opening.
                opened_by = time.monotonic() + 30
                while (pages.fetches if stream_port else pages.polls) < args.pages \
                        and time.monotonic() < opened_by:
                    time.sleep(0.1)
                time.sleep(1)
            result = run_wrk(f"intake {mode}", server.base, mix, sources, 16, args.intake_seconds,
                             window, server, db, start=r * window)
            rates[mode].append(result.rps)
            if thread is not None:
                pages.stop = True
                thread.join()
                log(f"  with the pages: {pages.polls} {unit}, {pages.fetches} fetches of the rows, "
                    f"{pages.errors} errors")
        ratio = statistics.median(rates["with"]) / statistics.median(rates["without"])
        runs = " / ".join(", ".join(f"{x:.0f}" for x in rates[mode]) for mode in ("without", "with"))
        log(f"  intake: {statistics.median(rates['without']):.0f} req/s without the pages, "
            f"{statistics.median(rates['with']):.0f} with them = {ratio:.1%} "
            f"(target >= {TARGET_INTAKE_RATIO:.0%}; runs without / with: {runs})")
        return {"idle_core": idle_core, "idle_postgres_core": idle_pg if db.pg_name else None,
                "idle_polls_per_s": idle_polls, "latency_p50_s": p50, "latency_p95_s": p95,
                "intake_ratio": ratio}
    finally:
        for started in (server, stream):
            if started is not None:
                started.stop()
        db.drop()


def main() -> int:
    args = parse_args()
    work = Path(tempfile.mkdtemp(prefix="crm-bench-live-"))
    try:
        results = {kind: measure(kind, args, work) for kind in args.databases.split(",")}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
