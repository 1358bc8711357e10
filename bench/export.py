"""bench/export: stream the CSV exports of 100,000 contacts through gunicorn and report peak memory.

Run `bench/export` (or `.venv/bin/python bench/export.py`); `--help` for
options. For each database (SQLite, then PostgreSQL in a throw-away
database) it starts `gunicorn -c gunicorn.conf.py wsgi:app` with one sync
worker, creates the operators and sources of bench/intake through the API,
bulk-loads the contacts and their leads straight into the database (as
bench/scale does), signs in as a supervisor, then downloads
`/contacts/export.csv` and `/leads/export.csv`, reading the response as it
arrives and counting CSV records, and prints rows, seconds, MB and the
worker's peak resident set (VmHWM).

The peak is reset (`/proc/<pid>/clear_refs`) after the sign-in, whose
argon2id check alone takes 64 MiB for a moment: what is printed is the
worker's footprint while it serves the exports, which is what the target
(under 100 MB) is about. The RSS before the first export is printed too.
Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import csv
import http.client
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import Api, Database, app_env, create_workload, free_port, log, prepare_database, start_server
from scale import Client, bulk_load

TARGET_MB = 100


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--contacts", type=int, default=100_000, help="contacts to load (100,000)")
    p.add_argument("--databases", default="sqlite,postgresql", help="comma-separated (both)")
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return p.parse_args()


def rss_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(pid: int) -> bool:
    """Set VmHWM back to the current RSS (Linux 4.0+); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def download(port: int, cookie: str, path: str) -> dict:
    """GET `path`, counting CSV records as the bytes arrive (never the whole body in memory here either)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("GET", path, headers={"Cookie": cookie})
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {response.read()[:300]!r}")
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    size = 0

    def text():
        # Whole lines only, split at "\n" (a chunk may end inside "\r\n" or a quoted field).
        nonlocal size
        rest = ""
        while chunk := response.read(64 * 1024):
            size += len(chunk)
            *lines, rest = (rest + decoder.decode(chunk)).split("\n")
            yield from (line + "\n" for line in lines)
        rest += decoder.decode(b"", final=True)
        if rest:
            yield rest

    records = sum(1 for _ in csv.reader(text()))
    conn.close()
    return {
        "path": path,
        "rows": records - 1,  # the header
        "seconds": time.perf_counter() - started,
        "mb": size / 1e6,
        "content_type": response.getheader("Content-Type"),
        "disposition": response.getheader("Content-Disposition"),
    }


def run_database(kind: str, contacts: int, work: Path) -> dict:
    db = Database.create(kind, "export")
    server = None
    try:
        token = prepare_database(db)
        port = free_port()
        server = start_server("wsgi:app", app_env(db, port, 1), port, 1, work / f"{kind}.log")
        create_workload(Api(server.base, token))
        info = bulk_load(db, contacts)
        log(f"{kind}: {info['contacts']:,} contacts, {info['leads']:,} leads "
            f"loaded in {info['load_s']:.1f} s")
        client = Client(port)
        client.sign_in()
        [worker] = server.find_workers()
        reset = reset_peak(worker)
        before = rss_mb(worker, "VmRSS")
        results = []
        for path in ("/contacts/export.csv", "/leads/export.csv"):
            result = download(port, client.cookie, path)
            result["peak_rss_mb"] = rss_mb(worker, "VmHWM")
            results.append(result)
            log(f"  {path:<22} {result['rows']:>9,} rows  {result['seconds']:6.2f} s  "
                f"{result['mb']:6.1f} MB  {result['rows'] / result['seconds']:>9,.0f} rows/s  "
                f"worker peak RSS {result['peak_rss_mb']:.0f} MB")
        errors = server.errors_in_log()
        peak = max(r["peak_rss_mb"] for r in results)
        verdict = "met" if peak < TARGET_MB else "MISSED"
        log(f"  worker RSS before the exports {before:.0f} MB (peak reset after sign-in: {reset}); "
            f"peak while exporting {peak:.0f} MB, target < {TARGET_MB} MB: {verdict}")
        if errors:
            log(f"  PROBLEM in the server log: {errors[:3]}")
        return {"database": kind, "contacts": info["contacts"], "leads": info["leads"],
                "rss_before_mb": before, "peak_reset": reset, "exports": results, "peak_rss_mb": peak,
                "log_errors": errors}
    finally:
        if server is not None:
            server.stop()
        db.drop()


def main() -> int:
    args = parse_args()
    work = Path(tempfile.mkdtemp(prefix="crm-bench-export-"))
    figures = []
    try:
        for kind in [k.strip() for k in args.databases.split(",") if k.strip()]:
            figures.append(run_database(kind, args.contacts, work))
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    expected = {"/contacts/export.csv": args.contacts}
    ok = all(
        f["peak_rss_mb"] < TARGET_MB and not f["log_errors"]
        and all(r["rows"] == expected.get(r["path"], r["rows"]) for r in f["exports"])
        for f in figures
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
