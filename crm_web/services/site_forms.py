"""What the webhook needs to answer browsers: a source's allowed origins and thank-you URL."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..domain.site_forms import origins_from_text
from ..models import Source
from .sources import KEY_RE


@dataclass(frozen=True)
class SiteForm:
    origins: frozenset[str]
    thank_you_url: str | None


# Disabled sources too: their 404 still reaches the site's script, and a visitor gets the page.
_SITE_FORM = select(Source.allowed_origins, Source.thank_you_url).where(Source.key == bindparam("key"))


def site_form_of(allowed_origins: str | None, thank_you_url: str | None) -> SiteForm:
    """The browser settings from a source's columns (the intake reads them with the source)."""
    return SiteForm(frozenset(origins_from_text(allowed_origins)), thank_you_url)


def site_form(session: Session, source_key: str) -> SiteForm | None:
    """The source's browser settings (one read by its unique key), or None for an unknown key.

    Only asked for requests that come from a browser (an Origin header) or
    post a plain form, so JSON integrations pay nothing for it, and only when
    the intake did not read the source (an unknown, disabled or refused one).
    """
    if not KEY_RE.match(source_key):
        return None
    row = session.connection().execute(_SITE_FORM, {"key": source_key}).first()
    if row is None:
        return None
    return site_form_of(row.allowed_origins, row.thank_you_url)
