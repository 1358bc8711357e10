"""Settings read from the environment (and `.env`), with sane defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULT_RATE_LIMIT = "600/minute"


def _secret_key(instance_path: Path) -> str:
    """Use SECRET_KEY, else a key generated once and kept under instance/."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: when several workers start at once, the first one's key wins.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _normalise_database_url(url: str) -> str:
    # Heroku-style URLs name the driver "postgres"; we always use psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def load_settings(instance_path: Path) -> dict:
    """Return the Flask config mapping built from the environment."""
    env = os.environ
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'crm.sqlite3'}"
    rate_limit = env.get("CRM_WEBHOOK_RATE_LIMIT", DEFAULT_RATE_LIMIT).strip()
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": _normalise_database_url(database_url),
        "CRM_PHONE_REGION": (env.get("CRM_PHONE_REGION") or "RU").upper(),
        "CRM_WEBHOOK_RATE_LIMIT": rate_limit,
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI") or "memory://",
        "CRM_PUBLIC_URL": env.get("CRM_PUBLIC_URL", "").rstrip("/"),
        "CRM_DB_POOL_SIZE": int(env.get("CRM_DB_POOL_SIZE", "5")),
        "CRM_PASSWORD_PROFILE": env.get("CRM_PASSWORD_PROFILE", "default"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
    }
