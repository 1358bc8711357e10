"""/api/v1/sources and their distribution tables."""

from __future__ import annotations

from ..core.extensions import db
from ..services import sources as service
from . import bp
from .common import current_user, json_object, query, supervisor_only
from .schemas import PageQuery
from .serializers import SUPERVISOR_FIELDS, SourcePage, distribution_dict, page_dict, source_dict


@bp.get("/sources")
def list_sources():
    paging = query(PageQuery, "Invalid pagination.")
    page = service.list_sources(db.session, paging.page, paging.per_page)
    return page_dict(SourcePage, page, exclude=None if current_user().is_supervisor else SUPERVISOR_FIELDS)


@bp.post("/sources")
@supervisor_only
def create_source():
    # Validated by the service (SourceCreate), which the pages share.
    return source_dict(service.create_source(db.session, json_object()), with_token=True), 201


@bp.get("/sources/<int:source_id>")
def get_source(source_id: int):
    source = service.get_source(db.session, source_id)
    return source_dict(source, with_token=current_user().is_supervisor)


@bp.patch("/sources/<int:source_id>")
@supervisor_only
def update_source(source_id: int):
    body = json_object()  # validated by the service (SourcePatch)
    return source_dict(service.update_source(db.session, source_id, body), with_token=True)


@bp.post("/sources/<int:source_id>/token")
@supervisor_only
def rotate_token(source_id: int):
    return source_dict(service.rotate_token(db.session, source_id), with_token=True)


@bp.get("/sources/<int:source_id>/distribution")
def get_distribution(source_id: int):
    return distribution_dict(service.distribution_rules(db.session, source_id))


@bp.put("/sources/<int:source_id>/distribution")
@supervisor_only
def put_distribution(source_id: int):
    service.get_source(db.session, source_id)  # 404 before validating the body
    table = service.parse_rules(json_object())  # DistributionPut
    return distribution_dict(service.replace_distribution(db.session, source_id, table))
