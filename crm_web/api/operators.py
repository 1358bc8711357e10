"""/api/v1/operators"""

from __future__ import annotations

from ..extensions import db
from ..serializers import operator_dict
from ..services import operators as service
from . import bp
from .common import json_object, page_body, pagination_args, supervisor_only


@bp.get("/operators")
def list_operators():
    page, per_page = pagination_args()
    return page_body(service.list_operators(db.session, page, per_page), operator_dict)


@bp.post("/operators")
@supervisor_only
def create_operator():
    operator = service.create_operator(db.session, json_object())
    return operator_dict(operator), 201


@bp.get("/operators/<int:operator_id>")
def get_operator(operator_id: int):
    return operator_dict(service.get_operator(db.session, operator_id))


@bp.patch("/operators/<int:operator_id>")
@supervisor_only
def update_operator(operator_id: int):
    body = json_object()
    return operator_dict(service.update_operator(db.session, operator_id, body))


@bp.delete("/operators/<int:operator_id>")
@supervisor_only
def delete_operator(operator_id: int):
    released = service.delete_operator(db.session, operator_id)
    return {"deleted": operator_id, "contacts_returned_to_queue": released}
