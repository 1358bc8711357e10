"""Authentication, and the reading of bodies and query strings, shared by the API routes."""

from __future__ import annotations

from functools import wraps
from typing import TypeVar

from flask import current_app, g, request

from ..core.extensions import db
from ..core.json_body import parse_json
from ..core.request_context import set_request_actor
from ..domain.errors import Forbidden
from ..domain.search import SearchQuery, parse_query
from ..models import User
from ..services.users import user_for_token
from ..services.validation import check

M = TypeVar("M")


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


def context() -> dict:
    """What the models' domain checks need from the app (crm_web/api/schemas.py)."""
    return {"region": current_app.config["CRM_PHONE_REGION"]}


def body(model: type[M]) -> M:
    """The JSON object body, validated by `model` (422 with every field's messages)."""
    return check(model, json_object(), context=context())


def optional_body(model: type[M]) -> M:
    """`body(model)`, or the model's defaults when the request has no body at all."""
    if not request.get_data(cache=True):
        return check(model, {}, context=context())
    return body(model)


def query(model: type[M], message: str = "Invalid filters.") -> M:
    """The query string, validated by `model`."""
    return check(model, request.args.to_dict(), message, context=context())


def rng():
    return current_app.extensions["crm_rng"]


def search_query(q: str | None) -> SearchQuery | None:
    """A list's `q`, already checked by its query model (crm_web/api/schemas.py), as a search."""
    return parse_query(q, current_app.config["CRM_PHONE_REGION"]) if q else None
