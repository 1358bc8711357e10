"""Changes made from the command line are recorded as made by "cli"."""

from sqlalchemy import select

from crm_web.core.extensions import db
from crm_web.models import AuditEvent


def test_cli_user_and_token_are_audited_as_cli(app, runner):
    created = runner.invoke(args=["users", "create", "ops@example.com", "--role", "supervisor"])
    assert created.exit_code == 0, created.output
    token = runner.invoke(args=["users", "token", "ops@example.com", "--label", "ci"])
    assert token.exit_code == 0, token.output
    secret = token.output.strip().splitlines()[-1]
    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent.action, AuditEvent.actor_label, AuditEvent.details).order_by(AuditEvent.id)
        ).all()
    assert [(r.action, r.actor_label) for r in rows] == [("user.created", "cli"), ("api_token.issued", "cli")]
    assert all(secret not in (r.details or "") for r in rows)  # the token itself never
