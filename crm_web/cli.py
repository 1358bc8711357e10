"""`flask users ...` and `flask crm ...` commands."""

from __future__ import annotations

import secrets

import click
from flask.cli import AppGroup

from .core.actor import Actor, acting_as
from .core.extensions import db
from .domain.errors import ServiceError, ValidationError
from .services.users import create_user, issue_token, require_user, set_password, set_user_enabled

users_cli = AppGroup("users", help="Staff users and their API tokens.")
crm_cli = AppGroup("crm", help="Mini CRM maintenance.")
# Who the audit trail names for changes made from the command line.
CLI = Actor("cli")


def _fail(exc: Exception) -> None:
    if isinstance(exc, ValidationError):
        details = "; ".join(f"{f}: {' '.join(m)}" for f, m in exc.fields.items())
        raise click.ClickException(f"{exc.message} {details}")
    raise click.ClickException(getattr(exc, "message", str(exc)))


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(["supervisor", "operator"]), required=True)
@click.option("--password", help="Omit to generate one (printed once).")
@click.option("--operator-id", type=int, help="The Operator an operator user works as.")
def create_user_command(email: str, role: str, password: str | None, operator_id: int | None):
    """Create a staff user."""
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    try:
        with acting_as(CLI):
            user = create_user(db.session, email, role, password, operator_id)
    except (ServiceError, ValidationError) as exc:
        _fail(exc)
    click.echo(f"Created {user.role} {user.email} (id {user.id}).")
    if generated:
        click.echo(f"Password: {password}")


@users_cli.command("token")
@click.argument("email")
@click.option("--label", help="What the token is for.")
def token_command(email: str, label: str | None):
    """Print a new API token for the user (earlier tokens stay valid)."""
    try:
        user = require_user(db.session, email)
    except ServiceError as exc:
        _fail(exc)
    with acting_as(CLI):
        click.echo(issue_token(db.session, user, label=label or "cli"))


@users_cli.command("password")
@click.argument("email")
@click.option("--password", help="Omit to be prompted (typed twice, not shown).")
def password_command(email: str, password: str | None):
    """Set a new password for the user; ends all of their sessions."""
    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        with acting_as(CLI):
            user = set_password(db.session, email, password)
    except (ServiceError, ValidationError) as exc:
        _fail(exc)
    click.echo(f"Password of {user.email} changed; their sessions have ended.")


def _enable(email: str, enabled: bool) -> None:
    try:
        user = require_user(db.session, email)
        with acting_as(CLI):
            set_user_enabled(db.session, user.id, enabled, actor=None)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"{user.email} can sign in again." if enabled
               else f"{user.email} is disabled: signed out, no sign-in, no API access.")


@users_cli.command("disable")
@click.argument("email")
def disable_command(email: str):
    """Disable sign-in and API tokens of the user; ends all of their sessions."""
    _enable(email, False)


@users_cli.command("enable")
@click.argument("email")
def enable_command(email: str):
    """Let a disabled user sign in and use their API tokens again."""
    _enable(email, True)


@crm_cli.command("demo")
@click.option("--seed", type=int, default=7, help="Random seed of the demo contacts.")
@click.option("--password", help="The demo users' password (default: generated).")
@click.option("--if-empty", is_flag=True, help="Do nothing, successfully, when data exists.")
def demo_command(seed: int, password: str | None, if_empty: bool):
    """Fill an empty database with a small demo data set."""
    from .demo import DemoNotEmpty, load_demo

    try:
        password = load_demo(db.session, seed, password)
    except DemoNotEmpty as exc:
        if if_empty:
            click.echo("Data already present; demo data not loaded.")
            return
        raise click.ClickException(str(exc)) from exc
    click.echo("Demo data loaded.")
    click.echo("Sign in as admin@example.com")
    click.echo(f"Password: {password}")


@crm_cli.command("drain-queue")
@click.option("--limit", type=click.IntRange(min=1), help="Assign at most this many contacts.")
def drain_queue_command(limit: int | None):
    """Hand queued contacts, oldest first, to operators with free capacity."""
    from flask import current_app

    from .core.actor import Actor, acting_as
    from .services.drain import drain_queue
    from .services.stats import queue_size

    with acting_as(Actor("cli drain-queue")):
        result = drain_queue(db.session, current_app.extensions["crm_rng"], limit=limit)
    who = ", ".join(f"{name} {n}" for name, n in sorted(result.by_operator.items()))
    click.echo(f"Assigned {result.assigned} contact(s){f' ({who})' if who else ''}; "
               f"{queue_size(db.session)} still queued.")


@crm_cli.command("return-unopened")
@click.option("--minutes", type=click.IntRange(min=1), help="Default: CRM_RETURN_AFTER_MINUTES.")
def return_unopened_command(minutes: int | None):
    """Put contacts their operator has not opened in time back in the queue (for cron)."""
    from flask import current_app

    from .autodrain import sweep_unopened
    from .core.actor import Actor, acting_as

    if minutes:
        current_app.config["CRM_RETURN_AFTER_MINUTES"] = minutes
    if not current_app.config["CRM_RETURN_AFTER_MINUTES"]:
        raise click.ClickException("Set CRM_RETURN_AFTER_MINUTES or pass --minutes.")
    with acting_as(Actor("cli return-unopened")):
        count = sweep_unopened(force=True)
    click.echo(f"Returned {count} unopened contact(s) to the queue.")
