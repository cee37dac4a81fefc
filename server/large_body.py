"""Validating a large graph body in small steps, so that the event loop keeps its turns.

``model_validate_json`` of a 995-node graph (about 180 KB) is one call into pydantic-core
that holds the GIL for its whole duration (40-70 ms, several times that on a loaded
machine). Run on the bounded executor it still stalls the event loop, which cannot take
the GIL back until the call returns: another user's reads waited as long. Here the body is
decoded by :func:`json.loads` (a few milliseconds), then each node and edge is validated on
its own, so the interpreter can hand the GIL to the event loop between them (every
``sys.getswitchinterval()``), and the body is finally validated with the checked nodes and
edges, which pydantic takes as they are.

Only a body that validates takes this path: any problem (invalid JSON, ``NaN``, a field
that does not validate) sends it back to ``model_validate_json``, so the answers (400, 422
and the fields they name) are exactly those of the plain path.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn, TypeVar

import pydantic

from server.schemas.graph import Graph, GraphEdge, GraphNode

M = TypeVar("M", bound=pydantic.BaseModel)

GRAPH_FIELD = "graph"


class _NotPlain(Exception):
    """The body needs the plain path (its answer is an error, or it is not a graph body)."""


def _refuse_constant(name: str) -> NoReturn:
    raise _NotPlain(name)  # NaN and Infinity: the plain path answers them


def _items(value: Any, model: type[pydantic.BaseModel], limit: int | None) -> list[Any]:
    if not isinstance(value, list) or (limit is not None and len(value) > limit):
        raise _NotPlain(GRAPH_FIELD)
    checked = []
    for item in value:
        try:
            checked.append(model.model_validate(item))
        except pydantic.ValidationError:
            raise _NotPlain(GRAPH_FIELD) from None
    return checked


def _max_length(field: str) -> int | None:
    for meta in Graph.model_fields[field].metadata:
        limit = getattr(meta, "max_length", None)
        if isinstance(limit, int):
            return limit
    return None


def has_graph(model: type[pydantic.BaseModel]) -> bool:
    """Whether ``model`` has a ``graph`` field of type :class:`Graph` (so :func:`validate_graph_body` helps)."""
    field = model.model_fields.get(GRAPH_FIELD)
    return field is not None and field.annotation is Graph


def validate_graph_body(raw: bytes, model: type[M]) -> M | None:
    """``model`` validated from ``raw`` in small steps, or None when the plain path must answer.

    None means: ``raw`` is not JSON, holds ``NaN`` or ``Infinity``, is not an object with a
    ``graph`` of nodes and edges, or some part of it does not validate.
    """
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
        if not isinstance(data, dict) or not isinstance(data.get(GRAPH_FIELD), dict):
            return None
        graph = dict(data[GRAPH_FIELD])
        graph["nodes"] = _items(graph.get("nodes"), GraphNode, _max_length("nodes"))
        if "edges" in graph:
            graph["edges"] = _items(graph["edges"], GraphEdge, _max_length("edges"))
        # Pydantic takes the checked nodes and edges as they are (instances are not revalidated).
        return model.model_validate({**data, GRAPH_FIELD: graph})
    except (_NotPlain, ValueError, RecursionError, pydantic.ValidationError):
        return None
