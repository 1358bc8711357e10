"""Named errors raised by services; entry points map them to responses."""

from __future__ import annotations

from ..domain.errors import ValidationError

__all__ = ["ServiceError", "NotFound", "Conflict", "Forbidden", "ValidationError"]


class ServiceError(Exception):
    code = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"


class Forbidden(ServiceError):
    code = "forbidden"
