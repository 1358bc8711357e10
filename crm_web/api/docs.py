"""The API described: GET /api/v1/openapi.json (no token) and /docs/api, a page for people.

The page is rendered on the server from the same document (no CDN, no
script), for signed-in staff like every other page. It lives outside
/api/, whose requests carry no cookie session.
"""

from __future__ import annotations

import json
import re

from flask import Blueprint, current_app, jsonify, render_template
from flask_login import login_required
from markupsafe import Markup, escape

from . import bp
from .openapi import openapi_document

pages = Blueprint("api_docs", __name__)
METHODS = ("get", "post", "put", "patch", "delete", "options")
CODE_SPAN = re.compile(r"`([^`]+)`")


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(openapi_document())


@pages.get("/docs/api")
@login_required
def reference():
    document = openapi_document()
    has_tokens_page = "web.tokens" in current_app.view_functions
    return render_template("api/docs.html", has_tokens_page=has_tokens_page, **reference_data(document))


# The API blueprint registers the page's blueprint on the app with itself.
bp.record_once(lambda state: state.app.register_blueprint(pages))


def inline_code(text: str) -> Markup:
    """Escape the text, then show `spans` as <code>."""
    return Markup(CODE_SPAN.sub(r"<code>\1</code>", str(escape(text or ""))))


class Resolver:
    def __init__(self, document: dict) -> None:
        self.document = document

    def __call__(self, node: dict) -> dict:
        while isinstance(node, dict) and "$ref" in node:
            node = self.lookup(node["$ref"])
        return node

    def lookup(self, pointer: str) -> dict:
        node = self.document
        for part in pointer.removeprefix("#/").split("/"):
            node = node[part]
        return node


def ref_name(schema: dict) -> str | None:
    ref = schema.get("$ref", "") if isinstance(schema, dict) else ""
    return ref.rsplit("/", 1)[-1] if ref.startswith("#/components/schemas/") else None


def type_label(schema: dict) -> str:
    """"integer", "string or null", "array of Contact", "Contact or null"..."""
    name = ref_name(schema)
    if name:
        return name
    if "anyOf" in schema:
        return " or ".join(type_label(part) for part in schema["anyOf"])
    kind = schema.get("type")
    if kind is None:
        return "any"
    kinds = kind if isinstance(kind, list) else [kind]
    labels = []
    for one in kinds:
        if one == "array" and "items" in schema:
            labels.append(f"array of {type_label(schema['items'])}")
        else:
            labels.append(one)
    return " or ".join(labels)


def constraints(schema: dict) -> list[str]:
    notes = []
    for part in schema.get("anyOf", []):
        if "$ref" not in part:
            notes += constraints(part)
    if "enum" in schema:
        notes.append("one of " + ", ".join(json.dumps(v) for v in schema["enum"]))
    if "minimum" in schema or "maximum" in schema:
        notes.append(f"{schema.get('minimum', '…')}..{schema.get('maximum', '…')}")
    if "minLength" in schema or "maxLength" in schema:
        notes.append(f"{schema.get('minLength', 0)}..{schema.get('maxLength', '…')} characters")
    if "pattern" in schema:
        notes.append(f"pattern {schema['pattern']}")
    if "format" in schema:
        notes.append(schema["format"])
    if "default" in schema:
        notes.append(f"default {json.dumps(schema['default'])}")
    if schema.get("readOnly"):
        notes.append("read-only")
    return notes


def field_rows(schema: dict, resolve: Resolver) -> list[dict]:
    """One row per property of an object schema (one level; nested types are linked)."""
    schema = resolve(schema)
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        rows.append(
            {
                "name": name,
                "type": type_label(prop),
                "link": ref_name(prop) or ref_name(prop.get("items", {})) or _nullable_ref(prop),
                "required": name in required,
                "notes": constraints(prop),
                "description": inline_code(prop.get("description", "")),
            }
        )
    return rows


def _nullable_ref(prop: dict) -> str | None:
    for part in prop.get("anyOf", []):
        if ref_name(part):
            return ref_name(part)
    return None


def example_of(media: dict, resolve: Resolver) -> str | None:
    example = media.get("example")
    if example is None:
        example = resolve(media.get("schema", {})).get("example")
    return None if example is None else json.dumps(example, indent=2, ensure_ascii=False)


def auth_label(operation: dict, document: dict) -> str:
    security = operation.get("security", document["security"])
    if not security:
        return "none"
    schemes = document["components"]["securitySchemes"]
    labels = []
    for requirement in security:
        for name in requirement:
            scheme = schemes[name]
            if scheme["type"] == "http":
                labels.append("Authorization: Bearer <api token>")
            elif scheme["in"] == "header":
                labels.append(f"{scheme['name']}: <webhook token>")
            else:
                labels.append(f"?{scheme['name']}=<webhook token>")
    return " or ".join(labels)


def reference_data(document: dict) -> dict:
    resolve = Resolver(document)
    operations: dict[str, list[dict]] = {tag["name"]: [] for tag in document["tags"]}
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            parameters = [resolve(p) for p in [*shared, *operation.get("parameters", [])]]
            body = None
            if "requestBody" in operation:
                request_body = resolve(operation["requestBody"])
                content = request_body["content"]
                first = next(iter(content.values()))
                body = {
                    "types": list(content),
                    "schema": ref_name(first["schema"]),
                    "description": inline_code(request_body.get("description", "")),
                    "fields": field_rows(first["schema"], resolve),
                    "schema_description": inline_code(resolve(first["schema"]).get("description", "")),
                    "example": example_of(first, resolve),
                }
            responses = []
            for status, response in operation["responses"].items():
                response = resolve(response)
                content = response.get("content", {})
                json_media = content.get("application/json")
                responses.append(
                    {
                        "status": status,
                        "description": inline_code(response.get("description", "")),
                        "types": list(content),
                        "schema": ref_name(json_media["schema"]) if json_media else None,
                        "headers": list(response.get("headers", {})),
                        "example": example_of(json_media, resolve)
                        if json_media and status.startswith("2")
                        else None,
                    }
                )
            operations[operation["tags"][0]].append(
                {
                    "id": operation["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "summary": operation["summary"],
                    "description": inline_code(operation.get("description", "")),
                    "auth": auth_label(operation, document),
                    "parameters": [
                        {
                            "name": p["name"],
                            "in": p["in"],
                            "type": type_label(p["schema"]),
                            "required": p.get("required", False),
                            "notes": constraints(p["schema"]),
                            "description": inline_code(p.get("description", "")),
                        }
                        for p in parameters
                    ],
                    "body": body,
                    "responses": responses,
                }
            )
    schemas = [
        {
            "name": name,
            "description": inline_code(schema.get("description", "")),
            "fields": field_rows(schema, resolve),
            "example": json.dumps(schema["example"], indent=2, ensure_ascii=False)
            if "example" in schema
            else None,
        }
        for name, schema in document["components"]["schemas"].items()
    ]
    return {
        "info": document["info"],
        "intro": [inline_code(par) for par in document["info"]["description"].split("\n\n")],
        "tags": document["tags"],
        "operations": operations,
        "schemas": schemas,
    }
