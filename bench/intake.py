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

With `--formats standard,site_form` (the default) each database is served
twice, each on a database of its own: once with `standard` sources posted
JSON as above, once with `site_form` sources posted the same people as a
Tilda form sends them (urlencoded `Name`, `Phone`, `Email`, `Comments`,
`tranid`, `formid`, the UTM cookie in `COOKIES`).

The baseline (bench/baseline_app.py, same gunicorn configuration) answers
the same requests after parsing the JSON body; intake is printed as a
fraction of it. The machine may be shared, so the three servers run side by
side and their peak runs are interleaved (baseline, SQLite, PostgreSQL, then
again): each fraction is taken against the baseline run of the same round,
and the medians are printed. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    ROOT,
    Database,
    app_env,
    check_loads,
    default_workers,
    free_port,
    gunicorn_settings,
    log,
    serve_workload,
    start_server,
)
from loadgen import ensure_wrk, generate, read_requests, run_paced, run_wrk

TARGET_FRACTION = 0.20
TARGET_P99_MS = 25.0
TARGET_RSS_MB = 150.0
TARGET_FORMAT_RATIO = 0.75  # a site_form source's throughput against a standard one's


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, help="gunicorn workers per server (gunicorn.conf.py: 2 per core)")
    p.add_argument("--clients", type=int, default=16, help="concurrent keep-alive connections (16)")
    p.add_argument("--seconds", type=float, default=10, help="length of each peak run (10)")
    p.add_argument("--rounds", type=int, default=3, help="peak runs per server, interleaved (3)")
    p.add_argument("--paced-seconds", type=float, default=10, help="length of the paced run (10)")
    p.add_argument("--warmup", type=float, default=3, help="warm-up of each server (3)")
    p.add_argument("--databases", default="sqlite,postgresql", help="comma-separated (both)")
    p.add_argument("--formats", default="standard,site_form",
                   help="the sources' form_format, comma-separated (both): each its own server and database")
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = p.parse_args()
    args.workers = args.workers or default_workers()
    return args


def fmt_errors(errors: dict) -> str:
    return "0" if not errors else ", ".join(f"{k} {v}" for k, v in errors.items())


def show(result, baseline_rps: float | None = None) -> None:
    line = (
        f"  {result.label:<24} {result.rps:8.1f} req/s  p50 {result.p50_ms:6.2f} ms  "
        f"p95 {result.p95_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  max {result.max_ms:7.1f} ms  "
        f"errors {fmt_errors(result.errors)}"
    )
    if baseline_rps:
        line += f"  = {result.rps / baseline_rps:.1%} of baseline"
    extras = [f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.extra.items()]
    if extras:
        line += "  [" + "; ".join(extras) + "]"
    log(line)


def show_rss(label: str, rss: dict[int, float]) -> float:
    peak = max(rss.values()) if rss else float("nan")
    log(f"  {label}: worker peak RSS (VmHWM) {', '.join(f'{v:.1f} MB' for v in rss.values())}")
    return peak


@dataclass
class Target:
    name: str
    server: object
    sources: list
    db: Database | None = None
    form_format: str = "standard"
    runs: list = field(default_factory=list)
    ratios: list = field(default_factory=list)


def main() -> int:
    args = parse_args()
    ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="crm-bench-intake-"))
    # Each peak run replays its own window of the file: new clients stay new.
    window = int(max(2000, 3000 * args.seconds))
    formats = args.formats.split(",")
    files = {
        form_format: {
            "warm": (work / f"warm-{form_format}.tsv", int(max(2000, 5000 * args.warmup)), 0),
            "peak": (work / f"peak-{form_format}.tsv", window * args.rounds, 1),
            "paced": (work / f"paced-{form_format}.tsv", int(max(2000, 2500 * args.paced_seconds)), 2),
        }
        for form_format in {"standard", *formats}  # the baseline's requests are standard ones
    }
    for form_format, format_files in files.items():
        for name, (path, count, phase) in format_files.items():
            kinds = generate(path, count, phase, seed=100 + phase, form_format=form_format)
            if name == "peak" and form_format == "standard":
                log(f"request mix: {kinds}")
    settings = gunicorn_settings(app_env(Database("sqlite", "", work), 0, args.workers))
    log(f"gunicorn: {settings} for every server; {args.clients} connections; {args.rounds} rounds of "
        f"{args.seconds:g} s per server, interleaved (baseline, then each database, in turn); "
        f"paced runs of {args.paced_seconds:g} s at half the median peak rate")
    report: dict = {"settings": settings, "clients": args.clients, "seconds": args.seconds,
                    "rounds": args.rounds}
    targets: list[Target] = []
    try:
        port = free_port()
        server = start_server("baseline_app:app", app_env(Database("sqlite", "", work), port, args.workers),
                              port, args.workers, work / "baseline.log", pythonpath=str(ROOT / "bench"))
        targets.append(Target("baseline", server, fake_sources()))
        for kind in args.databases.split(","):
            for form_format in formats:
                targets.append(serve(kind, form_format, work, args.workers))
        for t in targets:
            path, lines, _ = files[t.form_format]["warm"]
            run_wrk("warm-up", t.server.base, path, t.sources, args.clients, args.warmup, lines)
        for r in range(args.rounds):
            log(f"\nround {r + 1}")
            for t in targets:
                peak_file = files[t.form_format]["peak"][0]
                result = run_wrk(t.name, t.server.base, peak_file, t.sources, args.clients, args.seconds,
                                 window, t.server, t.db, start=r * window)
                t.runs.append(result)
                base = targets[0].runs[-1].rps
                if t.name != "baseline":
                    t.ratios.append(result.rps / base)
                show(result, None if t.name == "baseline" else base)
        ok = finish(args, targets, files, report)
    finally:
        for t in targets:
            if t.server is not None:
                t.server.stop()
            if t.db is not None:
                t.db.drop()
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        log(f"figures written to {args.json}")
    return 0 if ok else 1


def serve(kind: str, form_format: str, work: Path, workers: int) -> Target:
    """A throw-away database of `kind` served by gunicorn, with the workload's sources in `form_format`."""
    started = time.monotonic()
    name = kind if form_format == "standard" else f"{kind} {form_format}"
    db = Database.create(kind, "intake" if form_format == "standard" else f"intake_{form_format}")
    target = Target(name, None, [], db, form_format)
    try:
        target.server, target.sources = serve_workload(db, workers, work / f"{name.replace(' ', '-')}.log",
                                                       form_format)
    except BaseException:
        db.drop()
        raise
    log(f"[{name}] set up in {time.monotonic() - started:.1f} s: 20 operators, 5 sources "
        f"with weight tables (through the API), form_format {form_format}")
    return target


def median_run(runs):
    return sorted(runs, key=lambda r: r.rps)[len(runs) // 2]


def finish(args, targets: list[Target], files, report: dict) -> bool:
    log("\npaced (open loop, at half the median peak rate)")
    ok = True
    for t in targets[1:]:
        peak = median_run(t.runs)
        paced = run_paced(f"{t.name} paced", t.server.port, read_requests(files[t.form_format]["paced"][0]),
                          t.sources,
                          rate=max(1.0, peak.rps / 2), seconds=args.paced_seconds)
        show(paced)
        t.paced = paced
    log("")
    for t in targets:
        t.rss = show_rss(t.name, t.server.peak_rss_mb())
        t.server.stop()
    base = median_run(targets[0].runs)
    log("\nsummary (medians of the rounds; each ratio against the baseline run of the same round)")
    log(f"  baseline     {base.rps:8.1f} req/s, p99 {base.p99_ms:.1f} ms, server CPU "
        f"{base.extra.get('server_cpu_ms_per_request', float('nan')):.2f} ms/request, "
        f"worker RSS {targets[0].rss:.1f} MB")
    report["baseline"] = {"rps": base.rps, "p50_ms": base.p50_ms, "p99_ms": base.p99_ms,
                          "rps_rounds": [r.rps for r in targets[0].runs], "rss_mb": targets[0].rss,
                          "cpu_ms": base.extra.get("server_cpu_ms_per_request")}
    for t in targets[1:]:
        peak = median_run(t.runs)
        fraction = statistics.median(t.ratios)
        held, detail = check_loads(t.db)
        log_errors = t.server.errors_in_log()
        errors = sum(r.error_count for r in t.runs) + t.paced.error_count + len(log_errors)
        cpu = peak.extra.get("server_cpu_ms_per_request", float("nan"))
        pg_cpu = peak.extra.get("postgres_cpu_ms_per_request")
        log(
            f"  {t.name:<12} {peak.rps:8.1f} req/s = {fraction:.1%} of baseline (target >= "
            f"{TARGET_FRACTION:.0%}; rounds {', '.join(f'{x:.1%}' for x in t.ratios)}); "
            f"peak p50/p95/p99 {peak.p50_ms:.1f}/{peak.p95_ms:.1f}/{peak.p99_ms:.1f} ms; "
            f"p99 at {t.paced.extra['rate']:.0f} req/s: {t.paced.p99_ms:.1f} ms "
            f"(target < {TARGET_P99_MS:g}); "
            f"errors {errors}; worker RSS {t.rss:.1f} MB (target < {TARGET_RSS_MB:g}); "
            f"server CPU {cpu:.2f} ms/request" + (f" + PostgreSQL {pg_cpu:.2f}" if pg_cpu is not None else "")
        )
        log(f"  {'':<12} max_load: {detail}")
        if log_errors:
            log(f"  {'':<12} server log: {len(log_errors)} error lines, first: {log_errors[0]}")
        report[t.name] = {
            "rps": peak.rps, "rps_rounds": [r.rps for r in t.runs], "fraction": fraction,
            "fraction_rounds": t.ratios, "p50_ms": peak.p50_ms, "p95_ms": peak.p95_ms,
            "p99_ms": peak.p99_ms, "paced_rate": t.paced.extra["rate"], "paced_p50_ms": t.paced.p50_ms,
            "paced_p99_ms": t.paced.p99_ms, "errors": errors, "max_load_held": held, "rss_mb": t.rss,
            "cpu_ms": cpu, "postgres_cpu_ms": pg_cpu,
        }
        ok &= held and errors == 0
    for t in targets[1:]:
        same_db = [s for s in targets[1:] if s.db.kind == t.db.kind and s.form_format == "standard"]
        standard = same_db[0] if same_db else None
        if t.form_format == "standard" or standard is None:
            continue
        ratio = statistics.median(t.ratios) / statistics.median(standard.ratios)
        log(f"  {t.name}: {ratio:.1%} of {standard.name}'s throughput (target >= {TARGET_FORMAT_RATIO:.0%})")
        report[t.name]["of_standard"] = ratio
    return ok


def fake_sources():
    from common import SOURCES, SourceInfo

    return [SourceInfo(i + 1, key, "baseline") for i, (_, key, _) in enumerate(SOURCES)]


if __name__ == "__main__":
    sys.exit(main())
