"""The one JSON error shape of the webhook and the API, and its handlers."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app, jsonify, request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from ..domain.errors import Conflict, Forbidden, NotFound, ServiceError, ValidationError
from .extensions import db
from .request_context import is_machine_request, request_id

RETRY_AFTER = "5"  # seconds, on a 503 while the database is unreachable

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def error_response(status: int, message: str, code: str | None = None, fields: dict | None = None):
    error: dict = {"code": code or HTTP_CODES.get(status, "error"), "message": message}
    if fields is not None:
        error["fields"] = fields
    # The id a support request can quote; also in the X-Request-ID header and the logs.
    error["request_id"] = request_id()
    response = jsonify(error=error)
    response.status_code = status
    return response


def service_error_response(exc: ServiceError | ValidationError):
    if isinstance(exc, ValidationError):
        return error_response(422, exc.message, "validation_error", exc.fields)
    status = {NotFound: 404, Conflict: 409, Forbidden: 403}.get(type(exc), 400)
    return error_response(status, exc.message, exc.code)


def register_error_handlers(app: Flask, error_page: Callable[[int], tuple]) -> None:
    """JSON errors on the machine endpoints; elsewhere `error_page(status)`,
    the pages' own (web/errors.py), which the factory passes in."""
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if not is_machine_request():
            return error_page(exc.code or 500)
        response = error_response(exc.code or 500, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        if exc.code == 429:
            response.headers["Retry-After"] = "60"
        return response

    @app.errorhandler(ServiceError)
    @app.errorhandler(ValidationError)
    def service_error(exc):
        response = service_error_response(exc)
        return response if is_machine_request() else error_page(response.status_code)

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def database_unavailable(exc):
        # Lost connection, a database that is down or restarting, a locked
        # SQLite file, no free pooled connection: the caller should retry.
        # SQLAlchemy has already discarded the pool's connections if this one
        # had died, so the next request connects afresh: recovery needs no restart.
        unavailable = isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)) or getattr(
            exc, "connection_invalidated", False
        )
        if not unavailable:  # a constraint or a bug: not the database's absence
            return unexpected(exc)
        db.session.rollback()
        current_app.logger.error("database unavailable: %s", exc.__class__.__name__, exc_info=True)
        if not is_machine_request():
            body, status = error_page(503)
            return body, status, {"Retry-After": RETRY_AFTER}
        response = error_response(503, "The database is unavailable; retry shortly.")
        response.headers["Retry-After"] = RETRY_AFTER
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        current_app.logger.exception("unhandled error on %s", request.path)
        db.session.rollback()
        if not is_machine_request():
            return error_page(500)
        return error_response(500, "Internal server error.")
