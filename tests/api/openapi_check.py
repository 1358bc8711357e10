"""Checking real responses against the OpenAPI document (used by the API and fuzz tests).

Responses are validated strictly: every object schema with `properties` is
closed (`additionalProperties: false`) for the check, so that a field the
app sends but the document does not name fails a test. The published
document stays open, so that clients ignore fields added later.
"""

from __future__ import annotations

import re
from functools import cache

from jsonschema import Draft202012Validator

from crm_web.api.openapi import openapi_document

METHODS = ("get", "post", "put", "patch", "delete", "options")


def close_objects(node):
    """Recursively set additionalProperties: false on object schemas that list properties."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            close_objects(value)
    elif isinstance(node, list):
        for value in node:
            close_objects(value)
    return node


@cache
def strict_document() -> dict:
    document = openapi_document()
    close_objects(document["components"]["schemas"])
    return document


def path_regex(template: str) -> re.Pattern:
    pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
    return re.compile(f"^{pattern}$")


@cache
def _templates() -> list[tuple[re.Pattern, str]]:
    return [(path_regex(t), t) for t in openapi_document()["paths"]]


def operation_for(method: str, path: str) -> tuple[str, dict]:
    """The documented (path template, operation) for a concrete request; AssertionError if none."""
    path = path.split("?", 1)[0]
    for regex, template in _templates():
        if regex.match(path):
            item = openapi_document()["paths"][template]
            assert method.lower() in item, f"{method} {template} is not documented"
            return template, item[method.lower()]
    raise AssertionError(f"no documented path matches {path}")


def schema_validator(schema: dict) -> Draft202012Validator:
    """A validator resolving #/components/... against the strict document."""
    root = {**schema, "components": strict_document()["components"]}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def resolve(node: dict) -> dict:
    document = strict_document()
    while "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def check_response(method: str, path: str, response) -> tuple[str, str, int]:
    """Assert the response is documented (status, content type, body schema); return the key."""
    template, operation = operation_for(method, path)
    status = str(response.status_code)
    body_text = response.get_data(as_text=True)
    assert status in operation["responses"], (
        f"{method} {template} answered undocumented {status}: {body_text[:300]}"
    )
    documented = resolve(operation["responses"][status])
    content = documented.get("content", {})
    if not content:
        assert not response.get_data(), f"{method} {template} {status}: a body where none is documented"
        return template, method.upper(), response.status_code
    assert response.mimetype in content, (
        f"{method} {template} {status}: {response.mimetype} not in {list(content)}"
    )
    if response.mimetype == "application/json":
        body = response.get_json()
        errors = sorted(
            schema_validator(content["application/json"]["schema"]).iter_errors(body), key=str
        )
        assert not errors, (
            f"{method} {template} {status}: body breaks its schema: "
            f"{[f'{list(e.absolute_path)}: {e.message}' for e in errors[:5]]}\n{body_text[:500]}"
        )
    for header, spec in documented.get("headers", {}).items():
        if spec.get("required"):
            assert header in response.headers, f"{method} {template} {status}: no {header}"
    return template, method.upper(), response.status_code


def documented_operations() -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, item in openapi_document()["paths"].items()
        for method in METHODS
        if method in item
    }
