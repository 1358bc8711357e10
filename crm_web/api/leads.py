"""/api/v1/leads"""

from __future__ import annotations

from ..core.extensions import db
from ..services import leads as service
from . import bp
from .common import query, search_query
from .schemas import LeadQuery
from .serializers import LeadPage, lead_dict, page_dict


@bp.get("/leads")
def list_leads():
    q = query(LeadQuery)
    return page_dict(
        LeadPage, service.list_leads(db.session, q.filters, q.page, q.per_page, q.after, search_query(q.q))
    )


@bp.get("/leads/<int:lead_id>")
def get_lead(lead_id: int):
    return lead_dict(service.get_lead(db.session, lead_id), with_contacts=True)
