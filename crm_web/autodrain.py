"""When the queue is drained by itself, and when unopened contacts go back.

Both are off by default (the seed asks for manual assignment later):
- CRM_AUTO_DRAIN: after a request whose change freed capacity (a contact
  closed, an operator activated or given a larger max_load, a rule added,
  an operator deleted), the queue is drained, oldest first.
- CRM_RETURN_AFTER_MINUTES: contacts not opened by their operator within
  that time go back to the queue (straight to another operator with
  auto-drain on). Swept at most once a minute per worker, on any request,
  and by `flask crm return-unopened` for a cron job.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from .core.actor import Actor, acting_as
from .core.extensions import db
from .core.request_context import request_id
from .services.drain import drain_queue, return_unopened, take_capacity_freed

log = logging.getLogger(__name__)
SWEEP_EVERY_SECONDS = 60
# Contacts handed out by one request's auto-drain: keeps the request short
# (a change frees a few places; a big new max_load is served over requests).
AUTO_DRAIN_LIMIT = 200
_next_sweep = 0.0


def rng():
    return current_app.extensions["crm_rng"]


def sweep_unopened(force: bool = False) -> int:
    """Return contacts left unopened; with auto-drain on, hand them on. How many returned."""
    global _next_sweep
    minutes = current_app.config["CRM_RETURN_AFTER_MINUTES"]
    if not minutes or (not force and time.monotonic() < _next_sweep):
        return 0
    _next_sweep = time.monotonic() + SWEEP_EVERY_SECONDS
    returned = return_unopened(db.session, minutes)
    if returned and current_app.config["CRM_AUTO_DRAIN"]:
        # Not back to the operator who left it unopened.
        drain_queue(db.session, rng(), exclude={r.contact_id: r.operator_id for r in returned})
    return len(returned)


def configure_auto_drain(app: Flask) -> None:
    @app.before_request
    def sweep():
        if app.config["CRM_RETURN_AFTER_MINUTES"] and time.monotonic() >= _next_sweep:
            try:
                # The app's own decision, not the caller's (who may be anyone).
                with acting_as(Actor("system", request_id=request_id())):
                    sweep_unopened()
            except SQLAlchemyError:  # never fail the request itself for it
                db.session.rollback()
                log.exception("returning unopened contacts failed")

    @app.after_request
    def drain_if_capacity_freed(response):
        if app.config["CRM_AUTO_DRAIN"] and take_capacity_freed(db.session) and response.status_code < 400:
            try:
                # As much as the freed capacity takes; the rest waits for the next change.
                drain_queue(db.session, rng(), limit=AUTO_DRAIN_LIMIT)
            except SQLAlchemyError:
                db.session.rollback()
                log.exception("auto-drain failed")
        return response
