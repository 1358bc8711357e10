"""Validation errors carried from the domain to every entry point."""

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
