"""bench/faults --short: a worker SIGKILLed under webhook load, nothing lost, nothing twice.

Runs the fault script as a user would (its one command), on a throw-away
PostgreSQL database; the full run (which also stops and restarts
PostgreSQL) is for a person to run, never CI.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_short_fault_run_loses_nothing(tmp_path):
    figures_path = tmp_path / "faults.json"
    run = subprocess.run(
        [str(ROOT / "bench" / "faults"), "--short", "--clients", "20", "--seconds", "8",
         "--json", str(figures_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = run.stdout + run.stderr
    assert figures_path.exists(), output[-3000:]
    figures = json.loads(figures_path.read_text())
    assert run.returncode == 0, output[-3000:]
    assert figures["mode"] == "short"
    assert all(figures["checks"].values()), figures["checks"]
    assert figures["submissions"] >= 20, figures
    assert figures["lost"] == []
    assert figures["stored_keys"] == figures["contacts"] == figures["submissions"]
    assert figures["answered_201"] + figures["answered_200_replay"] == figures["submissions"]
    assert figures["duplicate_contacts"] == 0 and figures["missing_keys"] == []
    assert figures["five_xx"] == 0  # no database outage in the short run: no 5xx at all
    kill = figures["events"]["worker_kill"]
    assert kill["replaced"] and kill["replaced_by"] and kill["killed_pid"] not in kill["replaced_by"]
    assert "postgresql" not in figures["events"]
    assert figures["healthz"] == {"A": 200, "B": 200}
    assert "PASSED" in run.stdout
