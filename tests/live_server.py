"""A real gunicorn server over a given database, for the tests that need one and for scripts.

The app is served as in production (`gunicorn -c gunicorn.conf.py wsgi:app`)
on a free port of 127.0.0.1. Its stderr (gunicorn and app errors) and stdout
(the access log) go to files under `log_dir`, so that a failure can show
what the server said. No pytest here: `scripts/screenshots.py` uses it too;
a server that does not start raises `ServerError` with the tail of its log.

With `access_log_format=PID_ACCESS_LOG` each access-log line is
"<worker pid> <method> <path> <status>", which `LiveServer.access_log`
reads back: the race tests see which worker served what.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
START_TIMEOUT = 30.0
TAIL_LINES = 80
# Settings of the developer's shell that must not leak into a test server.
CLEARED_ENV = ("RATELIMIT_STORAGE_URI", "GUNICORN_THREADS", "GUNICORN_ACCESS_LOG", "CRM_PUBLIC_URL")
# "<worker pid> <method> <path> <status>" on each access-log line (gunicorn writes "<pid>").
PID_ACCESS_LOG = "%(p)s %(m)s %(U)s %(s)s"
COMMAND_APP = [str(GUNICORN), "-c", "gunicorn.conf.py", "wsgi:app"]
COMMAND_STREAM = [str(GUNICORN), "-c", "stream.conf.py"]  # the live stream (crm_web/live_stream.py)
PID_ACCESS_LINE = re.compile(r"^<(\d+)> (\S+) (\S+) (\d{3})$")


class ServerError(RuntimeError):
    """gunicorn exited or did not answer /healthz in time."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no output)"
    return "\n".join(content[-lines:]) or "(no output)"


@dataclass
class LiveServer:
    """One running gunicorn master with its workers."""

    process: subprocess.Popen
    base_url: str
    stderr_path: Path
    stdout_path: Path
    workers: int

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stderr_tail(self, lines: int = TAIL_LINES) -> str:
        return tail(self.stderr_path, lines)

    def booted_workers(self) -> set[str]:
        return set(re.findall(r"Booting worker with pid: (\d+)", self.stderr()))

    def access_log(
        self, path_prefix: str = "/", wait_for: int = 0, *, exact: bool = False
    ) -> list[tuple[int, str, str, int]]:
        """(worker pid, method, path, status) of the requests served so far, oldest first.

        Needs a server started with `access_log_format=PID_ACCESS_LOG`. Only paths
        that start with `path_prefix` (that equal it, when `exact`) count. A worker
        writes its line just after the answer; wait up to a few seconds until at
        least `wait_for` matching lines are there.
        """
        deadline = time.monotonic() + 5
        while True:
            entries = []
            for line in self.stdout_path.read_text(errors="replace").splitlines():
                match = PID_ACCESS_LINE.match(line.strip())
                if match is None:
                    continue
                pid, method, path, status = match.groups()
                if path == path_prefix or (not exact and path.startswith(path_prefix)):
                    entries.append((int(pid), method, path, int(status)))
            if len(entries) >= wait_for or time.monotonic() > deadline:
                return entries
            time.sleep(0.05)

    def server_errors(self) -> list[str]:
        """Lines of the server's stderr that tell of a failure."""
        patterns = ("Traceback", "database is locked", "Exception on", "[ERROR]", "WORKER TIMEOUT")
        lines = self.stderr().splitlines()
        # After the master's quick shutdown (SIGINT, stop()) a worker may be cut off mid-answer
        # (a browser's last favicon fetch): gunicorn logs that as an error of its own, not the app's.
        for i, line in enumerate(lines):
            if "Handling signal: int" in line:
                lines = lines[:i]
                break
        return [line for line in lines if any(p in line for p in patterns)]

    def terminate(self) -> None:
        """Ask for gunicorn's quick shutdown (SIGINT) without waiting for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def wait(self, timeout: float = 15) -> None:
        """Wait for the master to exit (it reaps its workers); kill it if it hangs."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for pid in self.booted_workers():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            self.process.kill()
            self.process.wait(timeout=5)

    def stop(self, timeout: float = 15) -> None:
        """Quick shutdown (SIGINT), then wait for the master; kill it if it hangs."""
        self.terminate()
        self.wait(timeout)


def start_server(
    database_url: str,
    log_dir: Path,
    *,
    workers: int = 2,
    secret_key: str = "live-server-test-secret",
    env: dict[str, str] | None = None,
    access_log_format: str | None = None,
    stream: bool = False,
) -> LiveServer:
    """Start gunicorn over `database_url` (already migrated) and wait until it answers.

    `env` is added to the server's environment last; `access_log_format` replaces
    gunicorn's (see `PID_ACCESS_LOG`). `stream`: the live stream (stream.conf.py), one
    worker, instead of the app.
    """
    # No control socket: gunicorn 27 puts it at one fixed path per user (shared
    # with any other gunicorn running), and stopping it costs up to 2 s.
    gunicorn_args = "--no-control-socket"
    if access_log_format:
        gunicorn_args += f" --access-logformat '{access_log_format}'"
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    full_env.update(
        {
            "CRM_LIVE_BIND" if stream else "CRM_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(workers),
            "DATABASE_URL": database_url,
            "SECRET_KEY": secret_key,
            "CRM_WEBHOOK_RATE_LIMIT": "",
            "CRM_PHONE_REGION": "RU",
            "PYTHONUNBUFFERED": "1",
            "GUNICORN_CMD_ARGS": gunicorn_args,
        }
    )
    full_env.update(env or {})
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = f"{port}-{time.monotonic_ns()}"
    stderr_path = log_dir / f"gunicorn-{stamp}.stderr.log"
    stdout_path = log_dir / f"gunicorn-{stamp}.stdout.log"
    with open(stderr_path, "wb") as err, open(stdout_path, "wb") as out:
        process = subprocess.Popen(
            COMMAND_STREAM if stream else COMMAND_APP,
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    server = LiveServer(process, url, stderr_path, stdout_path, 1 if stream else workers)
    deadline = time.monotonic() + START_TIMEOUT
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(
                f"gunicorn exited with {process.returncode} before answering /healthz.\n"
                f"--- gunicorn stderr (tail, {stderr_path}) ---\n{server.stderr_tail()}"
            )
        try:
            with urllib.request.urlopen(server.url("/healthz"), timeout=2) as answer:
                if answer.status == 200 and len(server.booted_workers()) >= server.workers:
                    return server
                last_error = f"/healthz answered {answer.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = repr(exc)
        time.sleep(0.1)
    server.stop()
    raise ServerError(
        f"gunicorn did not become ready within {START_TIMEOUT:.0f}s ({last_error}).\n"
        f"--- gunicorn stderr (tail, {stderr_path}) ---\n{server.stderr_tail()}"
    )
