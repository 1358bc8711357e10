"""gunicorn settings; each can be overridden from the environment."""

import gc
import os

# The served app leaves out what only the command line needs (Alembic).
os.environ.setdefault("CRM_SERVING", "1")

bind = os.environ.get("CRM_BIND", "127.0.0.1:8000")
# Two sync workers per core: a webhook call spends about a quarter of its
# time waiting on the database (round trips, PostgreSQL's WAL flush), and the
# second process on a core runs meanwhile. bench/intake, 2 cores, PostgreSQL:
# 954 req/s with 2 workers, 1,144 with 4; 5 gained nothing more.
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * len(os.sched_getaffinity(0))))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
keepalive = 5
# A sync worker reports to the master only between requests, so this is also
# the longest a response may take: a streamed CSV export of 1,000,000
# contacts needs about a minute here. Hung workers are still replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "180"))
graceful_timeout = 20
# GUNICORN_ACCESS_LOG= (empty) turns the access log off.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
# The default format logs the request line with its query string, where the
# webhook's ?token= (and lead searches by phone or email) would be written
# out: log the path only (%(U)s), never the query; and no Referer (%(f)s),
# which carries the query string of the page the browser came from.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s"'
errorlog = "-"
# gunicorn's control socket lives at one path per user; several instances on
# one host would fight over it, and we do not use it.
control_socket_disable = True


def post_worker_init(_worker):
    """Leave what the loaded app holds (modules, routes, compiled statements,
    about 120,000 objects) out of the cyclic collector's passes: they live
    as long as the worker, and walking them adds milliseconds to whichever
    request triggers an older generation's collection."""
    gc.freeze()


def worker_exit(_server, _worker):
    """Write the webhook delivery rows the worker still holds (services/deliveries.py)."""
    from crm_web.services.deliveries import flush_all

    flush_all()
