"""bench/faults: webhooks under faults, then nothing lost and nothing twice.

Run `bench/faults` (or `.venv/bin/python bench/faults.py`); `--help` for
options. Two gunicorn instances (`gunicorn -c gunicorn.conf.py wsgi:app`,
2 sync workers each) on two ports serve one throw-away PostgreSQL database.
20 operators and 5 sources are created through the API (as in
bench/intake: some operators fill up at once, some are paused). Client
threads post webhooks, each submission with its own `Idempotency-Key`,
alternating between the instances; a submission that meets a transport
error, a time-out or a 5xx is sent again, same key and body, to the other
instance, until it is answered 201 or 200. During the run:

1. a worker of instance A is killed with SIGKILL (gunicorn starts another);
2. (full run only, not with `--short`) PostgreSQL is stopped, kept down for
   a few seconds (`--outage`), and started again, with the machine's own
   `pg_ctlcluster` (as `.ci/services` starts it). Every user of that server
   loses its connections for that time.

Afterwards it checks and prints: every submission exists exactly once (the
keys sent against the idempotency table, each key's contact against the
answer the client got, and no contact without a key), no operator above
max_load and active_load equal to the counted active contacts, no 5xx other
than a well-formed 503 with Retry-After during the outage (none at all in
the short run), and /healthz back to 200 on both instances. Exit status 1
if a check failed. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    SOURCE_SHARES,
    Api,
    Database,
    Server,
    SourceInfo,
    app_env,
    check_loads,
    create_workload,
    free_port,
    log,
    percentile,
    prepare_database,
    start_server,
)

WORKERS = 2
REQUEST_TIMEOUT = 5.0
GIVE_UP_AFTER = 60.0  # a submission not answered by then counts as lost
OUTAGE_GRACE = 3.0  # 503s this long after PostgreSQL answers again still count as the outage's


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--short", action="store_true",
                   help="worker kill only, no PostgreSQL restart (what CI runs)")
    p.add_argument("--clients", type=int, default=24, help="client threads (24)")
    p.add_argument("--seconds", type=float, default=None,
                   help="length of the load (default 10 short, 20 full)")
    p.add_argument("--outage", type=float, default=5.0, help="seconds PostgreSQL stays down (5)")
    p.add_argument("--think", type=float, default=0.03,
                   help="pause of each client between submissions, s (0.03)")
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return p.parse_args()


# --- clients -----------------------------------------------------------------


@dataclass
class Attempt:
    at: float  # seconds since the start of the load
    outcome: str  # "201", "503", ..., or a transport error's name
    ms: float
    well_formed_503: bool | None = None


@dataclass
class Submission:
    key: str
    source_id: int
    contact_id: int | None = None
    final_status: int | None = None
    attempts: list[Attempt] = field(default_factory=list)
    lost_reason: str | None = None


def _post(port: int, path: str, body: bytes, headers: dict) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _is_well_formed_503(headers: dict, payload: bytes) -> bool:
    try:
        error = json.loads(payload)["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return (
        headers.get("Retry-After", "").isdigit()
        and error.get("code") == "unavailable"
        and bool(error.get("message"))
        and error.get("request_id") == headers.get("X-Request-ID")
        and b"Traceback" not in payload
    )


class Clients:
    def __init__(self, ports: list[int], sources: list[SourceInfo], count: int, think: float) -> None:
        self.ports = ports
        self.sources = sources
        self.count = count
        self.think = think
        self.run_id = uuid.uuid4().hex[:8]
        self.stop = threading.Event()
        self.started = 0.0
        self.submissions: list[list[Submission]] = [[] for _ in range(count)]
        self.threads = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(count)]

    def start(self) -> None:
        self.started = time.monotonic()
        for thread in self.threads:
            thread.start()

    def now(self) -> float:
        return time.monotonic() - self.started

    def finish(self) -> None:
        """No new submissions; wait until every one under way is answered (or given up)."""
        self.stop.set()
        for thread in self.threads:
            thread.join(GIVE_UP_AFTER + 2 * REQUEST_TIMEOUT)

    def all(self) -> list[Submission]:
        return [s for per_client in self.submissions for s in per_client]

    def _client(self, n: int) -> None:
        rng = random.Random(n)
        phones: list[str] = []
        seq = 0
        while not self.stop.is_set():
            seq += 1
            source = rng.choices(self.sources, weights=SOURCE_SHARES)[0]
            if phones and rng.random() < 0.2:
                phone = rng.choice(phones)  # a returning client
            else:
                phone = f"+79{n:02d}{seq:07d}"
                phones.append(phone)
            payload = json.dumps({"phone": phone, "name": f"Client {n}-{seq}"}).encode()
            submission = Submission(f"faults-{self.run_id}-{n}-{seq}", source.id)
            self.submissions[n].append(submission)
            self._deliver(n, submission, source, payload)
            time.sleep(self.think)

    def _deliver(self, n: int, submission: Submission, source: SourceInfo, payload: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-Token": source.token,
            "Idempotency-Key": submission.key,
        }
        first = time.monotonic()
        attempt = 0
        while True:
            port = self.ports[(n + attempt) % len(self.ports)]  # a retry goes to the other instance
            t0 = time.monotonic()
            try:
                status, response_headers, body = _post(port, f"/webhooks/{source.key}", payload, headers)
            except (OSError, http.client.HTTPException) as exc:
                submission.attempts.append(Attempt(self.now(), type(exc).__name__, _ms(t0)))
            else:
                record = Attempt(self.now(), str(status), _ms(t0))
                submission.attempts.append(record)
                if status in (200, 201):
                    submission.final_status = status
                    submission.contact_id = json.loads(body)["contact"]["id"]
                    return
                if status == 503:
                    record.well_formed_503 = _is_well_formed_503(response_headers, body)
                elif status < 500 and status != 429:
                    submission.lost_reason = f"answered {status}: {body[:200]!r}"
                    return
            attempt += 1
            if time.monotonic() - first > GIVE_UP_AFTER:
                submission.lost_reason = "not answered in time"
                return
            time.sleep(min(1.0, 0.1 * 2 ** min(attempt, 4)))


def _ms(t0: float) -> float:
    return (time.monotonic() - t0) * 1000


# --- faults ------------------------------------------------------------------


def _busy_workers(server: Server) -> list[int]:
    """Workers holding an established client connection on the server's port: mid-request."""
    port = f"{server.port:04X}"
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(":" + port) and fields[3] == "01":  # local address, ESTABLISHED
            inodes.add(fields[9])
    busy = []
    for pid in server.find_workers():
        try:
            links = [os.readlink(entry) for entry in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        if any(link.startswith("socket:[") and link[8:-1] in inodes for link in links):
            busy.append(pid)
    return busy


def kill_a_worker(server: Server) -> dict:
    """SIGKILL a worker, one in the middle of a request if one is found within 2 s."""
    before = server.find_workers()
    deadline = time.monotonic() + 2
    busy = _busy_workers(server)
    while not busy and time.monotonic() < deadline:
        time.sleep(0.005)
        busy = _busy_workers(server)
    victim = busy[0] if busy else before[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = server.find_workers()
        if victim not in now and len(now) >= server.workers:
            return {"killed_pid": victim, "mid_request": bool(busy),
                    "replaced_by": sorted(set(now) - set(before)), "replaced": True}
        time.sleep(0.1)
    return {"killed_pid": victim, "mid_request": bool(busy), "replaced_by": [], "replaced": False}


def pg_cluster() -> tuple[str, str]:
    """(version, name) of the local PostgreSQL cluster on port 5432."""
    out = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        version, name, port, *_ = line.split()
        if port == "5432":
            return version, name
    raise RuntimeError(f"no PostgreSQL cluster on port 5432:\n{out.stdout}")


def pg_ctl(action: str, *extra: str) -> None:
    version, name = pg_cluster()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *extra, version, name, action], check=True)


def pg_ready() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0


def restart_postgresql(clients: Clients, outage: float) -> dict:
    stop_at = clients.now()
    pg_ctl("stop", "--mode", "fast")
    stopped_at = clients.now()
    time.sleep(max(0.0, outage - (stopped_at - stop_at)))
    start_at = clients.now()
    try:
        pg_ctl("start")
    finally:
        deadline = time.monotonic() + 60
        while not pg_ready() and time.monotonic() < deadline:
            time.sleep(0.1)
    ready_at = clients.now()
    return {"stop_at": stop_at, "stopped_at": stopped_at, "start_at": start_at, "ready_at": ready_at}


def healthz(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        conn.close()


# --- checks ------------------------------------------------------------------


def stored_submissions(db: Database, source_ids: list[int]) -> tuple[dict[str, int], dict[int, int]]:
    """{idempotency key: contact id} and {contact id: 1} for the run's sources, from the database."""
    conn = db.connect()
    try:
        rows = conn.execute(
            "SELECT key, response_body FROM webhook_idempotency_keys WHERE source_id = ANY(%s)",
            (source_ids,),
        ).fetchall()
        contacts = conn.execute(
            "SELECT id FROM contacts WHERE source_id = ANY(%s)", (source_ids,)
        ).fetchall()
    finally:
        conn.close()
    keys = {key: json.loads(body)["contact"]["id"] if body else -1 for key, body in rows}
    return keys, {row[0]: 1 for row in contacts}


def server_log_errors(server: Server) -> Counter:
    """What the server logged at error level or above, by kind (its log is JSON lines)."""
    kinds: Counter = Counter()
    for line in server.log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("level") in ("error", "critical"):
                kinds[record.get("message", "?")[:60]] += 1
        elif "[ERROR]" in line or "WORKER TIMEOUT" in line:
            kinds[re.sub(r"^\[[^]]*\] \[\d+\] ", "", line)[:60]] += 1
    return kinds


def start_two(db: Database, workdir: Path) -> list[Server]:
    """Instances A and B, started side by side (each takes seconds to boot)."""
    started: dict[str, Server | Exception] = {}

    def start(name: str) -> None:
        port = free_port()
        env = app_env(db, port, WORKERS, {"CRM_LOG_FORMAT": "json"})
        try:
            started[name] = start_server("wsgi:app", env, port, WORKERS, workdir / f"gunicorn-{name}.log")
        except Exception as exc:  # reported below, after both tries
            started[name] = exc

    threads = [threading.Thread(target=start, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    servers = [started[name] for name in ("a", "b")]
    failed = [s for s in servers if isinstance(s, Exception)]
    if failed:
        for server in servers:
            if isinstance(server, Server):
                server.stop()
        raise failed[0]
    return servers


def main() -> int:
    args = parse_args()
    seconds = args.seconds or (10.0 if args.short else 20.0)
    mode = "short: worker kill only" if args.short else f"full: worker kill, PostgreSQL down {args.outage:g}s"
    if not args.short and os.geteuid() != 0:
        log("the full run stops PostgreSQL with pg_ctlcluster: run it as root (or use --short)")
        return 2
    log(f"bench/faults: {mode}, {args.clients} clients, {seconds:g} s of load, "
        f"2 instances x {WORKERS} workers")
    db = Database.create("postgresql", "faults")
    servers: list[Server] = []
    workdir = Path(tempfile.mkdtemp(prefix="crm-faults-"))
    try:
        token = prepare_database(db)
        servers.extend(start_two(db, workdir))
        sources = create_workload(Api(servers[0].base, token))
        clients = Clients([s.port for s in servers], sources, args.clients, args.think)
        events: dict = {}
        clients.start()
        time.sleep(min(3.0, seconds / 4))
        events["worker_kill"] = {"at": round(clients.now(), 2), **kill_a_worker(servers[0])}
        kill = events["worker_kill"]
        log(f"  {kill['at']:5.1f} s  SIGKILL worker {kill['killed_pid']} of instance A "
            f"({'mid-request' if kill['mid_request'] else 'idle'}); replaced by {kill['replaced_by']}")
        outage = None
        if not args.short:
            time.sleep(3.0)
            log(f"  {clients.now():5.1f} s  stopping PostgreSQL")
            outage = restart_postgresql(clients, args.outage)
            events["postgresql"] = {k: round(v, 2) for k, v in outage.items()}
            log(f"  {outage['ready_at']:5.1f} s  PostgreSQL answers again "
                f"(down {outage['ready_at'] - outage['stopped_at']:.1f} s)")
        time.sleep(max(0.0, seconds - clients.now()))
        log(f"  {clients.now():5.1f} s  no new submissions; waiting for retries")
        clients.finish()
        figures = evaluate(args, db, servers, clients, sources, events, outage)
    finally:
        if not args.short and not pg_ready():  # never leave the machine's PostgreSQL down
            pg_ctl("start")
        for server in servers:
            server.stop()
        db.drop()
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if figures["passed"]:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        log(f"the servers' logs are kept in {workdir}")
    return 0 if figures["passed"] else 1


def evaluate(args, db, servers, clients, sources, events, outage) -> dict:
    submissions = clients.all()
    attempts = [a for s in submissions for a in s.attempts]
    outcomes = Counter(a.outcome for a in attempts)
    answered = [s for s in submissions if s.contact_id is not None]
    lost = [s for s in submissions if s.contact_id is None]
    stored, contacts = stored_submissions(db, [s.id for s in sources])
    sent_keys = {s.key for s in submissions}
    mismatched = [s.key for s in answered if stored.get(s.key) != s.contact_id]
    missing = sorted(sent_keys - set(stored))
    unknown = sorted(set(stored) - sent_keys)
    contact_ids = list(stored.values())
    duplicate_contacts = len(contact_ids) - len(set(contact_ids))
    contacts_without_key = sorted(set(contacts) - set(contact_ids))
    exactly_once = (
        not lost and not missing and not unknown and not mismatched
        and duplicate_contacts == 0 and not contacts_without_key
        and len(contacts) == len(submissions)
    )
    loads_ok, loads_detail = check_loads(db)

    fives = [a for a in attempts if a.outcome.isdigit() and int(a.outcome) >= 500]
    window = (outage["stop_at"], outage["ready_at"] + OUTAGE_GRACE) if outage else None
    bad_fives = [
        a for a in fives
        if a.outcome != "503" or not a.well_formed_503 or window is None or not window[0] <= a.at <= window[1]
    ]
    health = {}
    for server, name in zip(servers, ("A", "B"), strict=True):
        deadline = time.monotonic() + 10
        while (status := healthz(server.port)) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        health[name] = status
    first_ok_after = None
    if outage:
        oks = [a.at for a in attempts if a.outcome in ("200", "201") and a.at >= outage["ready_at"]]
        first_ok_after = round(min(oks) - outage["ready_at"], 2) if oks else None
    retried = [s for s in submissions if len(s.attempts) > 1]
    latencies = [a.ms for a in attempts if a.outcome in ("200", "201")]
    checks = {
        "every submission stored exactly once": exactly_once,
        "no operator above max_load, active_load exact": loads_ok,
        "no 5xx but well-formed 503s during the outage": not bad_fives,
        "/healthz 200 on both instances": all(v == 200 for v in health.values()),
        "killed worker replaced": events["worker_kill"]["replaced"],
    }
    return {
        "mode": "short" if args.short else "full",
        "clients": args.clients,
        "submissions": len(submissions),
        "answered_201": sum(1 for s in answered if s.final_status == 201),
        "answered_200_replay": sum(1 for s in answered if s.final_status == 200),
        "lost": [(s.key, s.lost_reason) for s in lost][:20],
        "attempts": len(attempts),
        "retried_submissions": len(retried),
        "max_attempts": max((len(s.attempts) for s in submissions), default=0),
        "outcomes": dict(sorted(outcomes.items())),
        "stored_keys": len(stored),
        "contacts": len(contacts),
        "missing_keys": missing[:20],
        "unknown_keys": unknown[:20],
        "answer_differs_from_stored": mismatched[:20],
        "duplicate_contacts": duplicate_contacts,
        "contacts_without_key": contacts_without_key[:20],
        "loads": loads_detail,
        "five_xx": len(fives),
        "five_xx_outside_outage_or_malformed": [(a.at, a.outcome) for a in bad_fives][:20],
        "events": events,
        "first_success_after_postgresql_ready_s": first_ok_after,
        "latency_ms_ok": {
            "p50": round(percentile(latencies, 50), 1),
            "p99": round(percentile(latencies, 99), 1),
            "max": round(max(latencies, default=0), 1),
        },
        "healthz": health,
        "server_errors_logged": {
            name: dict(server_log_errors(server).most_common(5))
            for server, name in zip(servers, ("A", "B"), strict=True)
        },
        "checks": checks,
        "passed": all(checks.values()),
    }


def report(f: dict) -> None:
    log("")
    log(f"submissions: {f['submissions']} ({f['answered_201']} answered 201, "
        f"{f['answered_200_replay']} finally answered 200 = replay of a committed first try, "
        f"{len(f['lost'])} lost)")
    log(f"attempts: {f['attempts']}; {f['retried_submissions']} submissions retried "
        f"(at most {f['max_attempts']} attempts); outcomes: "
        + ", ".join(f"{k} x{v}" for k, v in f["outcomes"].items()))
    log(f"database: {f['stored_keys']} idempotency keys, {f['contacts']} contacts; "
        f"missing {len(f['missing_keys'])}, unknown {len(f['unknown_keys'])}, "
        f"answer differs {len(f['answer_differs_from_stored'])}, "
        f"duplicate contacts {f['duplicate_contacts']}, "
        f"contacts without a key {len(f['contacts_without_key'])}")
    log(f"operators: {f['loads']}")
    log(f"5xx: {f['five_xx']} (outside the outage or malformed: "
        f"{len(f['five_xx_outside_outage_or_malformed'])})")
    if f["first_success_after_postgresql_ready_s"] is not None:
        log(f"first success {f['first_success_after_postgresql_ready_s']} s after PostgreSQL answered again")
    lat = f["latency_ms_ok"]
    log(f"latency of successful attempts: p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms")
    log(f"/healthz afterwards: {f['healthz']}")
    log(f"errors in the servers' logs: {f['server_errors_logged']}")
    for name, ok in f["checks"].items():
        log(f"  [{'PASS' if ok else 'FAIL'}] {name}")
    if f["lost"]:
        log(f"lost: {f['lost']}")
    log("PASSED" if f["passed"] else "FAILED")


if __name__ == "__main__":
    sys.exit(main())
