"""English messages that pages can translate while the API and webhook send them as they are."""

from __future__ import annotations


class Message(str):
    """The English text itself, remembering its template and parameters for a later gettext."""

    template: str
    params: dict[str, object]

    def __new__(cls, template: str, /, **params: object) -> Message:
        self = super().__new__(cls, template % params if params else template)
        self.template = template
        self.params = params
        return self

    def __str__(self) -> str:
        # str(ValueError(message)) keeps the Message, so services can pass str(exc) along.
        return self


def N_(template: str, /, **params: object) -> Message:  # the usual name of gettext_noop
    """Mark a message for extraction (`pybabel extract -k N_`) without translating it here."""
    return Message(template, **params)
