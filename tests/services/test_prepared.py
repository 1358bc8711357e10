"""The intake's Core statements (run with Connection.execute): a failed one leaves the connection usable.

services/prepared.py, which ran them on a DBAPI cursor kept per connection,
is gone; the guarantee it was tested for stays.
"""

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from crm_web.core.extensions import db
from crm_web.models import Lead, utcnow

_leads = Lead.__table__
INSERT_LEAD = insert(_leads).returning(_leads.c.id)
LEAD_BY_PHONE = select(_leads.c.id).where(_leads.c.phone == bindparam("phone"))


def test_a_failed_statement_leaves_the_connection_usable(app):
    # SQLAlchemy closes the cursor of a failed statement; the next statement
    # on the same connection must work.
    with app.app_context(), db.engine.connect() as conn:
        values = {"phone": "+79990000001", "created_at": utcnow()}
        with conn.begin():
            first = conn.execute(INSERT_LEAD, values).scalar()
        with pytest.raises(IntegrityError), conn.begin():
            conn.execute(INSERT_LEAD, values)  # the phone is unique
        with conn.begin():
            assert conn.execute(LEAD_BY_PHONE, {"phone": "+79990000001"}).scalar() == first
            second = conn.execute(INSERT_LEAD, {"phone": "+79990000002", "created_at": utcnow()}).scalar()
        assert second is not None and second != first
