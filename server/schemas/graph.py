"""The canvas graph: nodes ``{id, type, position, data: {label, config}}`` and edges."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from server.schemas.common import RequestModel

Identifier = Annotated[str, Field(min_length=1, max_length=128)]


class Position(RequestModel):
    x: float
    y: float


class NodeData(RequestModel):
    label: str | None = Field(default=None, max_length=500)
    config: dict[str, Any] = Field(default_factory=dict, description="The node type's config (see /node-types).")


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
