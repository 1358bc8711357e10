"""bench/scale: the same requests at 1,000 and at 1,000,000 contacts.

Run `bench/scale` (or `.venv/bin/python bench/scale.py`); `--help` for
options. For each database (SQLite, then PostgreSQL in a throw-away
database) and each size it starts `gunicorn -c gunicorn.conf.py wsgi:app`,
creates the operators and sources of bench/intake through the API, bulk-loads
the history straight into the database (executemany in large transactions
on SQLite, COPY on PostgreSQL; not the HTTP path), then times, one request
at a time against the server:

  intake (new and returning client), the queue page, the contacts list
  (first page and a deep page 90 % down the list by ?after=; the same page
  by ?page=, i.e. OFFSET, is printed for reference), the same through the
  API, lead search by phone and by email, a lead page, the team report
  (/reports/team) for the last 30 and 365 days, and the search box (`q`) of
  /leads and /contacts: a name, a Cyrillic name in another case, 4 and 7
  phone digits, a part of an email, a word of a message,

and prints each median against the same request at 1,000 contacts. The team
report reads every contact assigned in its period (about 41,000 in 30 days
and 500,000 in 365 at 1M), so its time grows with the period's contacts: its
rows print milliseconds without a target ratio. Both
data sets are served side by side and each request is timed on both in
alternating bursts, so that other load on the machine hits both alike.

Data model of both sizes: 30 % of the contacts' leads as leads (300,000 at
1M), every lead with at least one contact; the live state is the same at
both sizes -- each active operator holds 5 open contacts and 200 contacts
wait in the queue -- and the rest is closed history, which is what grows
with time. Closed contacts were opened a few minutes after assignment (1 in
20 never) and closed within hours, with outcomes in call-centre proportions.
operators.active_load is set to match. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import io
import json
import random
import re
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from common import (
    OPERATORS,
    PASSWORD,
    SUPERVISOR,
    Api,
    Database,
    app_env,
    check_loads,
    create_workload,
    default_workers,
    free_port,
    log,
    median,
    percentile,
    prepare_database,
    start_server,
)

LIVE_PER_OPERATOR = 5
QUEUE = 200
LEAD_SHARE = 0.3
PER_PAGE = 50
TARGET_RATIO = 1.2
# Requests that read every contact of a period: timed, without a 1k/1M target.
PERIOD_READS = ("team report, 30 days", "team report, 365 days")
# The search box: a median under SEARCH_TARGET_MS at the large size (docs/performance.md, "Search").
SEARCH_TARGET_MS = 50
# Every fourth lead has a Russian name (with ё: the search reads it as е); one contact in 1,000 a
# message with a word of its own, each word in 1 of 5,000 contacts: what a search picks out.
RUSSIAN_NAMES = ("Анна Семёнова", "Пётр Лебедев", "Ольга Смирнова", "Алёна Котова")
MESSAGE_WORDS = ("invoice", "contract", "delivery", "refund", "warranty")
OUTCOME_WEIGHTS = {"done": 70, "no_answer": 18, "spam": 7, "duplicate": 5}
NOW = datetime.now(UTC).replace(microsecond=0)
HISTORY = timedelta(days=730)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--contacts", type=int, default=1_000_000, help="contacts of the large data set")
    p.add_argument("--small", type=int, default=1_000, help="contacts of the small data set")
    p.add_argument("--repeat", type=int, default=25, help="timed requests per measurement (25)")
    p.add_argument("--databases", default="sqlite,postgresql", help="comma-separated (both)")
    p.add_argument("--workers", type=int, help="gunicorn workers (gunicorn.conf.py: 2 per core)")
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = p.parse_args()
    args.workers = args.workers or default_workers()
    return args


# --- bulk load ---------------------------------------------------------------


def lead_phone(i: int) -> str:
    return f"+795{i:08d}"


def lead_email(i: int) -> str | None:
    return f"lead{i}@example.com" if i % 5 else None  # 80 % have an email


def lead_name(i: int) -> str:
    return f"{RUSSIAN_NAMES[i // 4 % len(RUSSIAN_NAMES)]} {i}" if i % 4 == 0 else f"Client {i}"


def contact_message(i: int, closed: bool) -> str:
    if not closed:
        return "Open request"
    if i % 1000 == 0:
        return f"Closed request about the {MESSAGE_WORDS[i // 1000 % len(MESSAGE_WORDS)]}"
    return "Closed request"


def lead_rows(count: int):
    for i in range(1, count + 1):
        created = NOW - HISTORY + HISTORY * (i / (count + 1))
        yield (i, f"ext-{i}" if i % 3 == 0 else None, lead_phone(i), lead_email(i), lead_name(i), created)


def contact_rows(count: int, leads: int, sources: list[int], operators: dict[int, int], seed: int = 5):
    """(id, lead_id, source_id, operator_id, is_active, name, message, created_at, assigned_at, closed_at,
    first_opened_at, outcome).

    Ids grow with created_at. The newest contacts are the live state:
    LIVE_PER_OPERATOR open contacts per active operator, then QUEUE
    unassigned ones; everything older is closed.
    """
    rng = random.Random(seed)
    # Their own generator, so that leads and sources are the same as before timings were added.
    timing = random.Random(seed + 1)
    outcomes, weights = list(OUTCOME_WEIGHTS), list(OUTCOME_WEIGHTS.values())
    live = [op for op, max_load in operators.items() for _ in range(min(LIVE_PER_OPERATOR, max_load))]
    n_live, n_queue = len(live), QUEUE
    n_closed = count - n_live - n_queue
    op_ids = list(operators)
    step = HISTORY / (count + 1)
    for i in range(1, count + 1):
        created = NOW - HISTORY + step * i
        lead = i if i <= leads else rng.randrange(1, leads + 1)
        source = sources[rng.randrange(len(sources))]
        if i <= n_closed:
            op = op_ids[rng.randrange(len(op_ids))]
            assigned = created + timedelta(minutes=5)
            # Opened after a few minutes (mean 4), 1 in 20 never; closed within hours (mean 1.5 h).
            opened = None if timing.random() < 0.05 else assigned + timedelta(
                seconds=timing.expovariate(1 / 240))
            closed = (opened or assigned) + timedelta(seconds=timing.expovariate(1 / 5400))
            outcome = timing.choices(outcomes, weights)[0]
            yield (i, lead, source, op, False, None, contact_message(i, True), created, assigned, closed,
                   opened, outcome)
        elif i <= n_closed + n_live:
            assigned = created + timedelta(minutes=1)
            yield (i, lead, source, live[i - n_closed - 1], True, None, contact_message(i, False), created,
                   assigned, None, assigned + timedelta(seconds=30) if i % 2 else None, None)
        else:
            yield (i, lead, source, None, True, None, "Waiting", created, None, None, None, None)


LEAD_COLS = "id, external_id, phone, email, name, created_at"
CONTACT_COLS = (
    "id, lead_id, source_id, operator_id, is_active, name, message, created_at, assigned_at, closed_at, "
    "first_opened_at, outcome"
)


def bulk_load(db: Database, contacts: int) -> dict:
    leads = max(1, int(contacts * LEAD_SHARE))
    conn = db.connect()
    if db.kind == "sqlite":
        conn.isolation_level = None  # explicit BEGIN/COMMIT below
    try:
        ops = dict(conn.execute("SELECT id, max_load FROM operators WHERE is_active ORDER BY id").fetchall())
        sources = [r[0] for r in conn.execute("SELECT id FROM sources ORDER BY id")]
        started = time.monotonic()
        if db.kind == "sqlite":
            _load_sqlite(conn, leads, contacts, sources, ops)
        else:
            _load_postgresql(conn, leads, contacts, sources, ops)
        loaded = time.monotonic() - started
        # Keep the maintained counters exact: active_load = open contacts.
        conn.execute(
            "UPDATE operators SET active_load = (SELECT COUNT(*) FROM contacts c "
            "WHERE c.operator_id = operators.id AND c.is_active)"
        )
        conn.commit()
        started = time.monotonic()
        if db.kind == "postgresql":
            # What autovacuum does shortly after a bulk load (statistics and
            # the visibility map), done now so the figures do not depend on
            # when it happens to run.
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE")
        else:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        after = time.monotonic() - started
    finally:
        conn.close()
    return {"leads": leads, "contacts": contacts, "load_s": loaded, "vacuum_s": after}


def _load_sqlite(conn, leads: int, contacts: int, sources: list[int], ops: dict[int, int]) -> None:
    def batches(rows, size=100_000):
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch

    def iso(value):
        # The format SQLAlchemy writes (naive UTC, microseconds always shown).
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if value else None

    for batch in batches(lead_rows(leads)):
        conn.execute("BEGIN")
        conn.executemany(
            f"INSERT INTO leads ({LEAD_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
            [(*r[:5], iso(r[5])) for r in batch],
        )
        conn.execute("COMMIT")
    for batch in batches(contact_rows(contacts, leads, sources, ops)):
        conn.execute("BEGIN")
        conn.executemany(
            f"INSERT INTO contacts ({CONTACT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*r[:7], iso(r[7]), iso(r[8]), iso(r[9]), iso(r[10]), r[11]) for r in batch],
        )
        conn.execute("COMMIT")
    # The app indexes new rows for search in batches (crm_web/services/search.py): all of them now.
    sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
    from crm_web.services.search import SQLITE_INDEX_PENDING

    conn.execute("BEGIN")
    for statement in SQLITE_INDEX_PENDING:
        conn.execute(statement)
    conn.execute("COMMIT")


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _load_postgresql(conn, leads: int, contacts: int, sources: list[int], ops: dict[int, int]) -> None:
    def copy(table: str, cols: str, rows) -> None:
        with conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            buf = io.StringIO()
            for n, row in enumerate(rows, 1):
                buf.write("\t".join(_copy_text(v) for v in row))
                buf.write("\n")
                if n % 50_000 == 0:
                    copy.write(buf.getvalue())
                    buf = io.StringIO()
            copy.write(buf.getvalue())

    copy("leads", LEAD_COLS, lead_rows(leads))
    copy("contacts", CONTACT_COLS, contact_rows(contacts, leads, sources, ops))
    for table in ("leads", "contacts"):
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    conn.commit()


# --- HTTP, signed in ---------------------------------------------------------


class Client:
    """One staff user's browser: a session cookie, one request at a time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie = ""

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, bytes, float]:
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        conn.close()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        return response.status, data, elapsed

    def sign_in(self) -> None:
        status, page, _ = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page)
        if status != 200 or not token:
            raise RuntimeError(f"/login: {status}")
        form = urlencode({"csrf_token": token.group(1).decode(), "email": SUPERVISOR, "password": PASSWORD})
        status, _, _ = self.request(
            "POST", "/login", form.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        )
        if status != 303:
            raise RuntimeError(f"sign-in failed: {status}")


def make_plan(db: Database, port: int, token: str, sources, info: dict) -> tuple[list, bool]:
    """The timed requests, as (label, call) pairs, and whether ?after= is understood."""
    client = Client(port)
    client.sign_in()
    api_headers = {"Authorization": f"Bearer {token}"}
    site = sources[0]
    rng = random.Random(11)
    leads, contacts = info["leads"], info["contacts"]
    conn = db.connect()
    try:
        depth = int(contacts * 0.9)
        deep_page = depth // PER_PAGE + 1
        # The id heading the page 90 % down the newest-first list (for ?after=).
        after_id = conn.execute(
            f"SELECT id FROM contacts ORDER BY id DESC LIMIT 1 OFFSET {depth - 1}"
        ).fetchone()[0]
    finally:
        conn.close()
    fresh = iter(range(10**6))

    def webhook(body: dict):
        return client.request("POST", f"/webhooks/{site.key}", json.dumps(body).encode(),
                              {"Content-Type": "application/json", "X-Webhook-Token": site.token})

    def new_client(_):
        n = next(fresh)
        return webhook({"phone": f"+7 977 {n:07d}", "email": f"fresh{n}@example.com", "name": "New"})

    def returning(_):
        i = rng.randrange(1, leads + 1)
        return webhook({"phone": "8" + lead_phone(i)[2:], "name": "Back"})

    def get(path, headers=None):
        return lambda _: client.request("GET", path, headers=headers)

    def lead_by_phone(_):
        i = rng.randrange(1, leads + 1)
        d = lead_phone(i)[2:]
        return client.request("GET", "/leads?" + urlencode({"q": f"8 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}"}))

    def lead_by_email(_):
        i = rng.randrange(1, leads + 1)
        while lead_email(i) is None:
            i = rng.randrange(1, leads + 1)
        return client.request("GET", "/leads?" + urlencode({"q": lead_email(i).upper()}))

    def lead_page(_):
        return client.request("GET", f"/leads/{rng.randrange(1, leads + 1)}")

    def search(path: str, query):
        """The search box of `path`; `query(i)` writes the search for lead i as a person would."""
        def call(_):
            return client.request("GET", f"{path}?" + urlencode({"q": query(rng.randrange(1, leads + 1))}))

        return call

    def with_email(i: int) -> int:
        return i if lead_email(i) else i + 1  # every fifth lead has none; its neighbour has one

    def russian(i: int) -> str:
        i = max(4, i - i % 4)  # a lead with a Russian name, written in capitals and with е for ё
        return lead_name(i).upper().replace("Ё", "Е")

    def message_word(_):
        word = MESSAGE_WORDS[rng.randrange(len(MESSAGE_WORDS))]
        return client.request("GET", "/contacts?" + urlencode({"q": word.capitalize()}))

    def team_report(days: int):
        today = NOW.date()
        period = {"from": (today - timedelta(days=days - 1)).isoformat(), "to": today.isoformat()}
        return get("/reports/team?" + urlencode(period))

    plan = [
        ("intake: new client", new_client),
        ("intake: returning client", returning),
        ("queue page", get("/queue")),
        ("contacts list, first page", get("/contacts")),
        (f"(ref.) deep ?page={deep_page} (OFFSET)", get(f"/contacts?page={deep_page}")),
        ("contacts list, deep ?after=", get(f"/contacts?after={after_id}")),
        ("API contacts, first page", get(f"/api/v1/contacts?per_page={PER_PAGE}", api_headers)),
        ("API contacts, deep ?after=", get(f"/api/v1/contacts?per_page={PER_PAGE}&after={after_id}",
                                            api_headers)),
        ("lead search by phone", lead_by_phone),
        ("lead search by email", lead_by_email),
        ("lead page", lead_page),
        (PERIOD_READS[0], team_report(30)),
        (PERIOD_READS[1], team_report(365)),
        ("search /leads: a name", search("/leads", lambda i: f"client {i}")),
        ("search /leads: Cyrillic, capitals", search("/leads", russian)),
        ("search /leads: 4 phone digits", search("/leads", lambda i: lead_phone(i)[-4:])),
        ("search /leads: 7 phone digits", search(
            "/leads", lambda i: f"{lead_phone(i)[-7:-4]}-{lead_phone(i)[-4:-2]}-{lead_phone(i)[-2:]}")),
        ("search /leads: part of an email", search("/leads", lambda i: f"lead{with_email(i)}@")),
        ("search /contacts: a message word", message_word),
        ("search /contacts: 7 phone digits", search("/contacts", lambda i: lead_phone(i)[-7:])),
        ("search /contacts: part of an email", search("/contacts", lambda i: f"LEAD{with_email(i)}@")),
    ]
    # Was ?after= understood (items older than after_id), or ignored?
    status, body, _ = client.request(
        "GET", f"/api/v1/contacts?per_page=1&after={after_id}", headers=api_headers
    )
    items = json.loads(body).get("items", []) if status == 200 else []
    keyset = bool(items) and items[0]["id"] < after_id
    return plan, keyset


def measure_pair(label: str, small_call, large_call, repeat: int, budget: float = 12.0) -> tuple[dict, dict]:
    """The same request on both data sets, interleaved in bursts of 5.

    The machine may be busy with other work; alternating keeps both sizes
    under the same conditions. A slow request gets fewer repetitions (at
    least 5 each, or what fits in `budget` seconds).
    """
    for i in range(3):
        small_call(-1 - i)
        large_call(-1 - i)
    times: dict[str, list[float]] = {"small": [], "large": []}
    statuses: dict[str, set] = {"small": set(), "large": set()}
    started = time.monotonic()
    done = 0
    while done < repeat:
        for name, call in (("small", small_call), ("large", large_call)):
            for i in range(done, min(done + 5, repeat)):
                status, _, elapsed = call(i)
                statuses[name].add(status)
                times[name].append(elapsed * 1000)
        done += 5
        if time.monotonic() - started > budget:
            break
    return tuple(
        {"label": label, "median_ms": median(times[n]), "p95_ms": percentile(times[n], 95),
         "statuses": sorted(statuses[n]), "n": len(times[n])}
        for n in ("small", "large")
    )


def setup_size(kind: str, contacts: int, args, work: Path) -> dict:
    """A database of `contacts` contacts with its server, and the requests to time."""
    size = {"db": Database.create(kind, "scale"), "server": None}
    db = size["db"]
    token = prepare_database(db)
    port = free_port()
    size["server"] = server = start_server(
        "wsgi:app", app_env(db, port, args.workers), port, args.workers, work / f"{kind}-{contacts}.log"
    )
    sources = create_workload(Api(server.base, token))
    info = bulk_load(db, contacts)
    log(f"  {contacts:>9,} contacts, {info['leads']:,} leads loaded in {info['load_s']:.1f} s"
        f" (+{info['vacuum_s']:.1f} s {'VACUUM ANALYZE' if kind == 'postgresql' else 'checkpoint'})")
    size["plan"], size["keyset"] = make_plan(db, port, token, sources, info)
    size["info"] = info
    return size


def teardown_size(size: dict) -> None:
    server, db, info = size["server"], size["db"], size.get("info", {})
    try:
        if server is not None and server.process.poll() is None:
            info["rss_mb"] = max(server.peak_rss_mb().values())
            server.stop()
            held, detail = check_loads(db)
            info["max_load"] = detail
            info["log_errors"] = server.errors_in_log()
            if not held or info["log_errors"]:
                log(f"  PROBLEM: {detail}; {info['log_errors'][:3]}")
    finally:
        if server is not None:
            server.stop()
        db.drop()


def run_database(kind: str, args, work: Path) -> tuple[dict, dict, list, list]:
    small = large = None
    try:
        small = setup_size(kind, args.small, args, work)
        large = setup_size(kind, args.contacts, args, work)
        small_results, large_results = [], []
        for (_, small_call), (label, large_call) in zip(small["plan"], large["plan"], strict=True):
            s, g = measure_pair(label, small_call, large_call, args.repeat)
            if "?after=" in label and not large["keyset"]:
                g["note"] = "?after= not supported: this is the first page"
            small_results.append(s)
            large_results.append(g)
    finally:
        for size in (small, large):
            if size is not None:
                teardown_size(size)
    return small["info"], large["info"], small_results, large_results


def main() -> int:
    args = parse_args()
    assert len(OPERATORS) == 20
    work = Path(tempfile.mkdtemp(prefix="crm-bench-scale-"))  # server logs
    atexit.register(shutil.rmtree, work, True)
    report = {}
    ok = True
    for kind in args.databases.split(","):
        log(f"\n[{kind}]")
        small_info, large_info, small, large = run_database(kind, args, work)
        log(f"\n  {'request':<34} {args.small:>9,} {args.contacts:>11,}   ratio"
            "  (median ms; p95 in brackets)")
        rows = []
        for s, g in zip(small, large, strict=True):
            ratio = g["median_ms"] / s["median_ms"]
            flag = "ok" if ratio <= TARGET_RATIO else "SLOW"
            note = g.get("note") or ""
            if note:
                flag = "n/a"
            elif g["label"].startswith("(ref.)"):
                # OFFSET pages stay linear in the depth; ?after= is the deep page.
                flag = "reference, not a target"
            elif g["label"] in PERIOD_READS:
                flag = "reads the period's contacts, no target"
            elif g["label"].startswith("search "):
                fast = g["median_ms"] < SEARCH_TARGET_MS
                flag = f"{'ok' if fast else 'SLOW'} (target < {SEARCH_TARGET_MS} ms)"
            bad = [st for st in s["statuses"] + g["statuses"] if st >= 400]
            if bad:
                flag += f" HTTP {bad}"
            log(f"  {g['label']:<34} {s['median_ms']:6.2f} ({s['p95_ms']:5.1f}) {g['median_ms']:7.2f} "
                f"({g['p95_ms']:6.1f})  {ratio:5.2f}x {flag} {note}")
            rows.append({"label": g["label"], "small_ms": s["median_ms"], "large_ms": g["median_ms"],
                         "small_p95_ms": s["p95_ms"], "large_p95_ms": g["p95_ms"], "ratio": ratio,
                         "note": note})
            ok &= not bad
        log(f"  worker peak RSS: {small_info['rss_mb']:.1f} MB / {large_info['rss_mb']:.1f} MB; "
            f"max_load: {large_info['max_load']}")
        report[kind] = {"rows": rows, "small": small_info, "large": large_info}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
        log(f"figures written to {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
