"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

from crm_web import create_app

app = create_app()
