"""The baseline of bench/intake: the least a Flask app can do with a webhook call.

Served by the same gunicorn configuration as the CRM; it reads and parses
the same JSON body and answers 201 with a small JSON object. No database,
no validation: the ceiling of Flask + gunicorn on this machine.
"""

from __future__ import annotations

import json

from flask import Flask, request

app = Flask(__name__)


@app.post("/webhooks/<source_key>")
def receive(source_key: str):
    payload = json.loads(request.get_data())
    if not isinstance(payload, dict):
        return {"error": {"code": "bad_request", "message": "Body must be a JSON object."}}, 400
    return {"source": source_key, "fields": len(payload)}, 201
