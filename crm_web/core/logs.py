"""Structured logs: one line per request, and errors with their request id.

`CRM_LOG_FORMAT` chooses `json` (one JSON object per line, the default
under gunicorn) or `text` (key=value, the default elsewhere). Lines go to
stderr, which gunicorn's workers share with its own error log.

Nothing secret is written: the request line names the route's URL rule
(`/webhooks/<source_key>`), never the raw path with its query string (the
webhook accepts `?token=`); no headers, no bodies; and SQL parameters are
left out of the tracebacks of database errors.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from datetime import UTC, datetime

from flask import Flask, current_app, g, has_app_context, has_request_context, request
from sqlalchemy.exc import StatementError

from .actor import current_actor
from .request_context import request_id

FORMATS = ("json", "text")
LOGGER = "crm_web"  # Flask's app.logger for the package crm_web
REQUEST_LOGGER = LOGGER + ".request"
_FORMAT_KEY = "crm_log_format"


def log_format(app: Flask) -> str:
    """The configured format; json by default when served by gunicorn."""
    chosen = app.config.get("CRM_LOG_FORMAT") or os.environ.get("CRM_LOG_FORMAT", "")
    chosen = chosen.strip().lower()
    if chosen in FORMATS:
        return chosen
    if chosen:
        raise ValueError(f"CRM_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {chosen!r}")
    return "json" if os.environ.get("CRM_SERVING") else "text"


def _timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _hide_sql_parameters(exc: BaseException | None) -> None:
    # A statement's parameters may hold a token, a password hash or a
    # client's phone: the SQL is enough to find the fault.
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, StatementError):
            exc.hide_parameters = True
        exc = exc.__cause__ or exc.__context__


class CrmFormatter(logging.Formatter):
    """JSON or key=value lines, chosen per app (tests build several apps)."""

    def __init__(self, default: str) -> None:
        super().__init__()
        self.default = default

    def format(self, record: logging.LogRecord) -> str:
        fmt = self.default
        if has_app_context():
            fmt = current_app.extensions.get(_FORMAT_KEY, fmt)
        fields: dict = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_fields = getattr(record, "crm_request", None)
        if request_fields is not None:
            fields["event"] = "request"
            fields.update(request_fields)
        elif has_request_context():
            fields["request_id"] = request_id()
        if record.exc_info and record.exc_info[1] is not None:
            _hide_sql_parameters(record.exc_info[1])
            fields["traceback"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if fmt == "json":
            return json.dumps(fields, ensure_ascii=False, default=str)
        return _text_line(fields)


def _text_line(fields: dict) -> str:
    head = f"{fields.pop('ts')} {fields.pop('level').upper()} {fields.pop('logger')}: {fields.pop('message')}"
    trace = fields.pop("traceback", None)
    fields.pop("event", None)
    pairs = " ".join(f"{key}={'-' if value is None else value}" for key, value in fields.items())
    line = f"{head} {pairs}" if pairs else head
    return f"{line}\n{trace}" if trace else line


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def configure_logging(app: Flask) -> None:
    """Structured lines for the app's logger, and one line per request."""
    app.extensions[_FORMAT_KEY] = fmt = log_format(app)
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):  # Flask's default one, or ours from an earlier app
        logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(CrmFormatter(fmt))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if app.debug else logging.INFO)
    logger.propagate = False
    logger.disabled = False  # a logging.config call (Alembic's) may have disabled it
    request_log = logging.getLogger(REQUEST_LOGGER)

    # Registered before the extensions' hooks, so this runs first.
    @app.before_request
    def start_clock():
        g.crm_started = time.perf_counter()

    @app.after_request
    def log_request(response):
        started = g.get("crm_started")
        fields = {
            "request_id": request_id(),
            "method": request.method,
            "route": request.url_rule.rule if request.url_rule is not None else None,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
            "remote_addr": request.remote_addr,
            "user_id": current_actor().user_id,
        }
        # 503 is the expected answer while the database is away; other 5xx are faults.
        status = response.status_code
        level = logging.INFO if status < 500 else logging.WARNING if status == 503 else logging.ERROR
        if request_log.isEnabledFor(level):
            # Built here rather than by Logger.log, which walks the stack to
            # find its caller (always this hook).
            args = (fields["method"], fields["route"] or "(no route)", fields["status"])
            request_log.handle(
                request_log.makeRecord(
                    request_log.name, level, __file__, 0, "%s %s %s", args, None,
                    func="log_request", extra={"crm_request": fields},
                )
            )
        return response
