"""The viewer's time zone: the signed-in user's choice, else the app's CRM_TIMEZONE.

Babel formats every time of the pages in it (`select_timezone`), and views pass
it to the services that count days ("today", a report's period). The JSON API
is not concerned: its times stay UTC (contract §3).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import get_timezone
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from ..core.extensions import db
from ..domain.local_time import is_zone_name, zone_label


def app_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["CRM_TIMEZONE"])


def select_timezone() -> ZoneInfo:
    """Babel's time zone selector: the user's zone when it is still a known one, else the app's."""
    name = _user_timezone()
    return ZoneInfo(name) if is_zone_name(name) else app_zone()


def _user_timezone() -> str | None:
    try:
        return current_user.timezone if current_user.is_authenticated else None
    except SQLAlchemyError:  # an error page must render even without a database
        db.session.rollback()
        return None


def viewer_zone() -> ZoneInfo:
    """The zone of this request's viewer (chosen once per request by Babel)."""
    return get_timezone()


def zone_data() -> dict:
    """For the layout: the label the time columns carry ("UTC+3") and the zone's full name."""
    zone = viewer_zone()
    return {"zone_label": zone_label(zone, datetime.now(UTC)), "zone_name": zone.key}
