"""The signed cookie session, only where it is used: the staff pages."""

from __future__ import annotations

from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from .request_context import is_machine_request


class StatelessSession(SecureCookieSession):
    """The empty session of a webhook or API request: nothing was read from a cookie."""


class PagesOnlySessionInterface(SecureCookieSessionInterface):
    """Skips the cookie (and building its signer) on the webhook and the API.

    They get a fresh empty session instead, so nothing breaks if something
    reads it (Flask-Login's remember-me hook looks into it after every
    request); Flask saves nothing for an untouched empty session.
    """

    def open_session(self, app, request):
        if is_machine_request(request):
            return StatelessSession()
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        # Flask works out the cookie's name, domain, path and flags before it
        # sees that there is nothing to do (the webhook's and the API's case).
        # A stateless request's session came from no cookie: reading it (as
        # Flask-Login's hook does) makes the answer vary by nothing, so it
        # gets no cookie and no `Vary: Cookie` unless something wrote to it.
        if isinstance(session, StatelessSession) and not session.modified:
            return
        if not session and not session.modified and not session.accessed:
            return
        super().save_session(app, session, response)
