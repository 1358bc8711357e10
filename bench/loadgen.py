"""The webhook request mix, wrk runs, and an open-loop (paced) asyncio client.

Peak throughput is measured with wrk (C, epoll; Debian's package): a Python
client on this 2-core machine would eat the CPU the server needs and report
its own limit. wrk is closed-loop, so at a fixed rate the bench uses the
paced client below instead: requests are sent on a fixed schedule whatever
the server does, and each latency is counted from the moment the request
was *due*, not from when it was sent (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

from common import SOURCE_SHARES, SourceInfo, log, percentile

LUA = Path(__file__).resolve().parent / "intake.lua"

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
# The UTM cookie Tilda's script keeps (TILDAUTM) inside the COOKIES field it posts (docs/senders/tilda.md).
TILDA_COOKIES = (
    "_ga=GA1.2.1736453127.1764900000; TILDAUTM="
    + quote("utm_source=yandex|||utm_medium=cpc|||utm_campaign=winter-sale|||", safe="")
    + "; _ym_uid=1764900000123456789"
)
NEW_SHARE = 0.70
FIRST_NAMES = ("Ivan", "Anna", "Olga", "Petr", "Maria", "Sergey", "Elena", "Dmitry", "Irina", "Pavel")
MESSAGES = (
    "Please call me back about the order.",
    "Do you deliver on Saturdays?",
    "I would like a quote for 20 units.",
    "Where is my parcel? Order 4711.",
    "Interested in the annual plan, what discounts are there?",
)


def _phone(phase: int, n: int, style: int) -> str:
    digits = f"9{phase}{n:08d}"
    if style == 0:
        return f"+7 {digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}"
    if style == 1:
        return f"8 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}"
    return f"7{digits}"


def generate(path: Path, count: int, phase: int, seed: int, form_format: str = "standard") -> dict[str, int]:
    """Write `count` webhook requests (source, content type, body): 70 % new clients,
    30 % returning ones.

    A new client brings a phone (and usually an email, name and message);
    a returning one comes back by phone or by email written differently
    (another phone format, upper-case email), sometimes with an email the
    lead did not have yet (filled in). Returning clients are drawn from new
    ones at least 100 requests earlier, so they have been seen already.
    `phase` keeps phones and emails of different runs apart. `site_form`:
    the same people as a Tilda form posts them (urlencoded `Name`, `Phone`,
    `Email`, `Comments`, `tranid`, `formid`, the UTM cookie in `COOKIES`).
    """
    rng = random.Random(seed)
    seen: list[tuple[str, str | None]] = []
    kinds: Counter[str] = Counter()
    with path.open("w") as out:
        for i in range(count):
            source = rng.choices(range(len(SOURCE_SHARES)), SOURCE_SHARES)[0]
            name = rng.choice(FIRST_NAMES)
            if len(seen) > 100 and rng.random() >= NEW_SHARE:
                phone, email = seen[rng.randrange(len(seen) - 100)]
                roll = rng.random()
                if roll < 0.5 or email is None:
                    kind, body = "returning_by_phone", {"phone": phone.replace("+7 ", "8 ")}
                    if email is None and roll < 0.3:
                        kind = "returning_fills_email"
                        body["email"] = f"late{phase}-{i}@example.com"
                else:
                    kind, body = "returning_by_email", {"email": email.upper()}
                body["name"] = name
                body["message"] = rng.choice(MESSAGES)
            else:
                phone = _phone(phase, i, rng.randrange(3))
                email = f"client{phase}-{i}@example.com" if rng.random() < 0.85 else None
                kind, body = "new", {"phone": phone, "name": f"{name} {i}", "message": rng.choice(MESSAGES)}
                if email:
                    body["email"] = email
                seen.append((phone, email))
            kinds[kind] += 1
            if form_format == "site_form":
                out.write(f"{source}\t{FORM}\t{tilda_body(body, f'{phase}{seed}:{i}')}\n")
            else:
                out.write(f"{source}\t{JSON}\t{json.dumps(body)}\n")
    return dict(kinds)


def tilda_body(fields: dict, tranid: str) -> str:
    names = {"name": "Name", "phone": "Phone", "email": "Email", "message": "Comments"}
    pairs = [(names[k], v) for k, v in fields.items()]
    pairs += [("tranid", tranid), ("formid", "form713894520"), ("COOKIES", TILDA_COOKIES)]
    return urlencode(pairs)


def read_requests(path: Path) -> list[tuple[int, str, bytes]]:
    result = []
    for line in path.read_text().splitlines():
        source, content_type, body = line.split("\t", 2)
        result.append((int(source), content_type, body.encode()))
    return result


# --- wrk (closed loop, peak) -------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk not found: installing Debian's package (apt-get install -y wrk)")
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk could not be installed")
    return found


@dataclass
class RunResult:
    label: str
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def run_wrk(label: str, base: str, path: Path, sources: list[SourceInfo], clients: int,
            seconds: float, lines: int, server=None, db=None, start: int = 0) -> RunResult:
    """`lines` requests of the file are this run's, from line `start`."""
    args = [ensure_wrk(), "-t1", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "10s",
            "-s", str(LUA), base + "/", "--", str(path), str(start)]
    for s in sources:
        args += [s.key, s.token]
    cpu_before = server.cpu_seconds() if server else 0.0
    db_before = db.backend_cpu_seconds() if db else 0.0
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    cpu = server.cpu_seconds() - cpu_before if server else 0.0
    db_cpu = db.backend_cpu_seconds() - db_before if db else 0.0
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed:\n{out.stdout}\n{out.stderr}")
    d = json.loads(line.removeprefix("WRK_JSON "))
    errors = {k: d[k] for k in ("connect", "read", "write", "status", "timeout") if d[k]}
    result = RunResult(
        label, d["requests"], d["duration_us"] / 1e6, d["p50_us"] / 1e3, d["p95_us"] / 1e3,
        d["p99_us"] / 1e3, d["max_us"] / 1e3, errors,
    )
    if server and d["requests"]:
        # Less sensitive to other load on the machine than requests/s.
        result.extra["server_cpu_ms_per_request"] = cpu * 1000 / d["requests"]
    if db and db.pg_name and d["requests"]:
        result.extra["postgres_cpu_ms_per_request"] = db_cpu * 1000 / d["requests"]
    if d["requests"] > lines:
        result.extra["note"] = f"more requests than new lines for them ({d['requests']} > {lines})"
    return result


# --- paced, open-loop client -------------------------------------------------


def _raw_requests(
    requests: list[tuple[int, str, bytes]], sources: list[SourceInfo], port: int
) -> list[bytes]:
    heads = [
        f"POST /webhooks/{s.key} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Webhook-Token: {s.token}\r\n"
        for s in sources
    ]
    return [
        f"{heads[src]}Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        for src, content_type, body in requests
    ]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length, keep = 0, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
    if length:
        await reader.readexactly(length)
    return status, keep


async def _paced(raw: list[bytes], port: int, rate: float, seconds: float) -> dict:
    loop = asyncio.get_running_loop()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    lag: list[float] = []
    total = int(rate * seconds)
    tasks: set[asyncio.Task] = set()

    async def one(index: int, due: float) -> None:
        for attempt in range(2):
            reused = bool(idle) and attempt == 0
            conn = idle.pop() if reused else await asyncio.open_connection("127.0.0.1", port)
            reader, writer = conn
            try:
                writer.write(raw[index % len(raw)])
                status, keep = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError) as exc:
                writer.close()
                if reused:
                    continue  # the server closed an idle keep-alive connection: not an error
                errors[type(exc).__name__] += 1
                return
            latencies.append(loop.time() - due)
            statuses[status] += 1
            if not 200 <= status < 300:
                errors[f"http_{status}"] += 1
            if keep:
                idle.append(conn)
            else:
                writer.close()
            return

    start = loop.time() + 0.05
    for index in range(total):
        due = start + index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        lag.append(max(0.0, loop.time() - due))
        task = asyncio.create_task(one(index, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=30)
    elapsed = loop.time() - start
    for _, writer in idle:
        writer.close()
    return {
        "latencies": latencies, "errors": dict(errors), "statuses": dict(statuses),
        "elapsed": elapsed, "lag_p99": percentile(lag, 99), "sent": total,
    }


def run_paced(label: str, port: int, requests: list[tuple[int, str, bytes]], sources: list[SourceInfo],
              rate: float, seconds: float) -> RunResult:
    raw = _raw_requests(requests, sources, port)
    d = asyncio.run(_paced(raw, port, rate, seconds))
    ms = [x * 1000 for x in d["latencies"]]
    result = RunResult(
        label, len(ms), d["elapsed"], percentile(ms, 50), percentile(ms, 95), percentile(ms, 99),
        max(ms) if ms else float("nan"), d["errors"],
    )
    result.extra.update(rate=rate, scheduler_lag_p99_ms=d["lag_p99"] * 1000, sent=d["sent"])
    return result
