"""The signed cookie session, only where it is used: the staff pages."""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface

# The webhook and the JSON API authenticate with tokens and never read or
# write the cookie session.
STATELESS_PREFIXES = ("/webhooks/", "/api/")


def is_stateless(request) -> bool:
    """A request to the webhook or the API: no cookie session, no remember-me cookie."""
    return request.path.startswith(STATELESS_PREFIXES)


class PagesOnlySessionInterface(SecureCookieSessionInterface):
    """Skips the cookie (and building its signer) on the webhook and the API.

    They get a fresh empty session instead, so nothing breaks if something
    reads it; Flask saves nothing for an untouched empty session.
    """

    def open_session(self, app, request):
        if is_stateless(request):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        # Flask works out the cookie's name, domain, path and flags before it
        # sees that there is nothing to do (the webhook's and the API's case):
        # an empty session nobody read or changed gets no cookie and no Vary.
        if not session and not session.modified and not session.accessed:
            return
        super().save_session(app, session, response)
