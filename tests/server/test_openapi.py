"""The generated OpenAPI document: complete, resolvable, and honest about errors and auth."""

from __future__ import annotations

from typing import Any

from server.app import OPERATIONS
from server.openapi import build_openapi


def _resolve(doc: dict[str, Any], node: Any) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.removeprefix("#/components/schemas/")
            assert name in doc["components"]["schemas"], ref
        for value in node.values():
            _resolve(doc, value)
    elif isinstance(node, list):
        for value in node:
            _resolve(doc, value)


def test_every_reference_resolves_and_every_operation_is_unique() -> None:
    doc = build_openapi(OPERATIONS)
    _resolve(doc, doc)
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) == len(OPERATIONS)


def test_protected_operations_document_401_and_public_ones_need_no_token() -> None:
    doc = build_openapi(OPERATIONS)
    for path, item in doc["paths"].items():
        for op in item.values():
            if path.endswith(("/health", "/ready")):
                assert op["security"] == []
                assert "401" not in op["responses"]
            else:
                assert "security" not in op
                assert "401" in op["responses"]


def test_query_parameters_come_from_the_same_models_the_handlers_validate_with() -> None:
    doc = build_openapi(OPERATIONS)
    params = {p["name"]: p for p in doc["paths"]["/ml-workflow/api/training-jobs"]["get"]["parameters"]}
    assert set(params) >= {
        "pipeline_id",
        "node_id",
        "status",
        "kind",
        "model_type",
        "created_after",
        "created_before",
        "order_by",
        "limit",
        "cursor",
    }
    assert params["status"]["schema"]["type"] == "array"
    assert params["status"]["explode"] is True
    assert params["kind"]["schema"]["type"] == "array"
    assert params["kind"]["explode"] is True
    assert params["kind"]["schema"]["items"] == {"$ref": "#/components/schemas/JobKind"}
    assert set(doc["components"]["schemas"]["JobKind"]["enum"]) == {"training", "validation", "predictions"}
    mine = {p["name"] for p in doc["paths"]["/ml-workflow/api/users/me/training-jobs"]["get"]["parameters"]}
    assert "kind" in mine
    assert params["limit"]["schema"]["maximum"] == 200
    assert "JobListQuery" not in doc["components"]["schemas"]


def test_request_bodies_forbid_unknown_fields() -> None:
    doc = build_openapi(OPERATIONS)
    schemas = doc["components"]["schemas"]
    for name in ("SubmitJobIn", "PipelineIn", "TrainConfigIn", "GraphNode"):
        assert schemas[name]["additionalProperties"] is False, name
