# Mini CRM under gunicorn. Migrations are applied on every start, then the
# app is served: the same command as in README.md, "Deployment (Docker)".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLASK_APP=wsgi \
    CRM_BIND=0.0.0.0:8000 \
    CRM_LOG_FORMAT=json

RUN useradd --system --create-home --uid 10001 --user-group crm
WORKDIR /app

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt .
RUN pip install -r requirements.txt

# The app's own files belong to its user: instance/ (a generated secret key
# when SECRET_KEY is unset) and the compiled translations are written at start.
COPY --chown=crm:crm . .
RUN mkdir -p instance && chown crm:crm /app instance
USER crm

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]

CMD ["sh", "-c", "flask db upgrade && exec gunicorn -c gunicorn.conf.py wsgi:app"]
