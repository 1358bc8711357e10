"""Settings read from the environment: the time zone of the pages (CRM_TIMEZONE)."""

from __future__ import annotations

import re

import pytest

from crm_web import create_app
from crm_web.core.config import load_settings


def test_the_time_zone_is_moscow_unless_told(monkeypatch, tmp_path):
    monkeypatch.delenv("CRM_TIMEZONE", raising=False)
    assert load_settings(tmp_path)["CRM_TIMEZONE"] == "Europe/Moscow"
    monkeypatch.setenv("CRM_TIMEZONE", " Asia/Vladivostok ")
    assert load_settings(tmp_path)["CRM_TIMEZONE"] == "Asia/Vladivostok"
    monkeypatch.setenv("CRM_TIMEZONE", "")
    assert load_settings(tmp_path)["CRM_TIMEZONE"] == "Europe/Moscow"


@pytest.mark.parametrize("name", ["Moscow", "MSK", "UTC+3", "Europe/Atlantis"])
def test_an_unknown_time_zone_stops_the_start_with_a_clear_message(monkeypatch, tmp_path, name):
    monkeypatch.setenv("CRM_TIMEZONE", name)
    with pytest.raises(ValueError, match=re.escape(f"CRM_TIMEZONE='{name}' is not an IANA time zone name")):
        load_settings(tmp_path)
    with pytest.raises(ValueError, match="CRM_TIMEZONE"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'crm.sqlite3'}"})
