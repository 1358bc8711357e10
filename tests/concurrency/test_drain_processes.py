"""Several `flask crm drain-queue` processes at once, on the same database.

Processes, not threads: each has its own connection pool, as drainers on
several workers or hosts would. Each process loads the app, then waits at a
gate (a file the test creates once all are ready) and runs the command
with `--limit 60`: they start draining together, and the 180 free places
need at least three of them. No contact may be assigned twice, no operator
pass its max_load, and the oldest contacts go first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from crm_web.core.extensions import db

ROOT = Path(__file__).resolve().parents[2]
DRAINERS = 4
LIMIT = 60
# Load the app, say so, wait for the gate, then run the CLI command in this process.
DRAINER = """
import sys, time
from pathlib import Path
from wsgi import app
ready, gate = Path(sys.argv[1]), Path(sys.argv[2])
runner = app.test_cli_runner()
ready.touch()
while not gate.exists():
    time.sleep(0.005)
result = runner.invoke(args=["crm", "drain-queue", "--limit", sys.argv[3]])
print(result.output, end="")
sys.exit(result.exit_code)
"""


def test_concurrent_drain_processes(app, factory, sql, tmp_path):
    from crm_web.domain.identifiers import ContactInput, Identifiers
    from crm_web.services.intake import register_contact
    from crm_web.services.operators import update_operator

    operators = [factory.operator(f"Op {i}", max_load=0) for i in range(3)]
    source = factory.source("Site", weights={op: i + 1 for i, op in enumerate(operators)})
    with app.app_context():
        for i in range(400):
            data = ContactInput(Identifiers(phone=f"+7999{i:07d}"))
            register_contact(db.session, source, data, app.extensions["crm_rng"])
        for op in operators:
            update_operator(db.session, op.id, {"max_load": 60})  # 180 places for 400 contacts
        db.session.remove()

    env = {
        **os.environ,
        "FLASK_APP": "wsgi",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "test",
        "CRM_PASSWORD_PROFILE": "test",
    }
    gate = tmp_path / "go"
    processes = []
    for i in range(DRAINERS):
        command = [sys.executable, "-c", DRAINER, str(tmp_path / f"ready-{i}"), str(gate), str(LIMIT)]
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        processes.append(subprocess.Popen(command, cwd=ROOT, env=env, **pipes))
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{i}").exists() for i in range(DRAINERS)):
        started = time.monotonic() < deadline and all(p.poll() is None for p in processes)
        assert started, "a drainer did not start"
        time.sleep(0.01)
    gate.touch()
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs

    per_process = [int(out.split("Assigned ")[1].split(" ")[0]) for out, _ in outputs]
    assert max(per_process) <= LIMIT, per_process
    assigned = sum(per_process)
    assert assigned == 180
    rows = sql("SELECT id, operator_id FROM contacts ORDER BY created_at, id")
    taken = [r.operator_id for r in rows]
    assert all(op is not None for op in taken[:180]) and all(op is None for op in taken[180:])  # oldest first
    loads = sql(
        "SELECT o.id, o.active_load, o.max_load, "
        "(SELECT COUNT(*) FROM contacts c WHERE c.operator_id = o.id AND c.is_active) AS counted "
        "FROM operators o"
    )
    assert all(r.active_load == r.counted == r.max_load == 60 for r in loads)
    audits = sql("SELECT subject_id FROM audit_events WHERE action = 'contact.assigned'")
    assert len(audits) == len({r.subject_id for r in audits}) == 180  # one assignment per contact
