"""Settings read from the environment (and `.env`), with sane defaults."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from ..domain.local_time import DEFAULT_TIMEZONE, is_zone_name

DEFAULT_RATE_LIMIT = "600/minute"
# The largest request body on any route (413 above it, nothing read: body_limit.py);
# the webhook keeps its own, smaller limit (64 KiB).
MAX_REQUEST_BODY = 1024 * 1024


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


def _flag(value: str | None, default: bool) -> bool:
    if value is None or not value.strip():
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _minutes(value: str) -> int | None:
    """A positive number of minutes, or None (off) for empty, 0 or "off"."""
    value = value.strip().lower()
    if value in ("", "0", "off", "no", "false"):
        return None
    minutes = int(value)
    if minutes < 0:
        raise ValueError("CRM_RETURN_AFTER_MINUTES must be a positive number of minutes")
    return minutes


def _timezone(value: str) -> str:
    """An IANA zone name; a wrong one stops the start, since every page's times would be off."""
    name = value.strip() or DEFAULT_TIMEZONE
    if not is_zone_name(name):
        raise ValueError(
            f"CRM_TIMEZONE={name!r} is not an IANA time zone name (such as Europe/Moscow or Asia/Vladivostok)"
        )
    return name


def _stream_url(value: str) -> str:
    value = value.strip()
    if value and not re.fullmatch(r"(https?://[^/\s\"';]+)?/[^\s\"';]*", value):
        raise ValueError("CRM_LIVE_STREAM_URL must be a path (/live/stream) or an http(s) URL")
    return value


def load_settings(instance_path: Path) -> dict:
    """Return the Flask config mapping built from the environment."""
    env = os.environ
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'crm.sqlite3'}"
    rate_limit = env.get("CRM_WEBHOOK_RATE_LIMIT", DEFAULT_RATE_LIMIT).strip()
    public_url = env.get("CRM_PUBLIC_URL", "").rstrip("/")
    secure_cookies = _flag(env.get("CRM_SECURE_COOKIES"), default=public_url.startswith("https://"))
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": _normalise_database_url(database_url),
        "CRM_PHONE_REGION": (env.get("CRM_PHONE_REGION") or "RU").upper(),
        "CRM_WEBHOOK_RATE_LIMIT": rate_limit,
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI") or "memory://",
        "CRM_PUBLIC_URL": public_url,
        # Where pages open the live stream (stream.conf.py, docs/live.md); empty: pages poll /live.
        "CRM_LIVE_STREAM_URL": _stream_url(env.get("CRM_LIVE_STREAM_URL", "")),
        "CRM_DB_POOL_SIZE": int(env.get("CRM_DB_POOL_SIZE", "5")),
        "CRM_PASSWORD_PROFILE": env.get("CRM_PASSWORD_PROFILE", "default"),
        "CRM_AUTO_DRAIN": _flag(env.get("CRM_AUTO_DRAIN"), default=False),
        "CRM_RETURN_AFTER_MINUTES": _minutes(env.get("CRM_RETURN_AFTER_MINUTES", "")),
        # The zone of the pages' times and of "today"; each user may choose their own.
        "CRM_TIMEZONE": _timezone(env.get("CRM_TIMEZONE", "")),
        # Sign-in throttling: failures per account and per client address in a window.
        "CRM_LOGIN_MAX_FAILURES_ACCOUNT": int(env.get("CRM_LOGIN_MAX_FAILURES_ACCOUNT", "5")),
        "CRM_LOGIN_MAX_FAILURES_ADDRESS": int(env.get("CRM_LOGIN_MAX_FAILURES_ADDRESS", "20")),
        "CRM_LOGIN_THROTTLE_MINUTES": int(env.get("CRM_LOGIN_THROTTLE_MINUTES", "15")),
        # A signed-in session ends after this long without a page view, and at
        # the latest this long after signing in (services/user_sessions.py).
        "CRM_SESSION_IDLE_HOURS": float(env.get("CRM_SESSION_IDLE_HOURS", "12")),
        "CRM_SESSION_MAX_DAYS": float(env.get("CRM_SESSION_MAX_DAYS", "7")),
        # Behind N reverse proxies: trust N hops of X-Forwarded-For and -Proto (proxy.py).
        "CRM_TRUSTED_PROXIES": int(env.get("CRM_TRUSTED_PROXIES", "0")),
        # Request bodies: no route takes more than MAX_REQUEST_BODY. A multipart
        # text part holds at most 64 KiB (the longest field, a contact's message
        # of 10,000 characters, takes at most 40,000 bytes); a form at most 1,000 parts.
        "MAX_CONTENT_LENGTH": MAX_REQUEST_BODY,
        "MAX_FORM_MEMORY_SIZE": 64 * 1024,
        "MAX_FORM_PARTS": 1000,
        "RATELIMIT_HEADERS_ENABLED": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # Cookies only over HTTPS when the public URL is https:// (or CRM_SECURE_COOKIES=1).
        "SESSION_COOKIE_SECURE": secure_cookies,
        "REMEMBER_COOKIE_SECURE": secure_cookies,
    }
