"""Several `flask crm drain-queue` processes at once, on the same database.

Processes, not threads: each has its own connection pool, as drainers on
several workers or hosts would. No contact may be assigned twice, no
operator pass its max_load, and the oldest contacts go first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from crm_web.extensions import db

ROOT = Path(__file__).resolve().parents[2]
DRAINERS = 4


def test_concurrent_drain_processes(app, factory, sql):
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
    flask = [sys.executable, "-m", "flask", "crm", "drain-queue"]
    processes = [
        subprocess.Popen(flask, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(DRAINERS)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs

    per_process = [int(out.split("Assigned ")[1].split(" ")[0]) for out, _ in outputs]
    assert sum(1 for n in per_process if n) >= 2, per_process  # they did run side by side
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
