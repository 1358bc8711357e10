"""bench/intake: webhook throughput and latency against a trivial Flask baseline.

Run `bench/intake` (or `.venv/bin/python bench/intake.py`); `--help` for
options. For each database (SQLite, then PostgreSQL in a throw-away
database) it starts `gunicorn -c gunicorn.conf.py wsgi:app` with the same
number of workers as the baseline, creates 20 operators and 5 sources with
weight tables through the API, then:

1. warm-up, then peak: wrk with N keep-alive connections for a fixed time,
   replaying a mix of 70 % new clients and 30 % returning ones (by phone or
   email), across sources of which one never has a free operator and one
   runs out of free operators at once;
2. paced: an open-loop client at half the peak rate; p99 from due time;
3. checks that no operator holds more than max_load and that active_load
   matches the active contacts, and reads the workers' peak RSS.

The baseline (bench/baseline_app.py, same gunicorn configuration) answers
the same requests after parsing the JSON body; intake is printed as a
fraction of it. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from common import (
    ROOT,
    Api,
    Database,
    app_env,
    check_loads,
    create_workload,
    free_port,
    gunicorn_settings,
    log,
    prepare_database,
    start_server,
)
from loadgen import ensure_wrk, generate, read_requests, run_paced, run_wrk

TARGET_FRACTION = 0.20
TARGET_P99_MS = 25.0
TARGET_RSS_MB = 150.0


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers for every run (default 2)")
    p.add_argument("--clients", type=int, default=16, help="concurrent keep-alive connections (16)")
    p.add_argument("--seconds", type=float, default=15, help="length of each peak run (15)")
    p.add_argument("--paced-seconds", type=float, default=10, help="length of the paced run (10)")
    p.add_argument("--warmup", type=float, default=3, help="warm-up before each peak run (3)")
    p.add_argument("--databases", default="sqlite,postgresql", help="comma-separated (both)")
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return p.parse_args()


def fmt_errors(errors: dict) -> str:
    return "0" if not errors else ", ".join(f"{k} {v}" for k, v in errors.items())


def show(result, baseline_rps: float | None = None) -> None:
    line = (
        f"  {result.label:<22} {result.rps:8.1f} req/s  p50 {result.p50_ms:6.2f} ms  "
        f"p95 {result.p95_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  max {result.max_ms:7.1f} ms  "
        f"errors {fmt_errors(result.errors)}"
    )
    if baseline_rps:
        line += f"  = {result.rps / baseline_rps:.1%} of baseline"
    log(line)
    for key, value in result.extra.items():
        log(f"    {key}: {value:.2f}" if isinstance(value, float) else f"    {key}: {value}")


def show_rss(rss: dict[int, float]) -> float:
    peak = max(rss.values()) if rss else float("nan")
    log(f"  worker peak RSS (VmHWM): {', '.join(f'{v:.1f} MB' for v in rss.values())}; max {peak:.1f} MB")
    return peak


def main() -> int:
    args = parse_args()
    ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="crm-bench-intake-"))
    # Enough requests that the peak run never wraps around at these rates.
    peak_lines = int(max(4000, 5000 * args.seconds))
    files = {
        "warm": (work / "warm.tsv", int(max(2000, 5000 * args.warmup)), 0),
        "peak": (work / "peak.tsv", peak_lines, 1),
        "paced": (work / "paced.tsv", int(max(2000, 2500 * args.paced_seconds)), 2),
    }
    for name, (path, count, phase) in files.items():
        kinds = generate(path, count, phase, seed=100 + phase)
        if name == "peak":
            log(f"request mix: {kinds}")
    settings = gunicorn_settings(app_env(Database("sqlite", "", work), 0, args.workers))
    log(f"gunicorn: {settings}; {args.clients} connections; peak {args.seconds:g} s, "
        f"paced {args.paced_seconds:g} s at half the peak rate")
    report: dict = {"settings": settings, "clients": args.clients, "seconds": args.seconds}

    # --- baseline ---
    log("\n[baseline] bench/baseline_app.py")
    port = free_port()
    env = app_env(Database("sqlite", "", work), port, args.workers)
    server = start_server("baseline_app:app", env, port, args.workers, work / "baseline.log",
                          pythonpath=str(ROOT / "bench"))
    fake_sources = create_fake_sources()
    try:
        run_wrk("warm-up", server.base, files["warm"][0], fake_sources, args.clients, args.warmup,
                files["warm"][1])
        base = run_wrk("peak", server.base, files["peak"][0], fake_sources, args.clients,
                       args.seconds, peak_lines, server)
        show(base)
        rss = server.peak_rss_mb()
    finally:
        server.stop()
    base_rss = show_rss(rss)
    report["baseline"] = {"rps": base.rps, "p50_ms": base.p50_ms, "p99_ms": base.p99_ms,
                          "errors": base.errors, "rss_mb": base_rss,
                          "cpu_ms": base.extra.get("server_cpu_ms_per_request")}

    ok = True
    for kind in args.databases.split(","):
        ok &= bench_database(kind, args, files, work, base.rps, report)

    log("\nsummary")
    log(f"  baseline            {base.rps:8.1f} req/s; server CPU "
        f"{report['baseline']['cpu_ms']:.2f} ms/request")
    for kind in args.databases.split(","):
        r = report.get(kind)
        if not r:
            continue
        log(
            f"  {kind:<19} {r['rps']:8.1f} req/s = {r['fraction']:.1%} of baseline "
            f"(target >= {TARGET_FRACTION:.0%}); p99 at {r['paced_rate']:.0f} req/s: "
            f"{r['paced_p99_ms']:.1f} ms (target < {TARGET_P99_MS:g}); errors {r['errors']}; "
            f"max_load held: {'yes' if r['max_load_held'] else 'NO'}; worker RSS {r['rss_mb']:.1f} MB; "
            f"server CPU {r['cpu_ms']:.2f} ms/request"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        log(f"figures written to {args.json}")
    return 0 if ok else 1


def create_fake_sources():
    from common import SOURCES, SourceInfo

    return [SourceInfo(i + 1, key, "baseline") for i, (_, key, _) in enumerate(SOURCES)]


def bench_database(kind: str, args, files, work: Path, baseline_rps: float, report: dict) -> bool:
    log(f"\n[{kind}] wsgi:app")
    started = time.monotonic()
    db = Database.create(kind, "intake")
    server = None
    try:
        token = prepare_database(db)
        port = free_port()
        env = app_env(db, port, args.workers)
        server = start_server("wsgi:app", env, port, args.workers, work / f"{kind}.log")
        sources = create_workload(Api(server.base, token))
        log(f"  set up in {time.monotonic() - started:.1f} s: 20 operators, 5 sources with weight tables")
        run_wrk("warm-up", server.base, files["warm"][0], sources, args.clients, args.warmup,
                files["warm"][1])
        peak = run_wrk("peak", server.base, files["peak"][0], sources, args.clients, args.seconds,
                       files["peak"][1], server, db)
        show(peak, baseline_rps)
        paced = run_paced(
            "paced (half peak)", port, read_requests(files["paced"][0]), sources,
            rate=max(1.0, peak.rps / 2), seconds=args.paced_seconds,
        )
        show(paced)
        rss = server.peak_rss_mb()
        server.stop()
        log_errors = server.errors_in_log()
        held, detail = check_loads(db)
        log(f"  max_load: {detail}")
        if log_errors:
            log(f"  server log: {len(log_errors)} error lines, first: {log_errors[0]}")
        peak_rss = show_rss(rss)
        errors = peak.error_count + paced.error_count + len(log_errors)
        report[kind] = {
            "rps": peak.rps, "p50_ms": peak.p50_ms, "p95_ms": peak.p95_ms, "p99_ms": peak.p99_ms,
            "fraction": peak.rps / baseline_rps, "paced_rate": paced.extra["rate"],
            "paced_p50_ms": paced.p50_ms, "paced_p99_ms": paced.p99_ms,
            "errors": errors, "max_load_held": held, "rss_mb": peak_rss,
            "cpu_ms": peak.extra.get("server_cpu_ms_per_request"),
        }
        return held and errors == 0
    finally:
        if server is not None:
            server.stop()
        db.drop()


if __name__ == "__main__":
    sys.exit(main())
