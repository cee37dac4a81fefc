"""The identity of a pipeline: a hash of its data path (DESIGN section 4).

Pure functions, no I/O. The hash covers what decides which rows and columns reach a model:
the nodes' ids, types and configs, and the edges' endpoints. It leaves out layout (node
``position`` and any other key than ``id``/``type``/``data``, ``data.label``, edge ids)
and the configs of ``train_model`` nodes, so a hyperparameter change keeps the pipeline id
and adds a model version, while a change to the data path makes a new pipeline id.
``validate_model`` nodes and their edges are left out entirely: they read models, not
the data path, so adding, configuring or removing one keeps the pipeline (and its versions).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from store.errors import InvalidInput

TRAIN_MODEL = "train_model"
OFF_PATH = frozenset({"validate_model"})
"""Node types that consume models and never feed the data path."""
_EDGE_KEYS = ("source", "target", "sourceHandle", "targetHandle")


def _node_view(node: Any, where: str) -> dict[str, Any]:
    if not isinstance(node, Mapping):
        raise InvalidInput(where, "a node must be an object")
    node_id, node_type = node.get("id"), node.get("type")
    if not isinstance(node_id, str) or not node_id:
        raise InvalidInput(f"{where}.id", "must be a non-empty string")
    if not isinstance(node_type, str) or not node_type:
        raise InvalidInput(f"{where}.type", "must be a non-empty string")
    data = node.get("data") or {}
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{where}.data", "must be an object")
    kept = {k: v for k, v in data.items() if k != "label"}
    if node_type == TRAIN_MODEL:
        kept.pop("config", None)
    return {"id": node_id, "type": node_type, "data": kept}


def _edge_view(edge: Any, where: str) -> dict[str, Any]:
    if not isinstance(edge, Mapping):
        raise InvalidInput(where, "an edge must be an object")
    for key in ("source", "target"):
        if not isinstance(edge.get(key), str) or not edge.get(key):
            raise InvalidInput(f"{where}.{key}", "must be a non-empty string")
    return {k: edge[k] for k in _EDGE_KEYS if edge.get(k) is not None}


def _items(graph: Mapping[str, Any], key: str) -> Sequence[Any]:
    value = graph.get(key, [])
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise InvalidInput(f"graph.{key}", "must be a list")
    return value


def data_path_view(graph: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``graph`` that the hash covers, in a canonical order.

    Raises:
        InvalidInput: the graph is malformed; the error names the field.
    """
    if not isinstance(graph, Mapping):
        raise InvalidInput("graph", "must be an object with nodes and edges")
    nodes = [_node_view(n, f"graph.nodes[{i}]") for i, n in enumerate(_items(graph, "nodes"))]
    ids = [n["id"] for n in nodes]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise InvalidInput("graph.nodes", f"node id {duplicate!r} appears more than once")
    edges = [_edge_view(e, f"graph.edges[{i}]") for i, e in enumerate(_items(graph, "edges"))]
    off_path = {n["id"] for n in nodes if n["type"] in OFF_PATH}
    nodes = [n for n in nodes if n["id"] not in off_path]
    edges = [e for e in edges if e["source"] not in off_path and e["target"] not in off_path]
    nodes.sort(key=lambda n: str(n["id"]))
    edges.sort(key=lambda e: tuple(str(e.get(k, "")) for k in _EDGE_KEYS))
    return {"nodes": nodes, "edges": edges}


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys; numbers keep their type (``1`` and ``1.0`` differ).

    Raises:
        InvalidInput: the value holds something JSON cannot represent (or NaN/infinity).
    """
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("graph", f"not representable as JSON: {exc}") from None


def graph_hash(graph: Mapping[str, Any]) -> str:
    """The sha256 (hex) of the canonical JSON of the graph's data path."""
    return hashlib.sha256(canonical_json(data_path_view(graph)).encode("utf-8")).hexdigest()


def pipeline_id_for(dataset_source_id: str, hash_hex: str) -> str:
    """``f"{dataset_source_id}_{graph_hash[:12]}"``, the pipeline's primary key."""
    return f"{dataset_source_id}_{hash_hex[:12]}"
