"""Authentication, body parsing and pagination shared by the API routes."""

from __future__ import annotations

from functools import wraps

from flask import current_app, g, request

from ..extensions import db
from ..json_body import parse_json
from ..models import User
from ..request_context import set_request_actor
from ..services.errors import Forbidden, ValidationError
from ..services.pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE, Page
from ..services.users import user_for_token
from ..services.validation import MAX_ID


class ApiError(Exception):
    """An HTTP error with the JSON error shape (401, 400, 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# Served without a token: the OpenAPI document (crm_web/api/docs.py).
PUBLIC_ENDPOINTS = {"api.openapi_json"}


def authenticate() -> None:
    """before_request: the bearer token's user, or 401."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "Send Authorization: Bearer <api token>.")
    user = user_for_token(db.session, token)
    if user is None:
        raise ApiError(401, "The API token is not valid, has expired or was revoked.")
    g.api_user = user
    set_request_actor(f"api {user.email}", user.id)


def current_user() -> User:
    return g.api_user


def supervisor_only(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user().is_supervisor:
            raise Forbidden("Only supervisors may do this.")
        return view(*args, **kwargs)

    return wrapper


def json_body() -> object:
    if request.mimetype != "application/json":
        raise ApiError(415, "Send a JSON body with Content-Type: application/json.")
    try:
        return parse_json(request.get_data(cache=True))
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "Body is not valid JSON.") from exc


def json_object() -> dict:
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "Body must be a JSON object.")
    return body


def int_arg(name: str, errors: dict, low: int = 1, high: int = MAX_ID) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        errors[name] = ["Must be a whole number."]
        return None
    if not low <= value <= high:
        errors[name] = [f"Must be between {low} and {high}."]
        return None
    return value


def pagination_args(errors: dict | None = None) -> tuple[int, int]:
    own = errors if errors is not None else {}
    page = int_arg("page", own, 1, 10_000_000) or 1
    per_page = int_arg("per_page", own, 1, MAX_PER_PAGE) or DEFAULT_PER_PAGE
    if errors is None and own:
        raise ValidationError(own, "Invalid pagination.")
    return page, per_page


def after_arg(errors: dict) -> int | None:
    """`?after=<id>`: a keyset page starting after that item (see services/pagination.py)."""
    return int_arg("after", errors)


def page_body(page: Page, serialize) -> dict:
    return {
        "items": [serialize(item) for item in page.items],
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
    }


def rng():
    return current_app.extensions["crm_rng"]
