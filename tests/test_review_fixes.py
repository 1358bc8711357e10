"""Regression tests for defects found in review: bad filter values are 4xx, never 500."""

from __future__ import annotations

import pytest


@pytest.fixture
def supervisor(client, factory):
    from tests.web.conftest import csrf_from

    staff = factory.staff("supervisor")
    token = csrf_from(client.get("/login").get_data(as_text=True))
    form = {"email": staff.email, "password": "password-123", "csrf_token": token}
    response = client.post("/login", data=form)
    assert response.status_code == 303
    return staff


@pytest.mark.parametrize(
    "query",
    ["date_to=9999-12-31", "date_from=9999-12-31", "action=a%00b", "actor=x%00", "date_to=0001-01-01"],
)
def test_audit_filters_never_fail(client, supervisor, query):
    response = client.get(f"/audit?{query}")
    assert response.status_code in (200, 422), response.status_code


@pytest.mark.parametrize("path", ["/leads?q=a%00b", "/leads/export.csv?q=a%00b"])
def test_lead_search_with_nul_is_refused_cleanly(client, supervisor, path):
    response = client.get(path)
    assert 400 <= response.status_code < 500
    assert not response.is_streamed or response.status_code != 200
