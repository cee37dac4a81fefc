"""Model versions of a training node: list and top-N, compare two, promote to ``active``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from actors.jobs.alias_changes import change_alias
from server.auth import reader_of
from server.errors import ConflictError, NotFoundError, UnprocessableEntity
from server.keys import JOBS, SESSIONS, USER
from server.parsing import parse_query, read_optional_json
from server.routing import Operation, integer_problem
from server.schemas.common import NoFieldsIn
from server.schemas.versions import CompareOut, CompareQuery, PromoteOut, VersionListQuery, VersionsOut
from server.serialize import iso, version_json
from server.versions_diff import compare_versions
from store.aliases import ACTIVE_ALIAS, AliasChange, active_version, aliases_by_version, set_alias
from store.engine import Session, read_session
from store.models import ModelVersion
from store.pipelines import get_pipeline
from store.reader import Reader
from store.version_refs import resolve_version_ref
from store.versions import get_version, list_versions

NODE = {
    "pipeline_id": {"type": "string", "minLength": 1, "maxLength": 128},
    "node_id": {"type": "string", "minLength": 1, "maxLength": 128},
}
VERSION = {**NODE, "version": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}


def _node(request: web.Request) -> tuple[str, str]:
    return request.match_info["pipeline_id"], request.match_info["node_id"]


def version_number(request: web.Request) -> int:
    """The ``{version}`` path parameter (ASCII digits only), or a 422 naming it."""
    raw = request.match_info["version"]
    problem = integer_problem(raw, 1, 2**31 - 1)
    if problem is not None:
        raise UnprocessableEntity(f"path: version: {problem}", details={"location": "path", "field": "version"})
    return int(raw)


async def list_node_versions(request: web.Request) -> web.Response:
    query = parse_query(request, VersionListQuery)
    pipeline_id, node_id = _node(request)
    reader = reader_of(request)
    async with read_session(request.app[SESSIONS]) as session:
        rows = await list_versions(
            session, pipeline_id, node_id, reader=reader, order_by=query.order_by, limit=query.limit
        )
        aliases = await aliases_by_version(session, pipeline_id, node_id, reader=reader)
        if not rows:
            await require_node(session, pipeline_id, node_id, reader)
        active = await active_version(session, pipeline_id, node_id)
    if active is not None and ACTIVE_ALIAS not in aliases.get(active, []):
        aliases.setdefault(active, []).append(ACTIVE_ALIAS)  # the first version, until a promotion
    items = [version_json(r, aliases.get(r.version, ())) for r in rows]
    return web.json_response({"pipeline_id": pipeline_id, "node_id": node_id, "active_version": active, "items": items})


async def require_node(session: Session, pipeline_id: str, node_id: str, reader: Reader) -> None:
    """A node without versions must at least be in the pipeline's graph, else the path names nothing."""
    pipeline = await get_pipeline(session, pipeline_id, reader=reader)
    nodes = pipeline.graph.get("nodes") if isinstance(pipeline.graph, dict) else None
    if not any(isinstance(n, dict) and n.get("id") == node_id for n in nodes or []):
        raise NotFoundError(
            f"pipeline {pipeline_id!r} has no node {node_id!r}", details={"kind": "node", "field": "node_id"}
        )


async def _two(session: Session, pid: str, nid: str, query: CompareQuery, reader: Reader) -> list[ModelVersion]:
    # Deleted versions stay comparable: their metrics and hyperparameters are kept.
    return [
        await resolve_version_ref(session, pid, nid, ref, reader=reader, field=field, allow_deleted=True)
        for field, ref in (("a", query.a), ("b", query.b))
    ]


async def compare_node_versions(request: web.Request) -> web.Response:
    query = parse_query(request, CompareQuery)
    pipeline_id, node_id = _node(request)
    reader = reader_of(request)
    async with read_session(request.app[SESSIONS]) as session:
        a, b = await _two(session, pipeline_id, node_id, query, reader)
        aliases = await aliases_by_version(session, pipeline_id, node_id, reader=reader)
    out: dict[str, Any] = {
        "a": version_json(a, aliases.get(a.version, ())),
        "b": version_json(b, aliases.get(b.version, ())),
        **compare_versions(a, b),
    }
    return web.json_response(out)


async def promote_version(request: web.Request) -> web.Response:
    pipeline_id, node_id = _node(request)
    number = version_number(request)
    await read_optional_json(request, NoFieldsIn)
    reader = reader_of(request)
    previous: list[int | None] = []

    async def write(session: Session) -> AliasChange:
        target = await get_version(session, pipeline_id, node_id, number, reader=reader)
        if target.deleted_at is not None:
            raise ConflictError(
                f"version {number} was deleted and cannot be promoted", code="version_deleted",
                details={"field": "version"},
            )
        previous.append(await active_version(session, pipeline_id, node_id))
        return await set_alias(session, pipeline_id, node_id, ACTIVE_ALIAS, number, by=request[USER].name)

    change = await change_alias(request.app[JOBS], reader, pipeline_id, write)
    return web.json_response(
        {
            "pipeline_id": pipeline_id,
            "node_id": node_id,
            "alias": ACTIVE_ALIAS,
            "version": number,
            "previous_version": previous[0],
            "updated_at": iso(change.entry.changed_at),
            "updated_by": change.entry.changed_by,
        }
    )


_BASE = "/pipelines/{pipeline_id}/nodes/{node_id}/versions"

OPERATIONS = [
    Operation(
        "GET",
        _BASE,
        list_node_versions,
        "list_model_versions",
        "A node's model versions, newest first or top-N by a metric",
        "versions",
        {200: VersionsOut},
        query=VersionListQuery,
        path_params=NODE,
    ),
    Operation(
        "GET",
        _BASE + "/compare",
        compare_node_versions,
        "compare_model_versions",
        "Hyperparameter and metric differences between two versions",
        "versions",
        {200: CompareOut},
        query=CompareQuery,
        path_params=NODE,
    ),
    Operation(
        "POST",
        _BASE + "/{version}/promote",
        promote_version,
        "promote_model_version",
        "Move the node's `active` alias to this version (recorded in the alias history)",
        "versions",
        {200: PromoteOut},
        body=NoFieldsIn,
        body_required=False,
        path_params=VERSION,
    ),
]
