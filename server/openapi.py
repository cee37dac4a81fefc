"""The OpenAPI 3.1 document, generated from the operation table and its pydantic models."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from server.routing import API_PREFIX, Body, Operation
from server.schemas.common import ErrorDocument

REF = "#/components/schemas/{model}"
_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "Deleted",
    400: "The request is malformed",
    401: "A valid bearer token is required",
    403: "Not allowed",
    404: "Not found (or owned by another user)",
    405: "Method not allowed",
    409: "Conflict with the current state",
    413: "The request body is too large, or storing it would exceed the storage quota",
    415: "The body's Content-Encoding is not supported (plain, gzip and deflate are)",
    429: "Too many heavy requests of this user in flight; retry after Retry-After seconds",
    422: "The request content is invalid; `details.field` names the field",
    503: "Not ready",
}


def _collect(operations: Iterable[Operation]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorDocument, "serialization")]
    for op in operations:
        if isinstance(op.body, type):
            wanted.append((op.body, "validation"))
        if op.query is not None:
            wanted.append((op.query, "validation"))
        wanted.extend((m, "serialization") for m in op.responses.values() if isinstance(m, type))
    return list(dict.fromkeys(wanted))


def _drop_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional query parameter is simply left out; ``null`` cannot be sent in a URL."""
    variants = schema.get("anyOf")
    if isinstance(variants, list):
        rest = [v for v in variants if v != {"type": "null"}]
        if len(rest) == 1 and len(rest) < len(variants):
            merged = {k: v for k, v in schema.items() if k != "anyOf"}
            merged.update(rest[0])
            schema = merged
    if schema.get("default", ...) is None:
        schema = {k: v for k, v in schema.items() if k != "default"}
    schema.pop("title", None)
    return schema


def _parameters(op: Operation, definitions: dict[str, Any], refs: Mapping[Any, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": dict(schema)}
        for name, schema in op.path_params.items()
    ]
    if op.query is not None:
        ref = refs[(op.query, "validation")]["$ref"].rsplit("/", 1)[-1]
        model_schema = definitions[ref]
        required = set(model_schema.get("required", []))
        for name, prop in model_schema.get("properties", {}).items():
            schema = _drop_null(copy.deepcopy(prop))
            param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": schema}
            if "description" in schema:
                param["description"] = schema.pop("description")
            if schema.get("type") == "array":
                param.update(style="form", explode=True)
            params.append(param)
    return params


def _content(body: Body, mode: JsonSchemaMode, refs: Mapping[Any, Any]) -> dict[str, Any]:
    if isinstance(body, type):
        return {"application/json": {"schema": refs[(body, mode)]}}
    return copy.deepcopy(dict(body))


def _operation(op: Operation, definitions: dict[str, Any], refs: Mapping[Any, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, body in op.responses.items():
        entry: dict[str, Any] = {"description": _REASONS.get(status, "Response")}
        if body is not None:
            entry["content"] = _content(body, "serialization", refs)
        responses[str(status)] = entry
    for status in op.error_statuses():
        responses.setdefault(
            str(status),
            {
                "description": _REASONS.get(status, "Error"),
                "content": {"application/json": {"schema": refs[(ErrorDocument, "serialization")]}},
            },
        )
    doc: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "responses": dict(sorted(responses.items())),
    }
    params = _parameters(op, definitions, refs)
    if params:
        doc["parameters"] = params
    if op.body is not None:
        doc["requestBody"] = {"required": op.body_required, "content": _content(op.body, "validation", refs)}
    if op.public:
        doc["security"] = []
    return doc


def build_openapi(operations: Iterable[Operation], *, title: str = "mlw", version: str = "0.1.0") -> dict[str, Any]:
    """The OpenAPI 3.1 document describing ``operations``."""
    ops = list(operations)
    refs, top = models_json_schema(_collect(ops), ref_template=REF)
    definitions: dict[str, Any] = dict(top.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        paths.setdefault(op.full_path, {})[op.method.lower()] = _operation(op, definitions, refs)
    query_models = {refs[(op.query, "validation")]["$ref"].rsplit("/", 1)[-1] for op in ops if op.query is not None}
    schemas = {name: schema for name, schema in definitions.items() if name not in query_models}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Training jobs, pipelines, datasets and model versions of the ML-pipeline canvas.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "x-api-prefix": API_PREFIX,
    }


def set_property(document: dict[str, Any], schema: str, prop: str, **keywords: Any) -> None:
    """Add JSON-schema ``keywords`` to a property whose bounds come from configuration.

    A ``number`` variant of an ``anyOf`` receives the keywords, the property its description.
    """
    target = document["components"]["schemas"][schema]["properties"][prop]
    description = keywords.pop("description", None)
    if description is not None:
        target["description"] = description
    variants = target.get("anyOf")
    for variant in variants if isinstance(variants, list) else [target]:
        if variant.get("type") in ("number", "integer"):
            variant.update(keywords)
