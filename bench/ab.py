"""bench/ab: this checkout's webhook throughput against another commit's, both at the same time.

Run `bench/ab --against 32358aa` (`--help` for options). It checks the other
commit out into a temporary git worktree, serves each checkout with its own
`gunicorn.conf.py` and this venv, on a throw-away database of its own (same
kind), and creates bench/intake's workload in each through the API. Then,
round after round, one wrk per server replays the same window of
bench/intake's request mix at the same moment.

Why at the same moment: on a shared machine one bench/intake round can move
by more than the difference in question. Two servers that share the cores,
PostgreSQL and whatever else runs during the same seconds feel the same load,
so their ratio holds where their own figures do not. The figure is the
median of the rounds' ratios (this checkout's requests over the other's),
with CPU per request (workers, and PostgreSQL's backends) beside it.
Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    ROOT,
    Database,
    check_loads,
    default_workers,
    log,
    serve_workload,
)
from loadgen import ensure_wrk, generate, run_wrk


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--against", required=True, help="the other commit (any git revision)")
    p.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    p.add_argument("--format", default="standard", help="the sources' form_format (standard)")
    p.add_argument("--workers", type=int, default=default_workers(), help="gunicorn workers per server")
    p.add_argument("--clients", type=int, default=16, help="keep-alive connections per server (16)")
    p.add_argument("--seconds", type=float, default=10, help="length of each round (10)")
    p.add_argument("--rounds", type=int, default=6, help="rounds (6)")
    p.add_argument("--warmup", type=float, default=3, help="warm-up of each server (3)")
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return p.parse_args()


@dataclass
class Side:
    name: str
    root: Path
    db: Database | None = None
    server: object = None
    sources: list = field(default_factory=list)
    runs: list = field(default_factory=list)


def at_once(sides: list[Side], label: str, path: Path, clients: int, seconds: float, lines: int,
            start: int = 0, keep: bool = True) -> None:
    """One wrk per side, started together; each result appended to its side's runs if `keep`."""
    results: dict[str, object] = {}

    def one(side: Side) -> None:
        results[side.name] = run_wrk(f"{label} {side.name}", side.server.base, path, side.sources, clients,
                                     seconds, lines, side.server, side.db, start=start)

    threads = [threading.Thread(target=one, args=(side,)) for side in sides]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    missing = [side.name for side in sides if side.name not in results]
    if missing:
        raise RuntimeError(f"wrk failed for {', '.join(missing)}")
    if keep:
        for side in sides:
            side.runs.append(results[side.name])


def cpu(run) -> float:
    return run.extra.get("server_cpu_ms_per_request", 0.0) + run.extra.get("postgres_cpu_ms_per_request", 0.0)


def cpu_detail(run) -> str:
    """CPU ms per request: workers (+ PostgreSQL's backends)."""
    workers = run.extra.get("server_cpu_ms_per_request", 0.0)
    backends = run.extra.get("postgres_cpu_ms_per_request")
    return f"{workers:.2f}" + (f" + {backends:.2f}" if backends is not None else "") + " ms CPU"


def main() -> int:
    args = parse_args()
    ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="crm-bench-ab-"))
    other_root = work / "other"
    commit = subprocess.run(["git", "rev-parse", "--short", args.against], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    window = int(max(2000, 3000 * args.seconds))
    warm, peak = work / "warm.tsv", work / "peak.tsv"
    generate(warm, int(max(2000, 5000 * args.warmup)), 0, seed=100, form_format=args.format)
    kinds = generate(peak, window * args.rounds, 1, seed=101, form_format=args.format)
    sides = [Side(f"HEAD {head}", ROOT), Side(commit, other_root)]
    log(f"request mix: {kinds}")
    log(f"{args.database}, form_format {args.format}: {args.workers} workers per server, {args.clients} "
        f"connections each, {args.rounds} rounds of {args.seconds:g} s, both servers at once")
    report: dict = {"head": head, "against": commit, "database": args.database, "format": args.format,
                    "workers": args.workers, "clients": args.clients, "seconds": args.seconds}
    ok = True
    try:
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(other_root), commit], cwd=ROOT,
                       check=True)
        for side in sides:
            side.db = Database.create(args.database, "ab")
            side.server, side.sources = serve_workload(side.db, args.workers, work / f"{side.name}.log",
                                                       args.format, root=side.root)
        at_once(sides, "warm-up", warm, args.clients, args.warmup, int(max(2000, 5000 * args.warmup)),
                keep=False)
        ratios = []
        for r in range(args.rounds):
            at_once(sides, f"round {r + 1}", peak, args.clients, args.seconds, window, start=r * window)
            mine, theirs = sides[0].runs[-1], sides[1].runs[-1]
            ratios.append(mine.rps / theirs.rps)
            log(f"round {r + 1}: {sides[0].name} {mine.rps:7.1f} req/s ({cpu_detail(mine)}), "
                f"{sides[1].name} {theirs.rps:7.1f} req/s ({cpu_detail(theirs)}): "
                f"throughput {ratios[-1] - 1:+.1%}, CPU per request {cpu(mine) / cpu(theirs) - 1:+.1%}")
        cpu_ratios = [cpu(a) / cpu(b) for a, b in zip(sides[0].runs, sides[1].runs, strict=True)
                      if cpu(a) and cpu(b)]
        errors = {side.name: sum(run.error_count for run in side.runs) + len(side.server.errors_in_log())
                  for side in sides}
        loads = {side.name: check_loads(side.db) for side in sides}
        log(f"\n{sides[0].name} against {sides[1].name}: throughput {statistics.median(ratios) - 1:+.1%} "
            f"(median of {len(ratios)} rounds: {', '.join(f'{x - 1:+.1%}' for x in ratios)})")
        if cpu_ratios:
            log(f"CPU per request {statistics.median(cpu_ratios) - 1:+.1%} (median; workers"
                f"{' and PostgreSQL' if args.database == 'postgresql' else ''})")
        for side in sides:
            held, detail = loads[side.name]
            ok &= held and errors[side.name] == 0
            log(f"{side.name}: errors {errors[side.name]}; max_load: {detail}")
        report.update({
            "ratio": statistics.median(ratios), "ratios": ratios,
            "cpu_ratio": statistics.median(cpu_ratios) if cpu_ratios else None,
            "rps": {side.name: [run.rps for run in side.runs] for side in sides}, "errors": errors,
        })
    finally:
        for side in sides:
            if side.server is not None:
                side.server.stop()
            if side.db is not None:
                side.db.drop()
        subprocess.run(["git", "worktree", "remove", "--force", str(other_root)], cwd=ROOT, check=False)
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        log(f"figures written to {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
