"""services/prepared.py: the kept cursor survives a failed statement."""

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from crm_web.extensions import db
from crm_web.models import Lead, utcnow
from crm_web.services.prepared import Prepared

_leads = Lead.__table__
INSERT_LEAD = Prepared(insert(_leads).returning(_leads.c.id))
LEAD_BY_PHONE = Prepared(select(_leads.c.id).where(_leads.c.phone == bindparam("phone")))


def test_a_failed_statement_leaves_the_connection_usable(app):
    # SQLAlchemy closes the cursor of a failed statement; the next statement
    # on the same connection must get a new one, not the closed one.
    with app.app_context(), db.engine.connect() as conn:
        values = {"phone": "+79990000001", "created_at": utcnow()}
        with conn.begin():
            first = INSERT_LEAD.scalar(conn, values)
        with pytest.raises(IntegrityError), conn.begin():
            INSERT_LEAD.scalar(conn, values)  # the phone is unique
        with conn.begin():
            assert LEAD_BY_PHONE.scalar(conn, {"phone": "+79990000001"}) == first
            second = INSERT_LEAD.scalar(conn, {"phone": "+79990000002", "created_at": utcnow()})
        assert second is not None and second != first
