"""The canvas graph: nodes ``{id, type, position, data: {label, config}}`` and edges."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, field_validator

from server.schemas.common import RequestModel

Identifier = Annotated[str, Field(min_length=1, max_length=128)]

MAX_CONFIG_BYTES = 64 * 1024
"""A node's ``data.config`` as compact JSON; the largest real one (a train node) is under 2 KiB."""
MAX_CONFIG_DEPTH = 8
"""Nesting of objects and lists inside a config; real configs nest two levels at most."""
MAX_COORDINATE = 1e9


class Position(RequestModel):
    x: float = Field(ge=-MAX_COORDINATE, le=MAX_COORDINATE)
    y: float = Field(ge=-MAX_COORDINATE, le=MAX_COORDINATE)


def _depth(value: Any) -> int:
    """How deeply objects and lists nest in ``value`` (0 for a scalar); iterative, so any input is safe."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level + 1)
        if deepest > MAX_CONFIG_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


class NodeData(RequestModel):
    label: str | None = Field(default=None, max_length=500)
    config: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            f"The node type's config (see /node-types); at most {MAX_CONFIG_BYTES // 1024} KiB as JSON "
            f"and {MAX_CONFIG_DEPTH} levels deep."
        ),
    )

    @field_validator("config")
    @classmethod
    def _bounded(cls, config: dict[str, Any]) -> dict[str, Any]:
        if _depth(config) > MAX_CONFIG_DEPTH:
            raise ValueError(f"must not nest objects or lists more than {MAX_CONFIG_DEPTH} levels deep")
        try:
            size = len(json.dumps(config, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))
        except (TypeError, ValueError):
            raise ValueError("must be a JSON object") from None
        if size > MAX_CONFIG_BYTES:
            raise ValueError(f"must be at most {MAX_CONFIG_BYTES} bytes as JSON, got {size}")
        return config


class GraphNode(RequestModel):
    id: Identifier
    type: str = Field(min_length=1, max_length=100, description="A node type from /node-types.")
    position: Position | None = None
    data: NodeData = Field(default_factory=NodeData)


class GraphEdge(RequestModel):
    id: Identifier
    source: Identifier
    target: Identifier
    sourceHandle: str | None = Field(default=None, max_length=128)
    targetHandle: str | None = Field(default=None, max_length=128)


class Graph(RequestModel):
    """A canvas graph: nodes and directed edges."""

    nodes: list[GraphNode] = Field(max_length=1000)
    edges: list[GraphEdge] = Field(default_factory=list, max_length=5000)
