"""Shared plumbing of the benchmarks: databases, gunicorn servers, the API.

Everything talks to 127.0.0.1 only. Standard library plus what the app
itself installs (psycopg), so `make install` is enough.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET_KEY = "bench-secret-key-not-for-production"
SUPERVISOR = "bench@example.com"
PASSWORD = "bench-password-123"


def log(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of `values` (already in the unit wanted)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- databases ---------------------------------------------------------------


@dataclass
class Database:
    """A throw-away database: a SQLite file or a PostgreSQL database."""

    kind: str  # "sqlite" | "postgresql"
    url: str
    tmpdir: Path
    pg_name: str | None = None

    @classmethod
    def create(cls, kind: str, tag: str) -> Database:
        tmpdir = Path(tempfile.mkdtemp(prefix=f"crm-bench-{tag}-"))
        if kind == "sqlite":
            return cls(kind, f"sqlite:///{tmpdir / 'crm.sqlite3'}", tmpdir)
        import psycopg

        name = f"crm_bench_{tag}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN_URL.rpartition("/")[0]
        return cls(kind, f"{base}/{name}", tmpdir, name)

    def drop(self) -> None:
        if self.pg_name:
            import psycopg

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def backend_cpu_seconds(self) -> float:
        """CPU time used so far by the PostgreSQL backends serving this database."""
        if not self.pg_name:
            return 0.0
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            pids = [r[0] for r in admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.pg_name,)
            )]
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in pids:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                total += int(fields[11]) + int(fields[12])
        return total / ticks

    def connect(self):
        """A DB-API connection for direct checks and bulk loads."""
        if self.kind == "sqlite":
            import sqlite3

            conn = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=30)
            conn.execute("PRAGMA busy_timeout=30000")
            return conn
        import psycopg

        return psycopg.connect(self.url)


def app_env(db: Database, port: int, workers: int, extra: dict | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "FLASK_APP": "wsgi",
            "DATABASE_URL": db.url,
            "SECRET_KEY": SECRET_KEY,
            # One client address sends everything: the per-address limit would
            # answer 429 to the benchmark itself.
            "CRM_WEBHOOK_RATE_LIMIT": "",
            "RATELIMIT_STORAGE_URI": "memory://",
            "WEB_CONCURRENCY": str(workers),
            "CRM_BIND": f"127.0.0.1:{port}",
            # No access log for the app or the baseline: the same for both.
            "GUNICORN_ACCESS_LOG": "",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update(extra or {})
    return env


def flask(env: dict[str, str], *args: str, root: Path = ROOT) -> str:
    """`flask ...` in the checkout at `root` (another commit's, for bench/ab), with this venv."""
    result = subprocess.run(
        [str(VENV_BIN / "flask"), *args], cwd=root, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def prepare_database(db: Database, root: Path = ROOT) -> str:
    """Migrate, create the supervisor; return its API token."""
    env = app_env(db, 0, 1)
    flask(env, "db", "upgrade", root=root)
    flask(env, "users", "create", SUPERVISOR, "--role", "supervisor", "--password", PASSWORD, root=root)
    return flask(env, "users", "token", SUPERVISOR, root=root).strip().splitlines()[-1]


# --- gunicorn ----------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log_path: Path
    workers: int
    worker_pids: list[int] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def find_workers(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rpartition(")")[2].split()[1])
            if ppid == self.process.pid:
                pids.append(int(entry.name))
        return sorted(pids)

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the workers (and the master)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in [self.process.pid, *self.find_workers()]:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                total += int(fields[11]) + int(fields[12])
        return total / ticks

    def peak_rss_mb(self) -> dict[int, float]:
        """VmHWM (peak resident set) of each worker, in MB."""
        result = {}
        for pid in self.find_workers():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        result[pid] = int(line.split()[1]) / 1024
        return result

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def errors_in_log(self) -> list[str]:
        patterns = ("Traceback", "database is locked", "Exception on", "[ERROR]", "WORKER TIMEOUT")
        text = self.log_path.read_text(errors="replace")
        return [line for line in text.splitlines() if any(p in line for p in patterns)]


def start_server(app: str | None, env: dict[str, str], port: int, workers: int, log_path: Path,
                 pythonpath: str | None = None, config: str = "gunicorn.conf.py",
                 root: Path = ROOT) -> Server:
    """`app` None: the one `config` names (stream.conf.py: the live stream). `root`: the checkout served."""
    args = [str(VENV_BIN / "gunicorn"), "-c", str(root / config)]
    if pythonpath:
        args += ["--pythonpath", pythonpath]
    if app:
        args.append(app)
    out = open(log_path, "w")  # noqa: SIM115 - owned by the server's lifetime
    process = subprocess.Popen(args, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(process, port, log_path, workers)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log_path.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
            if len(server.find_workers()) >= workers:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"gunicorn did not start:\n{log_path.read_text()[-3000:]}")


def default_workers() -> int:
    """The worker count gunicorn.conf.py picks for this machine (WEB_CONCURRENCY unset)."""
    env = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}
    code = "import runpy; print(runpy.run_path('gunicorn.conf.py')['workers'])"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True)
    return int(out.stdout)


def gunicorn_settings(env: dict[str, str]) -> str:
    """What gunicorn.conf.py resolves to in this environment (for the report)."""
    code = (
        "import runpy, json; c = runpy.run_path('gunicorn.conf.py'); "
        "print(json.dumps({k: c.get(k) for k in ('workers', 'threads', 'worker_class')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    try:
        s = json.loads(out.stdout)
    except ValueError:
        return "?"
    return f"{s['workers']} {s['worker_class']} workers x {s['threads']} thread(s)"


# --- HTTP helpers (stdlib) ---------------------------------------------------


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base = base + "/api/v1"
        self.token = token

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from exc


@dataclass(frozen=True)
class SourceInfo:
    id: int
    key: str
    token: str


# The workload's operators and sources (the intake bench and the scale bench).
# 20 operators: 14 with room for the whole run, 4 that fill up at once
# (max_load 25), 2 paused. Sources differ in who may get their contacts; the
# last one only has paused or full operators: its contacts always queue up.
OPERATORS = (
    [{"name": f"Operator {i:02d}", "max_load": 10000} for i in range(1, 15)]
    + [{"name": f"Operator {i:02d}", "max_load": 25} for i in range(15, 19)]
    + [{"name": f"Operator {i:02d}", "max_load": 50, "is_active": False} for i in range(19, 21)]
)
SOURCES = (
    ("Website form", "site", range(1, 9)),
    ("Landing page", "landing", range(5, 15)),
    ("Call centre", "callcentre", range(11, 21)),
    ("Social", "social", range(15, 21)),
    ("Night line", "night", (19, 20)),
)
# Share of the traffic per source, in the order above.
SOURCE_SHARES = (0.35, 0.25, 0.15, 0.15, 0.10)


def create_workload(api: Api, form_format: str = "standard") -> list[SourceInfo]:
    """20 operators and 5 sources with weight tables, through the API; the sources in `form_format`."""
    ids = {}
    for spec in OPERATORS:
        ids[int(spec["name"].split()[1])] = api.call("POST", "/operators", spec)["id"]
    sources = []
    for name, key, members in SOURCES:
        created = api.call("POST", "/sources", {"name": name, "key": key})
        rules = [{"operator_id": ids[n], "weight": str(10 + (n * 7) % 40)} for n in members]
        api.call("PUT", f"/sources/{created['id']}/distribution", {"rules": rules})
        if form_format != "standard":
            api.call("PATCH", f"/sources/{created['id']}", {"form_format": form_format})
        sources.append(SourceInfo(created["id"], key, created["webhook_token"]))
    return sources


def serve_workload(db: Database, workers: int, log_path: Path, form_format: str = "standard",
                   root: Path = ROOT) -> tuple[Server, list[SourceInfo]]:
    """The checkout at `root` migrated onto `db` and served by gunicorn, with the workload in it
    (`create_workload`). The caller stops the server, also when this raises after starting it."""
    token = prepare_database(db, root=root)
    port = free_port()
    server = start_server("wsgi:app", app_env(db, port, workers), port, workers, log_path, root=root)
    try:
        return server, create_workload(Api(server.base, token), form_format)
    except BaseException:
        server.stop()
        raise


def check_loads(db: Database) -> tuple[bool, str]:
    """max_load held and active_load exact for every operator (direct SQL)."""
    conn = db.connect()
    try:
        rows = conn.execute(
            "SELECT o.id, o.max_load, o.active_load, "
            "(SELECT COUNT(*) FROM contacts c WHERE c.operator_id = o.id AND c.is_active) "
            "FROM operators o ORDER BY o.id"
        ).fetchall()
        statuses = conn.execute(
            "SELECT SUM(CASE WHEN operator_id IS NULL THEN 1 ELSE 0 END), COUNT(*) FROM contacts"
        ).fetchone()
    finally:
        conn.close()
    bad = [r for r in rows if r[3] > r[1] or r[2] != r[3]]
    full = sum(1 for r in rows if r[3] >= r[1])
    detail = (
        f"{len(rows)} operators, {full} at max_load, none above; active_load exact"
        if not bad
        else f"VIOLATED: {bad}"
    )
    detail += f"; {statuses[1]} contacts, {statuses[0] or 0} unassigned"
    return not bad, detail
