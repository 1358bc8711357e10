"""Mini CRM: contacts from many sources, handed to operators by weight."""

from __future__ import annotations

import os
import random
from pathlib import Path

from dotenv import load_dotenv
from flask import Flask, abort

from .autodrain import configure_auto_drain
from .core.body_limit import configure_body_limit
from .core.config import load_settings
from .core.database import configure_engine, engine_options
from .core.errors import register_error_handlers
from .core.extensions import csrf, db, limiter, login_manager
from .core.logs import configure_logging
from .core.proxy import configure_proxy
from .core.request_context import configure_request_context
from .core.security_headers import configure_security_headers
from .core.sessions import PagesOnlySessionInterface
from .services.users import use_password_profile
from .services.validation import is_id
from .web.errors import error_page

ROOT = Path(__file__).resolve().parent.parent


class CrmFlask(Flask):
    """Flask, remembering which functions are coroutines.

    Flask passes every hook and view through `ensure_sync` on every request,
    and each call asks `inspect.iscoroutinefunction` again, many times per
    webhook call. The functions are fixed
    once the app is built, so the answer is kept per function.
    """

    _SYNC_CACHE_LIMIT = 4096  # bounds the dict if something passes fresh callables

    def __init__(self, *args, **kwargs) -> None:
        self._sync_cache: dict = {}
        super().__init__(*args, **kwargs)

    def ensure_sync(self, func):
        try:
            return self._sync_cache[func]
        except KeyError:
            pass
        except TypeError:  # unhashable callable
            return super().ensure_sync(func)
        if len(self._sync_cache) >= self._SYNC_CACHE_LIMIT:
            self._sync_cache.clear()
        wrapped = self._sync_cache[func] = super().ensure_sync(func)
        return wrapped


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints, commands."""
    load_dotenv(ROOT / ".env")
    app = CrmFlask(
        __name__,
        instance_path=str(ROOT / "instance"),
        static_folder=str(ROOT / "static"),
        template_folder=str(ROOT / "templates"),
    )
    app.config.from_mapping(load_settings(Path(app.instance_path)))
    if test_config:
        app.config.from_mapping(test_config)
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        engine_options(app.config["SQLALCHEMY_DATABASE_URI"], app.config["CRM_DB_POOL_SIZE"]),
    )
    # The webhook is the only rate-limited route: with its limit off, keep
    # Flask-Limiter out of every request (its checks cost more than a bare request's work).
    app.config.setdefault("RATELIMIT_ENABLED", bool(app.config["CRM_WEBHOOK_RATE_LIMIT"]))
    app.json.sort_keys = False  # keep fields in the documented order
    # The random source of operator choice; tests put a seeded one here.
    app.extensions.setdefault("crm_rng", random.SystemRandom())

    use_password_profile(app.config["CRM_PASSWORD_PROFILE"])
    configure_proxy(app)
    configure_logging(app)  # first: its request clock runs before every other hook
    configure_body_limit(app)  # before any hook that reads the body (CSRF)
    configure_extensions(app)
    configure_request_context(app)
    configure_auto_drain(app)
    register_blueprints(app)
    register_error_handlers(app, error_page)
    configure_security_headers(app)
    register_commands(app)
    return app


def configure_extensions(app: Flask) -> None:
    app.session_interface = PagesOnlySessionInterface()
    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    # Served workers never migrate: gunicorn.conf.py sets CRM_SERVING, which
    # keeps Alembic (about 11 MB per worker) out of them. `flask db ...`,
    # tests and scripts get it as before.
    if not os.environ.get("CRM_SERVING"):
        from flask_migrate import Migrate

        from .services.search import described_by_models

        Migrate(compare_type=True, render_as_batch=True, include_object=described_by_models).init_app(
            app, db, directory=str(ROOT / "migrations")
        )
    csrf.init_app(app)
    # Its remember-me hook runs after every request; on the webhook and the
    # API it only looks into their empty session (core/sessions.py), which then
    # saves nothing.
    login_manager.init_app(app)
    limiter.init_app(app)


def register_blueprints(app: Flask) -> None:
    @app.url_value_preprocessor
    def ids_in_range(_endpoint, values):
        # An id beyond the 32-bit schema range names nothing: 404, not a
        # database error (checked after routing so other methods stay 404 too).
        for name, value in (values or {}).items():
            if name.endswith("_id") and isinstance(value, int) and not is_id(value):
                abort(404)

    from .api import bp as api_bp
    from .core.health import bp as health_bp
    from .web.setup import configure_web
    from .webhooks import bp as webhooks_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    csrf.exempt(webhooks_bp)
    csrf.exempt(api_bp)
    configure_web(app)


def register_commands(app: Flask) -> None:
    from .cli import crm_cli, users_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(crm_cli)
