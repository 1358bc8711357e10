"""bench/cpu: instructions per webhook request, counted by valgrind (repeatable).

Run `bench/cpu` (or `.venv/bin/python bench/cpu.py`); `--help` for options.

Requests per second on a shared virtual machine move by a quarter between
minutes, and so does CPU time per request; the number of instructions the
worker executes does not. For each database this script prepares a
throw-away database (migrated, 20 operators, a source with a weight table
of 5), then runs the app in-process (the WSGI app, no HTTP server) under
`valgrind --tool=callgrind` twice: once with only a warm-up and once with
the warm-up plus N webhook calls (70 % new clients, 30 % returning by
phone or email). The difference divided by N is the instructions one
webhook call costs in the Python process; it is repeatable to about 0.5 %,
so it shows what a change to the hot path buys even when the machine is
busy. (PostgreSQL's own work is not in it; `bench/intake` measures that.)
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from common import ROOT, Database, app_env, log  # noqa: E402
from loadgen import tilda_body  # noqa: E402

WARMUP = 50
COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=300, help="webhook calls measured (300)")
    p.add_argument("--databases", default="sqlite,postgresql", help="comma-separated (both)")
    p.add_argument("--format", default="standard",
                   help="the source's form_format: standard (JSON) or site_form (Tilda's urlencoded body)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args()


def _driver_url(url: str) -> str:
    from crm_web.core.config import _normalise_database_url

    return _normalise_database_url(url)


def seed(url: str, form_format: str = "standard") -> None:
    """Migrate and create 20 operators and one source with a weight table of 5."""
    from decimal import Decimal

    from flask_migrate import upgrade

    from crm_web import create_app
    from crm_web.core.extensions import db
    from crm_web.models import Distribution, Operator, Source

    app = create_app({"SQLALCHEMY_DATABASE_URI": _driver_url(url), "CRM_WEBHOOK_RATE_LIMIT": ""})
    with app.app_context():
        upgrade()
        operators = [Operator(name=f"Operator {i}", max_load=9_999) for i in range(20)]
        db.session.add_all(operators)
        db.session.flush()
        source = Source(name="Site", key="site", webhook_token="bench-token", form_format=form_format)
        db.session.add(source)
        db.session.flush()
        for i, operator in enumerate(operators[:5]):
            db.session.add(Distribution(source_id=source.id, operator_id=operator.id, weight=Decimal(i + 1)))
        db.session.commit()
        db.engine.dispose()


def child(url: str, requests: int, offset: int, form_format: str) -> None:
    """Warm up, then make `requests` webhook calls; valgrind counts the whole process."""
    from werkzeug.test import EnvironBuilder

    from crm_web import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": _driver_url(url), "CRM_WEBHOOK_RATE_LIMIT": ""})

    def environ(i: int) -> dict:
        n = offset + i
        if i % 10 < 7 or i < 10:
            body = {"phone": f"+7916{n:07d}", "name": "Ivan", "message": "Please call me back."}
        elif i % 2:  # returning clients, their phone written another way
            body = {"phone": f"+7 916 {n - 7:07d}", "message": "Again."}
        else:
            body = {"phone": f"8 916 {n - 8:07d}", "email": f"client{n}@example.com"}
        if form_format == "site_form":
            data, content_type = tilda_body(body, f"{n}"), "application/x-www-form-urlencoded"
        else:
            data, content_type = json.dumps(body), "application/json"
        return EnvironBuilder(
            path="/webhooks/site", method="POST", data=data,
            headers={"X-Webhook-Token": "bench-token", "Content-Type": content_type},
        ).get_environ()

    def start_response(status, _headers, _exc=None):
        if not status.startswith(("200", "201")):
            raise SystemExit(f"webhook answered {status}")

    environs = [environ(i) for i in range(WARMUP + requests)]
    for env in environs:
        b"".join(app(env, start_response))


def count(url: str, requests: int, offset: int, env: dict[str, str], form_format: str) -> int:
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, __file__, "--child", "--url", url,
        "--requests", str(requests), "--offset", str(offset), "--format", form_format,
    ]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    match = COLLECTED.search(result.stderr)
    if result.returncode != 0 or not match:
        raise RuntimeError(f"valgrind run failed:\n{result.stderr[-3000:]}")
    return int(match.group(1))


def main() -> None:
    args = parse_args()
    if args.child:
        child(args.url, args.requests, args.offset, args.format)
        return
    if subprocess.run(["which", "valgrind"], capture_output=True).returncode != 0:
        sys.exit("valgrind is not installed (apt-get install valgrind).")
    for kind in args.databases.split(","):
        database = Database.create(kind, "cpu")
        try:
            # As a served worker: no Alembic loaded, JSON log lines.
            env = app_env(database, 0, 1, {"CRM_SERVING": "1"})
            seed(database.url, args.format)
            log(f"[{kind}] counting (two runs under valgrind, about a minute each)")
            base = count(database.url, 0, 0, env, args.format)
            full = count(database.url, args.requests, 1_000_000, env, args.format)
            per_request = (full - base) / args.requests
            print(f"  {kind:<11} {per_request / 1e6:6.2f} M instructions per webhook call ({args.format}, "
                  f"{args.requests} calls; warm-up {WARMUP})", flush=True)
        finally:
            database.drop()


if __name__ == "__main__":
    main()
