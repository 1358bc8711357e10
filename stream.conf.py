"""gunicorn settings of the live stream (crm_web/live_stream.py, docs/live.md).

`gunicorn -c stream.conf.py` serves it; each setting can be overridden from
the environment. One worker with many threads: an open page holds a thread
that sleeps until its state changes, and the worker's one watcher reads the
database for all of them.
"""

import os

os.environ.setdefault("CRM_SERVING", "1")

wsgi_app = "crm_web.live_stream:create_stream_app()"
bind = os.environ.get("CRM_LIVE_BIND", "127.0.0.1:8001")
workers = int(os.environ.get("CRM_LIVE_WORKERS", "1"))
worker_class = "gthread"
# Open pages per worker; one more waits until another closes.
threads = int(os.environ.get("CRM_LIVE_THREADS", "1000"))
worker_connections = threads + 100  # and some keep-alive connections between requests
# gthread reports to the master from its main thread: a stream open for
# minutes is not a hung worker.
timeout = 30
# Streams never finish by themselves: on restart, browsers reconnect at once.
graceful_timeout = 2
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
# The path only: the query carries the page's ticket.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s'
errorlog = "-"
control_socket_disable = True
