"""What a person who pressed "Send" on a site form sees (contract §2, §5): a 303 to the source's
thank-you URL, or a short error page in the visitor's own language with a hint of what to type.

Only a plain form post to a source with a thank-you URL comes here; the JSON answers of every
other request never pay for choosing a language or rendering a page.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, redirect, render_template, request
from flask_babel import force_locale

from ..domain.phone_display import example_phone
from ..web.i18n import browser_locale

EXAMPLE_EMAIL = "name@example.com"


@dataclass(frozen=True)
class Detail:
    """What the visitor is told about one field: the webhook's messages for it, and an example."""

    field: str
    texts: list[str]
    example: str | None


def page_for_visitor(response, thank_you_url: str):
    """The 303 to the thank-you page, or the webhook's error JSON as a page with the same status."""
    if response.status_code in (200, 201):
        return redirect(thank_you_url, code=303)
    if response.status_code < 400 or response.mimetype != "application/json":
        return response
    error = (response.get_json(silent=True) or {}).get("error") or {}
    message = error.get("message", "")
    locale = browser_locale()
    # The visitor's Accept-Language, whatever a signed-in staff member of this browser chose.
    with force_locale(locale):
        body = render_template(
            "webhooks/error.html",
            status=response.status_code,
            message=message,
            details=_details(error.get("fields") or {}, message),
            back_url=_back_url(),
        )
    page = current_app.make_response(body)
    page.status_code = response.status_code
    for header in ("Retry-After", "Vary"):
        if header in response.headers:
            page.headers[header] = response.headers[header]
    page.headers["Content-Language"] = locale
    page.vary.add("Accept-Language")
    return page


def _details(fields: dict, message: str) -> list[Detail]:
    """Each refused field with its own messages (the general one is said once) and, for a phone or
    an email, an example of one that is accepted."""
    examples = {"phone": example_phone(current_app.config["CRM_PHONE_REGION"]), "email": EXAMPLE_EMAIL}
    details = []
    for field, texts in fields.items():
        own = [text for text in texts if text != message]
        example = examples.get(field)
        if own or example:
            details.append(Detail(field, own, example))
    return details


def _back_url() -> str | None:
    """The page the form was on, if the browser said so (it usually does)."""
    referrer = request.referrer or ""
    return referrer if referrer.startswith(("https://", "http://")) else None
