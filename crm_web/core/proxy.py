"""Behind reverse proxies: trust their X-Forwarded-* headers (CRM_TRUSTED_PROXIES=N).

With N proxies in front, werkzeug's ProxyFix takes the client address and
the scheme from the last N hops of X-Forwarded-For and X-Forwarded-Proto:
the sign-in throttle, the webhook rate limit and the audit trail then see
the client, not the proxy, and generated URLs say https. X-Forwarded-Host
is not trusted (many proxies pass a client's value through): the proxy
keeps the Host header, and CRM_PUBLIC_URL names the public address. Never
set it without a proxy in front: clients could then claim any address.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def configure_proxy(app: Flask) -> None:
    hops = app.config.get("CRM_TRUSTED_PROXIES", 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
