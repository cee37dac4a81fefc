"""Structural validation of the pipeline graph and the execution order of a node.

A graph is ``{"nodes": [{id, type, position, data: {label, config}}], "edges": [{id,
source, target}]}``. Execution order is the topological order of the training node's
ancestors, ties broken by the nodes' order in the graph so it is deterministic.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actors.errors import InvalidGraph
from actors.ml.node_types import DATASET_SOURCE, NODE_TYPES, RESAMPLE, SPLIT, TRAIN_MODEL


@dataclass(frozen=True)
class GraphNode:
    """A node of a structurally valid graph.

    Attributes:
        id: Node id.
        type: Node type (a key of ``NODE_TYPES``).
        index: Position in ``graph.nodes`` (used in error field paths).
        config: The raw, not yet validated config object (or None).
    """

    id: str
    type: str
    index: int
    config: Any

    @property
    def path(self) -> str:
        """Dotted path of this node in the graph JSON."""
        return f"graph.nodes[{self.index}]"


def _parse_nodes(graph: Mapping[str, Any]) -> dict[str, GraphNode]:
    raw_nodes = graph.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise InvalidGraph("must be a non-empty list of nodes", field="graph.nodes")
    nodes: dict[str, GraphNode] = {}
    for index, raw in enumerate(raw_nodes):
        path = f"graph.nodes[{index}]"
        if not isinstance(raw, Mapping):
            raise InvalidGraph("must be an object", field=path)
        node_id = raw.get("id")
        if not isinstance(node_id, str) or not node_id:
            raise InvalidGraph("must be a non-empty string", field=f"{path}.id")
        if node_id in nodes:
            raise InvalidGraph(f"duplicate node id {node_id!r}", field=f"{path}.id", details={"node_id": node_id})
        node_type = raw.get("type")
        if not isinstance(node_type, str) or node_type not in NODE_TYPES:
            raise InvalidGraph(
                f"unknown node type {node_type!r}; known: {sorted(NODE_TYPES)}",
                field=f"{path}.type", details={"node_id": node_id},
            )
        data = raw.get("data")
        if data is not None and not isinstance(data, Mapping):
            raise InvalidGraph("must be an object", field=f"{path}.data")
        config = data.get("config") if data else None
        nodes[node_id] = GraphNode(node_id, node_type, index, config)
    return nodes


def _parse_edges(graph: Mapping[str, Any], nodes: Mapping[str, GraphNode]) -> list[tuple[str, str, int]]:
    raw_edges = graph.get("edges", [])
    if raw_edges is None:
        raw_edges = []
    if not isinstance(raw_edges, list):
        raise InvalidGraph("must be a list of edges", field="graph.edges")
    edges: list[tuple[str, str, int]] = []
    for index, raw in enumerate(raw_edges):
        path = f"graph.edges[{index}]"
        if not isinstance(raw, Mapping):
            raise InvalidGraph("must be an object", field=path)
        ends = []
        for end in ("source", "target"):
            node_id = raw.get(end)
            if not isinstance(node_id, str) or node_id not in nodes:
                raise InvalidGraph(
                    f"dangling edge: {end} {node_id!r} is not a node of the graph",
                    field=f"{path}.{end}", details={"edge_id": raw.get("id"), end: node_id},
                )
            ends.append(node_id)
        edges.append((ends[0], ends[1], index))
    return edges


def _check_inputs(nodes: Mapping[str, GraphNode], edges: list[tuple[str, str, int]]) -> None:
    """The canvas's rules of connection: one input per node, none into a dataset source or itself.

    Two edges into one node have no defined meaning (which rows, which columns?), so such
    a graph is refused rather than silently merged.
    """
    sources: dict[str, list[str]] = {}
    for source, target, index in edges:
        if source == target:
            raise InvalidGraph(f"node {target!r} cannot feed itself", field=f"graph.edges[{index}]",
                               details={"node_id": target})
        if nodes[target].type == DATASET_SOURCE:
            raise InvalidGraph(f"node {target!r} is a {DATASET_SOURCE} and takes no input",
                               field=f"graph.edges[{index}].target", details={"node_id": target})
        sources.setdefault(target, []).append(source)
    for target, feeding in sources.items():
        if len(feeding) > 1:
            node = nodes[target]
            raise InvalidGraph(
                f"node {target!r} has {len(feeding)} inputs ({', '.join(repr(s) for s in feeding)}); each node "
                "takes exactly one input", field=node.path, details={"node_id": target, "inputs": feeding},
            )


def check_structure(graph: Any) -> None:
    """Refuse a graph the canvas could not have drawn, whatever node is trained.

    Checked on every save: known node types, unique ids, edges between existing nodes, no
    cycle, one input per node and none into a dataset source. Node configs are left to
    submission (an autosaved graph may be half edited).

    Raises:
        InvalidGraph: naming the node or edge.
    """
    if not isinstance(graph, Mapping):
        raise InvalidGraph("must be an object with nodes and edges", field="graph")
    if graph.get("nodes") == [] and not graph.get("edges"):
        return  # an empty canvas
    nodes = _parse_nodes(graph)
    edges = _parse_edges(graph, nodes)
    _check_inputs(nodes, edges)
    _topological(nodes, edges)


def _topological(nodes: Mapping[str, GraphNode], edges: list[tuple[str, str, int]]) -> list[str]:
    indegree = dict.fromkeys(nodes, 0)
    children: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    for source, target, _ in edges:
        children[source].append(target)
        indegree[target] += 1
    ready = [(node.index, node.id) for node in nodes.values() if indegree[node.id] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, node_id = heapq.heappop(ready)
        order.append(node_id)
        for child in children[node_id]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, (nodes[child].index, child))
    if len(order) != len(nodes):
        stuck = sorted((node_id for node_id, degree in indegree.items() if degree > 0), key=lambda n: nodes[n].index)
        raise InvalidGraph(f"the graph has a cycle through nodes {stuck}", field="graph.edges",
                           details={"nodes": stuck})
    return order


def _ancestors(node_id: str, edges: list[tuple[str, str, int]]) -> set[str]:
    parents: dict[str, list[str]] = {}
    for source, target, _ in edges:
        parents.setdefault(target, []).append(source)
    seen = {node_id}
    stack = [node_id]
    while stack:
        for parent in parents.get(stack.pop(), []):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def plan_nodes(graph: Any, node_id: Any) -> list[GraphNode]:
    """Validate the graph's structure and return the nodes to execute, in order.

    The last node is the training node ``node_id``.

    Raises:
        InvalidGraph: unknown node type or node id, duplicate id, dangling edge, cycle,
            a node with several inputs or an input into a dataset source, missing or several
            dataset sources or splits, a resample before the split, or a node without input.
    """
    if not isinstance(graph, Mapping):
        raise InvalidGraph("must be an object with nodes and edges", field="graph")
    nodes = _parse_nodes(graph)
    edges = _parse_edges(graph, nodes)
    _check_inputs(nodes, edges)
    order = _topological(nodes, edges)
    if not isinstance(node_id, str) or node_id not in nodes:
        raise InvalidGraph(f"unknown node id {node_id!r}", field="node_id", details={"node_id": node_id})
    if nodes[node_id].type != TRAIN_MODEL:
        raise InvalidGraph(f"node {node_id!r} is a {nodes[node_id].type}, not a {TRAIN_MODEL}", field="node_id")
    wanted = _ancestors(node_id, edges)
    planned = [nodes[n] for n in order if n in wanted]
    _check_roles(planned, edges)
    return planned


def _check_roles(planned: list[GraphNode], edges: list[tuple[str, str, int]]) -> None:
    has_input = {target for _, target, _ in edges}
    sources = [node for node in planned if node.type == DATASET_SOURCE]
    splits = [node for node in planned if node.type == SPLIT]
    training = planned[-1]
    if not sources:
        raise InvalidGraph(f"no {DATASET_SOURCE} upstream of node {training.id!r}", field="graph.nodes")
    if len(sources) > 1:
        raise InvalidGraph(f"several {DATASET_SOURCE} nodes upstream of node {training.id!r}; exactly one is "
                           "allowed", field=f"{sources[1].path}.type", details={"nodes": [n.id for n in sources]})
    if not splits:
        raise InvalidGraph(f"no {SPLIT} upstream of node {training.id!r}", field="graph.nodes")
    if len(splits) > 1:
        raise InvalidGraph(f"several {SPLIT} nodes upstream of node {training.id!r}; exactly one is allowed",
                           field=f"{splits[1].path}.type", details={"nodes": [n.id for n in splits]})
    for _, target, index in edges:
        if target == sources[0].id:
            raise InvalidGraph(f"a {DATASET_SOURCE} takes no input", field=f"graph.edges[{index}].target")
    split_at = planned.index(splits[0])
    for position, node in enumerate(planned):
        if node.type != DATASET_SOURCE and node.id not in has_input:
            raise InvalidGraph(f"node {node.id!r} has no input", field=node.path, details={"node_id": node.id})
        if node.type == TRAIN_MODEL and node is not training:
            raise InvalidGraph(f"a {TRAIN_MODEL} node cannot feed another node", field=node.path)
        if node.type == RESAMPLE and position < split_at:
            raise InvalidGraph(f"{RESAMPLE} must come after the {SPLIT}: it only touches train rows",
                               field=f"{node.path}.type", details={"node_id": node.id})


def execution_order(graph: Any, node_id: Any) -> list[str]:
    """The topological order of ``node_id``'s ancestors, ending with ``node_id`` itself.

    Raises:
        InvalidGraph: as :func:`plan_nodes`.
    """
    return [node.id for node in plan_nodes(graph, node_id)]
