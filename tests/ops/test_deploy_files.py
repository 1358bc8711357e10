"""Dockerfile and docker-compose.yml, checked without a container engine.

What can be checked here: the compose file parses, has the services, ports
and health checks it should, and sets only settings the app reads, with
values the app's own settings loader turns into the intended config; the
Dockerfile's user, port, health check and start command agree with the
compose file and with the command README.md documents.
"""

from __future__ import annotations

import fnmatch
import json
import re
import runpy
import shlex
from pathlib import Path

import pytest
import yaml

from crm_web.core.config import load_settings
from crm_web.core.logs import FORMATS

ROOT = Path(__file__).resolve().parents[2]
# The files that read settings from the environment: the app's settings,
# gunicorn's (bind address, workers) and the log format.
SETTINGS_READERS = ("crm_web/core/config.py", "gunicorn.conf.py", "stream.conf.py", "crm_web/core/logs.py")
ENV_READ = re.compile(r"""(?:env|environ)(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]*)["']""")
INTERPOLATION = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::?([-?])([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _one(dockerfile, keyword: str) -> str:
    found = [rest for kw, rest in dockerfile if kw == keyword]
    assert len(found) == 1, f"{keyword}: {found}"
    return found[0]


def _dockerfile_env(dockerfile) -> dict[str, str]:
    env = {}
    for keyword, rest in dockerfile:
        if keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def _settings_read_by_the_app() -> set[str]:
    names = set()
    for path in SETTINGS_READERS:
        names |= set(ENV_READ.findall((ROOT / path).read_text()))
    return names


def _resolve(value: str, shell: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, from `shell`."""

    def replace(match: re.Match) -> str:
        name, kind, arg = match.groups()
        if shell.get(name):
            return shell[name]
        if kind == "?":
            raise KeyError(f"{name} is required: {arg}")
        return arg or ""

    return INTERPOLATION.sub(replace, str(value))


def _readme_start_command() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Deployment (Docker)", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    commands = [line for block in blocks for line in block.splitlines() if "gunicorn" in line]
    assert len(commands) == 1, commands
    return commands[0].strip()


def test_compose_services_images_and_health_checks(compose):
    services = compose["services"]
    assert set(services) == {"app", "live", "db", "redis"}
    assert services["app"]["build"] == "."
    assert services["db"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    db_check = services["db"]["healthcheck"]["test"]
    assert db_check[0] == "CMD-SHELL" and "pg_isready" in db_check[1]
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    for name in ("db", "redis"):
        check = services[name]["healthcheck"]
        assert {"interval", "timeout", "retries"} <= set(check)
    depends = services["app"]["depends_on"]
    assert depends == {"db": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"}}
    assert "ports" not in services["db"], "PostgreSQL should not be published on the host"
    assert "pgdata" in compose["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]


def test_compose_sets_only_settings_the_app_reads(compose):
    environment = compose["services"]["app"]["environment"]
    assert isinstance(environment, dict)
    unknown = set(environment) - _settings_read_by_the_app()
    assert not unknown, f"the compose file sets variables nothing reads: {sorted(unknown)}"
    assert {"DATABASE_URL", "SECRET_KEY", "RATELIMIT_STORAGE_URI", "CRM_BIND"} <= set(environment)


def test_compose_environment_gives_the_intended_config(compose, monkeypatch, tmp_path):
    services = compose["services"]
    shell = {"SECRET_KEY": "from-the-shell-" + "x" * 40}
    env = {name: _resolve(value, shell) for name, value in services["app"]["environment"].items()}
    with pytest.raises(KeyError, match="SECRET_KEY"):  # required, no weak default
        _resolve(services["app"]["environment"]["SECRET_KEY"], {})
    for name in _settings_read_by_the_app():
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(tmp_path)
    db_env = {name: _resolve(value, shell) for name, value in services["db"]["environment"].items()}
    user, password, database = db_env["POSTGRES_USER"], db_env["POSTGRES_PASSWORD"], db_env["POSTGRES_DB"]
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"postgresql+psycopg://{user}:{password}@db:5432/{database}"
    assert settings["RATELIMIT_STORAGE_URI"] == "redis://redis:6379/0"
    assert settings["SECRET_KEY"] == shell["SECRET_KEY"]
    assert settings["CRM_WEBHOOK_RATE_LIMIT"] == "600/minute"
    assert settings["CRM_PHONE_REGION"] == "RU"
    assert env["CRM_LOG_FORMAT"] in FORMATS
    # The same password variable for the server and the app's URL.
    assert "${POSTGRES_PASSWORD:-crm}" in services["app"]["environment"]["DATABASE_URL"]
    assert services["db"]["environment"]["POSTGRES_PASSWORD"] == "${POSTGRES_PASSWORD:-crm}"
    # gunicorn.conf.py binds where the compose file says (it sets CRM_SERVING: undone after the test).
    monkeypatch.setenv("CRM_SERVING", "1")
    gunicorn = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert gunicorn["bind"] == "0.0.0.0:8000"
    assert gunicorn["workers"] == int(env["WEB_CONCURRENCY"])


def test_gunicorn_runs_two_workers_per_usable_core_unless_told(monkeypatch):
    monkeypatch.setenv("CRM_SERVING", "1")
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0, 1, 2})
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["workers"] == 6
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["workers"] == 3


def test_dockerfile_base_user_dependencies(dockerfile):
    assert _one(dockerfile, "FROM") == "python:3.11-slim"
    user = _one(dockerfile, "USER")
    assert user not in ("root", "0") and not user.startswith("0:")
    runs = [rest for kw, rest in dockerfile if kw == "RUN"]
    assert any("pip install -r requirements.txt" in run for run in runs)
    assert any("useradd" in run and user in run for run in runs)
    # The user is set after the last RUN that needs root, and nothing runs as root after it.
    keywords = [kw for kw, _ in dockerfile]
    assert keywords.index("USER") > max(i for i, kw in enumerate(keywords) if kw == "RUN")


def test_dockerfile_starts_with_the_readme_command(dockerfile):
    command = _readme_start_command()
    assert command == "flask db upgrade && exec gunicorn -c gunicorn.conf.py wsgi:app"
    assert json.loads(_one(dockerfile, "CMD")) == ["sh", "-c", command]
    assert not [kw for kw, _ in dockerfile if kw == "ENTRYPOINT"]
    assert _dockerfile_env(dockerfile)["FLASK_APP"] == "wsgi"


def test_ports_agree(compose, dockerfile):
    exposed = _one(dockerfile, "EXPOSE")
    assert exposed.isdigit()
    env = _dockerfile_env(dockerfile)
    assert env["CRM_BIND"] == f"0.0.0.0:{exposed}"
    app = compose["services"]["app"]
    assert app["environment"]["CRM_BIND"] == f"0.0.0.0:{exposed}"
    [mapping] = app["ports"]
    assert str(mapping).rsplit(":", 1)[1] == exposed
    healthcheck = _one(dockerfile, "HEALTHCHECK")
    assert f"http://127.0.0.1:{exposed}/healthz" in healthcheck
    assert re.search(r"--interval=\S+", healthcheck) and re.search(r"--retries=\d+", healthcheck)
    assert "CMD " in healthcheck


def test_dockerignore_keeps_secrets_out_and_the_app_in():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(
            fnmatch.fnmatch(prefix, pattern.removeprefix("**/")) or fnmatch.fnmatch(prefix, pattern)
            for pattern in patterns
            for prefix in prefixes
        )

    for path in (".env", ".venv/bin/python", ".git/config", "instance/secret_key", "instance/crm.sqlite3"):
        assert ignored(path), path
    for path in ("requirements.txt", "wsgi.py", "gunicorn.conf.py", "crm_web/__init__.py",
                 "migrations/env.py", "templates/base.html", "static/css/app.css",
                 "crm_web/translations/ru/LC_MESSAGES/messages.po"):
        assert not ignored(path), path
        assert (ROOT / path).exists(), path


def test_compose_serves_the_live_stream_where_the_pages_open_it(compose, monkeypatch):
    services = compose["services"]
    live = services["live"]
    assert live["build"] == "." and live["command"] == ["gunicorn", "-c", "stream.conf.py"]
    # The same database and secret as the app: the stream reads the app's tickets and data.
    for name in ("DATABASE_URL", "SECRET_KEY"):
        assert live["environment"][name] == services["app"]["environment"][name]
    monkeypatch.setenv("CRM_LIVE_BIND", live["environment"]["CRM_LIVE_BIND"])
    monkeypatch.setenv("CRM_SERVING", "1")  # stream.conf.py sets it: undone after the test
    stream = runpy.run_path(str(ROOT / "stream.conf.py"))
    port = stream["bind"].rsplit(":", 1)[1]
    [mapping] = live["ports"]
    assert str(mapping).rsplit(":", 1)[1] == port
    url = _resolve(services["app"]["environment"]["CRM_LIVE_STREAM_URL"], {})
    assert url == f"http://127.0.0.1:{port}/live/stream"
    assert f"http://127.0.0.1:{port}/healthz" in " ".join(live["healthcheck"]["test"])
    assert stream["worker_class"] == "gthread" and stream["threads"] >= 200
