"""Structured logs: one line per request with its fields, errors with id and traceback, no secrets."""

from __future__ import annotations

import json
import logging
import re

import pytest
from sqlalchemy.exc import IntegrityError, StatementError

from crm_web import create_app
from crm_web.core.logs import LOGGER

SECRET_QUERY_TOKEN = "query-token-must-not-be-logged"
UNREACHABLE_DB = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1"


@pytest.fixture
def database_url(sqlite_url):
    """Logging does not depend on the database: SQLite only."""
    return sqlite_url


def json_lines(captured: str) -> list[dict]:
    lines = [line for line in captured.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line must be JSON


def request_lines(captured: str) -> list[dict]:
    return [line for line in json_lines(captured) if line.get("event") == "request"]


@pytest.fixture
def json_app(app):
    app.extensions["crm_log_format"] = "json"
    return app


def test_one_json_line_per_request_with_its_fields(json_app, factory, capsys):
    source = factory.source("Site", key="site")
    client = json_app.test_client()
    capsys.readouterr()
    response = client.post(
        f"/webhooks/site?token={SECRET_QUERY_TOKEN}",
        json={"phone": "+79991234567", "name": "Ivan Secretov"},
        headers={"X-Webhook-Token": source.webhook_token},
    )
    assert response.status_code == 201
    captured = capsys.readouterr().err
    [line] = request_lines(captured)
    assert set(line) >= {"ts", "level", "request_id", "method", "route", "status", "duration_ms",
                         "remote_addr", "user_id"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
    assert line["level"] == "info"
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["method"] == "POST"
    assert line["route"] == "/webhooks/<source_key>"  # the URL rule, not the path
    assert line["status"] == 201
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["remote_addr"] == "127.0.0.1"
    assert line["user_id"] is None
    for secret in (SECRET_QUERY_TOKEN, source.webhook_token, "79991234567", "Secretov", "/webhooks/site"):
        assert secret not in captured


def test_api_request_line_names_the_user_and_keeps_the_token_out(json_app, factory, capsys):
    staff = factory.staff("supervisor")
    client = json_app.test_client()
    capsys.readouterr()
    response = client.get("/api/v1/operators", headers={**staff.headers, "X-Request-ID": "proxy-id-0001"})
    assert response.status_code == 200
    captured = capsys.readouterr().err
    [line] = request_lines(captured)
    assert line["request_id"] == "proxy-id-0001" == response.headers["X-Request-ID"]
    assert line["route"] == "/api/v1/operators"
    assert line["user_id"] == staff.user_id
    assert staff.token not in captured


def test_unknown_path_has_no_route_and_the_json_error_carries_the_id(json_app, capsys):
    client = json_app.test_client()
    response = client.get("/api/v1/nothing/here?token=abc")
    assert response.status_code == 404
    error = response.get_json()["error"]
    assert error["code"] == "not_found"
    assert error["request_id"] == response.headers["X-Request-ID"]
    [line] = request_lines(capsys.readouterr().err)
    assert line["route"] is None and line["status"] == 404
    assert line["request_id"] == error["request_id"]


def test_html_error_page_shows_the_request_id(json_app):
    response = json_app.test_client().get("/no-such-page", headers={"X-Request-ID": "page-id-12345"})
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "page-id-12345"
    assert '<code class="request-id">page-id-12345</code>' in response.get_data(as_text=True)


def test_unexpected_error_is_logged_with_request_id_and_traceback(json_app, capsys):
    @json_app.get("/api/v1/test-explodes")
    def explodes():
        raise RuntimeError("kaboom in a view")

    response = json_app.test_client().get("/api/v1/test-explodes")
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"]["code"] == "internal_error"
    assert "kaboom" not in response.get_data(as_text=True)  # no trace to the client
    rid = body["error"]["request_id"]
    lines = json_lines(capsys.readouterr().err)
    [error] = [line for line in lines if line.get("traceback")]
    assert error["level"] == "error"
    assert error["request_id"] == rid
    assert "RuntimeError: kaboom in a view" in error["traceback"]
    [request_line] = [line for line in lines if line.get("event") == "request"]
    assert request_line["status"] == 500 and request_line["level"] == "error"
    assert request_line["request_id"] == rid


def test_a_constraint_error_is_a_500_not_a_503(json_app):
    @json_app.get("/api/v1/test-constraint")
    def constraint():
        raise IntegrityError("INSERT ...", {}, ValueError("duplicate key"))

    response = json_app.test_client().get("/api/v1/test-constraint")
    assert response.status_code == 500 and "Retry-After" not in response.headers
    assert response.get_json()["error"]["code"] == "internal_error"


def test_database_error_traceback_hides_sql_parameters(json_app, capsys):
    # A statement's parameters may hold a token or a client's phone.
    secret = "-".join(("parameter", "secret"))  # not in the traceback's source lines
    with json_app.test_request_context("/x"):
        try:
            raise StatementError("failed", "SELECT :p", {"p": secret}, ValueError("x"))
        except StatementError:
            logging.getLogger(LOGGER).exception("database failure")
    captured = capsys.readouterr().err
    [line] = [line for line in json_lines(captured) if line.get("traceback")]
    assert line["message"] == "database failure"
    assert "SELECT :p" in line["traceback"]
    assert secret not in captured


def test_text_format(sqlite_url, capsys):
    from tests.conftest import make_app

    app = make_app(sqlite_url, CRM_LOG_FORMAT="text")
    capsys.readouterr()
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    [line] = capsys.readouterr().err.strip().splitlines()
    rid = response.headers["X-Request-ID"]
    assert re.match(r"^\S+Z INFO crm_web\.request: GET /healthz 200 ", line), line
    assert f"request_id={rid} method=GET route=/healthz status=200 duration_ms=" in line
    assert line.endswith("remote_addr=127.0.0.1 user_id=-")


def test_format_setting_and_gunicorn_default(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    monkeypatch.delenv("CRM_LOG_FORMAT", raising=False)
    monkeypatch.delenv("CRM_SERVING", raising=False)
    assert create_app({"SQLALCHEMY_DATABASE_URI": url}).extensions["crm_log_format"] == "text"
    monkeypatch.setenv("CRM_SERVING", "1")  # set by gunicorn.conf.py
    assert create_app({"SQLALCHEMY_DATABASE_URI": url}).extensions["crm_log_format"] == "json"
    monkeypatch.setenv("CRM_LOG_FORMAT", "text")
    assert create_app({"SQLALCHEMY_DATABASE_URI": url}).extensions["crm_log_format"] == "text"
    monkeypatch.setenv("CRM_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="CRM_LOG_FORMAT"):
        create_app({"SQLALCHEMY_DATABASE_URI": url})


def test_database_unavailable_is_logged_with_the_request_id(capsys):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": UNREACHABLE_DB, "CRM_LOG_FORMAT": "json"})
    capsys.readouterr()
    response = app.test_client().get("/api/v1/operators", headers={"Authorization": "Bearer some-token-x"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    error = response.get_json()["error"]
    assert error["code"] == "unavailable" and error["request_id"] == response.headers["X-Request-ID"]
    captured = capsys.readouterr().err
    lines = json_lines(captured)
    [logged] = [line for line in lines if line.get("traceback")]
    assert logged["request_id"] == error["request_id"] and "OperationalError" in logged["traceback"]
    [request_line] = [line for line in lines if line.get("event") == "request"]
    assert request_line["status"] == 503 and request_line["level"] == "warning"
    assert "some-token-x" not in captured
