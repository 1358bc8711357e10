"""Named errors raised by the domain and the services; one handler (core/errors.py) maps them to responses."""

from __future__ import annotations

from .messages import N_


class ValidationError(ValueError):
    """Invalid input; `fields` maps a field name to its messages."""

    def __init__(self, fields: dict[str, list[str]], message: str = N_("Invalid input.")) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    @classmethod
    def single(cls, field: str, message: str) -> ValidationError:
        return cls({field: [message]}, message)


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
