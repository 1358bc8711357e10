"""Schemathesis against the live app (gunicorn) on its own OpenAPI document, on both databases.

A bounded, seeded run of the examples, coverage and fuzzing phases over
every documented operation, with a supervisor's API token and a real
source's webhook token: no 5xx, every answer's status, content type and
body as documented.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from tests.api.openapi_check import documented_operations
from tests.conftest import Factory, make_app, wipe
from tests.live_server import ROOT, start_server

ST = ROOT / ".venv" / "bin" / "st"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
SEED = 20261125
TIME_BUDGET = 150  # seconds per database; the runs take about 70 s (PostgreSQL) and 25 s (SQLite)
# PostgreSQL gets the full run; SQLite, whose app code is the same, a shorter one
# (no coverage phase) to keep `make test` within its time.
RUNS = {
    "postgresql": {"phases": "examples,coverage,fuzzing", "max_examples": 30, "min_cases": 1000},
    "sqlite": {"phases": "examples,fuzzing", "max_examples": 15, "min_cases": 250},
}


@pytest.fixture
def live(database_url, tmp_path):
    """gunicorn over a database with a supervisor, operators, a source and a contact."""
    app = make_app(database_url)
    wipe(app)
    factory = Factory(app)
    anna = factory.operator("Anna", max_load=1000)
    boris = factory.operator("Boris", max_load=0)
    # The key is the document's example of source_key: the examples phase posts to it.
    source = factory.source("Site form", key="site-form", weights={anna: 3, boris: 1})
    staff = factory.staff("supervisor")
    server = start_server(database_url, tmp_path / "logs", workers=2)
    try:
        yield server, staff, source
    finally:
        server.stop()


@pytest.mark.slow
def test_schemathesis_finds_nothing(live, database_url, tmp_path):
    server, staff, source = live
    run = RUNS["sqlite" if database_url.startswith("sqlite") else "postgresql"]
    command = [
        str(ST), "run", server.url("/api/v1/openapi.json"),
        "--url", server.base_url,
        "--checks", CHECKS,
        "--phases", run["phases"],
        "--max-examples", str(run["max_examples"]),
        "--seed", str(SEED),
        "--workers", "2",
        "--max-redirects", "0",
        "--request-timeout", "10",
        "--header", f"Authorization: Bearer {staff.token}",
        "--header", f"X-Webhook-Token: {source.webhook_token}",
        "--suppress-health-check", "all",
        "--warnings", "off",
    ]
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=TIME_BUDGET,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NO_COLOR": "1"},
    )
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"schemathesis failed after {elapsed:.0f}s:\n{_tail(output)}"
    assert "No issues found" in output, _tail(output)
    cases = re.search(r"(\d+) generated", output)
    assert cases and int(cases.group(1)) >= run["min_cases"], _tail(output)
    tested = re.search(r"Tested: (\d+)", output)
    # Schemathesis leaves out OPTIONS (the webhook's CORS preflight); every other operation is tested.
    operations = {op for op in documented_operations() if op[1] != "OPTIONS"}
    assert tested and int(tested.group(1)) == len(operations), _tail(output)
    assert not server.server_errors(), "\n".join(server.server_errors()[:20])


def _tail(text: str, lines: int = 150) -> str:
    return "\n".join(text.splitlines()[-lines:])

