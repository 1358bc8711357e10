"""No request body over MAX_CONTENT_LENGTH (1 MiB, config.py): 413, nothing past it read.

Werkzeug applies MAX_CONTENT_LENGTH where a body is read (`request.form`,
`get_data`, `stream`). This hook, run before the extensions' hooks
(Flask-WTF's CSRF check parses the whole form), makes sure of the rest:

- a declared Content-Length over the limit is refused here, without a byte
  of the body read, whatever would have read it (and the answer names the limit);
- a body without Content-Length (chunked; gunicorn sets
  `wsgi.input_terminated`) is refused as soon as a byte past the limit
  arrives: Werkzeug's own limited stream silently stops there, so a form
  or JSON body would be parsed cut short.

The answer is the JSON error on /api and /webhooks, the error page
elsewhere (errors.py). The webhook keeps its own, smaller limit
(webhooks/__init__.py). The rest of the body stays unread: gunicorn's sync
worker closes every connection after its answer (draining at most 64 KiB,
for at most 2 s, so that the close does not reset the answer away); a
gthread worker reads at most 64 KiB of it, for at most 5 s, then closes.
"""

from __future__ import annotations

import io

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge

MIB = 1024 * 1024


def size_text(size: int) -> str:
    """`1 MiB`, `64 KiB` or `100 bytes`, for messages."""
    if size % MIB == 0:
        return f"{size // MIB} MiB"
    if size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"


def too_large(limit: int) -> RequestEntityTooLarge:
    return RequestEntityTooLarge(f"The body is larger than {size_text(limit)}.")


class CappedInput(io.RawIOBase):
    """A body of unknown length that raises 413 once more than `limit` bytes arrive."""

    def __init__(self, stream, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        wanted = min(len(buffer), self._limit - self._pos)
        data = self._stream.read(wanted) if wanted > 0 else b""
        buffer[: len(data)] = data
        self._pos += len(data)
        # At the limit, one byte more means too large (else Werkzeug stops quietly here).
        if self._pos >= self._limit and self._stream.read(1):
            raise too_large(self._limit)
        return len(data)


def configure_body_limit(app: Flask) -> None:
    @app.before_request
    def limit_body():
        limit = request.max_content_length
        if limit is None:
            return
        length = request.content_length
        if length is None:
            if "wsgi.input_terminated" in request.environ:
                request.environ["wsgi.input"] = CappedInput(request.environ["wsgi.input"], limit)
        elif length > limit:
            raise too_large(limit)
