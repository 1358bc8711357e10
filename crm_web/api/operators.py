"""/api/v1/operators"""

from __future__ import annotations

from ..core.extensions import db
from ..services import operators as service
from . import bp
from .common import json_object, query, supervisor_only
from .schemas import PageQuery
from .serializers import OperatorDeleted, OperatorPage, dump, operator_dict, page_dict


@bp.get("/operators")
def list_operators():
    paging = query(PageQuery, "Invalid pagination.")
    return page_dict(OperatorPage, service.list_operators(db.session, paging.page, paging.per_page))


@bp.post("/operators")
@supervisor_only
def create_operator():
    operator = service.create_operator(db.session, json_object())  # validated there (OperatorCreate)
    return operator_dict(operator), 201


@bp.get("/operators/<int:operator_id>")
def get_operator(operator_id: int):
    return operator_dict(service.get_operator(db.session, operator_id))


@bp.patch("/operators/<int:operator_id>")
@supervisor_only
def update_operator(operator_id: int):
    body = json_object()  # validated by the service (OperatorPatch)
    return operator_dict(service.update_operator(db.session, operator_id, body))


@bp.delete("/operators/<int:operator_id>")
@supervisor_only
def delete_operator(operator_id: int):
    released = service.delete_operator(db.session, operator_id)
    return dump(OperatorDeleted, {"deleted": operator_id, "contacts_returned_to_queue": released})
