"""Named aliases of a training node (``active``, ``champion``, ...): list, read, set/move, remove, history.

Every write goes through :func:`store.aliases.set_alias` / :func:`store.aliases.remove_alias`,
which write the alias and its history row in one transaction, run by
:func:`actors.jobs.alias_changes.change_alias`, which publishes its ``alias.changed`` event after
the commit. ``active`` is the alias the
service uses by default; setting it here is the same as promoting the version.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from actors.jobs.alias_changes import change_alias
from server.auth import reader_of
from server.errors import NotFoundError, UnprocessableEntity
from server.keys import JOBS, SESSIONS, USER
from server.parsing import parse_query, read_json
from server.routing import Operation
from server.schemas.aliases import (
    AliasDetailOut,
    AliasesOut,
    AliasHistoryOut,
    AliasHistoryQuery,
    AliasWriteOut,
    SetAliasIn,
)
from server.serialize import iso, version_json
from server.views.versions import NODE, require_node
from store.alias_events import change_action
from store.alias_names import ALIAS_PATTERN, check_alias_name
from store.aliases import (
    ACTIVE_ALIAS,
    AliasChange,
    active_version,
    alias_history,
    list_aliases,
    remove_alias,
    set_alias,
)
from store.engine import Session, read_session
from store.models import ModelAliasHistory
from store.version_refs import alias_target, resolve_version_ref

ALIAS = {**NODE, "alias": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": ALIAS_PATTERN}}


def _path(request: web.Request) -> tuple[str, str, str]:
    name = check_alias_name(request.match_info["alias"])
    return request.match_info["pipeline_id"], request.match_info["node_id"], name


def change_json(entry: ModelAliasHistory) -> dict[str, Any]:
    """One history row as the API shows it: who moved the alias, from which version, to which, when."""
    return {
        "id": entry.id,
        "alias": entry.alias,
        "action": change_action(entry),
        "from_version": entry.previous_version,
        "to_version": entry.version,
        "changed_at": iso(entry.changed_at),
        "changed_by": entry.changed_by,
    }


def _write_json(pipeline_id: str, node_id: str, change: AliasChange) -> dict[str, Any]:
    return {"pipeline_id": pipeline_id, "node_id": node_id, **change_json(change.entry), "changed": change.changed}


async def list_node_aliases(request: web.Request) -> web.Response:
    pipeline_id, node_id = request.match_info["pipeline_id"], request.match_info["node_id"]
    reader = reader_of(request)
    async with read_session(request.app[SESSIONS]) as session:
        rows = await list_aliases(session, pipeline_id, node_id, reader=reader)
        active = await active_version(session, pipeline_id, node_id)
        if not rows and active is None:
            await require_node(session, pipeline_id, node_id, reader)
    items = [
        {"alias": r.alias, "version": r.version, "implicit": False, "updated_at": iso(r.updated_at),
         "updated_by": r.updated_by}
        for r in rows
    ]
    if active is not None and all(r.alias != ACTIVE_ALIAS for r in rows):
        items.append({"alias": ACTIVE_ALIAS, "version": active, "implicit": True, "updated_at": None,
                      "updated_by": None})
        items.sort(key=lambda item: str(item["alias"]))
    return web.json_response({"pipeline_id": pipeline_id, "node_id": node_id, "items": items})


async def get_node_alias(request: web.Request) -> web.Response:
    pipeline_id, node_id, name = _path(request)
    reader = reader_of(request)
    async with read_session(request.app[SESSIONS]) as session:
        target = await resolve_version_ref(
            session, pipeline_id, node_id, name, reader=reader, field="alias", allow_deleted=True
        )
        rows = await list_aliases(session, pipeline_id, node_id, reader=reader)
        active = await active_version(session, pipeline_id, node_id)
    row = next((r for r in rows if r.alias == name), None)
    names = [r.alias for r in rows if r.version == target.version]
    if active == target.version and ACTIVE_ALIAS not in names:
        names.append(ACTIVE_ALIAS)
    return web.json_response(
        {
            "pipeline_id": pipeline_id,
            "node_id": node_id,
            "alias": name,
            "version": target.version,
            "implicit": row is None,
            "updated_at": iso(row.updated_at) if row else None,
            "updated_by": row.updated_by if row else None,
            "target": version_json(target, names),
        }
    )


async def set_node_alias(request: web.Request) -> web.Response:
    pipeline_id, node_id, name = _path(request)
    body = await read_json(request, SetAliasIn)
    reader = reader_of(request)

    async def write(session: Session) -> AliasChange:
        target = await resolve_version_ref(session, pipeline_id, node_id, body.version, reader=reader)
        return await set_alias(session, pipeline_id, node_id, name, target.version, by=request[USER].name)

    change = await change_alias(request.app[JOBS], reader, pipeline_id, write)
    return web.json_response(_write_json(pipeline_id, node_id, change))


async def remove_node_alias(request: web.Request) -> web.Response:
    pipeline_id, node_id, name = _path(request)

    async def write(session: Session) -> AliasChange:
        return await remove_alias(session, pipeline_id, node_id, name, by=request[USER].name)

    change = await change_alias(request.app[JOBS], reader_of(request), pipeline_id, write)
    return web.json_response(_write_json(pipeline_id, node_id, change))


def _cursor(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise UnprocessableEntity(
            "query: cursor: not a cursor returned by a previous page", details={"location": "query", "field": "cursor"}
        )
    return int(raw)


async def alias_history_view(request: web.Request) -> web.Response:
    query = parse_query(request, AliasHistoryQuery)
    pipeline_id, node_id, name = _path(request)
    before = _cursor(query.cursor)
    reader = reader_of(request)
    async with read_session(request.app[SESSIONS]) as session:
        rows = await alias_history(
            session, pipeline_id, node_id, name, reader=reader, limit=query.limit + 1, before=before
        )
        if not rows and before is None and await alias_target(session, pipeline_id, node_id, name) is None:
            raise NotFoundError(
                f"alias {name!r} was never set on node {node_id!r}", details={"kind": "alias", "field": "alias"}
            )
    page, more = rows[: query.limit], len(rows) > query.limit
    return web.json_response(
        {
            "pipeline_id": pipeline_id,
            "node_id": node_id,
            "alias": name,
            "items": [change_json(r) for r in page],
            "next_cursor": str(page[-1].id) if more else None,
        }
    )


_BASE = "/pipelines/{pipeline_id}/nodes/{node_id}/aliases"

OPERATIONS = [
    Operation(
        "GET",
        _BASE,
        list_node_aliases,
        "list_model_aliases",
        "A node's aliases and the versions they point at (`active` included, implicit before a promotion)",
        "aliases",
        {200: AliasesOut},
        path_params=NODE,
    ),
    Operation(
        "GET",
        _BASE + "/{alias}",
        get_node_alias,
        "get_model_alias",
        "Where an alias points, with that version",
        "aliases",
        {200: AliasDetailOut},
        path_params=ALIAS,
    ),
    Operation(
        "POST",
        _BASE + "/{alias}",
        set_node_alias,
        "set_model_alias",
        "Set or move an alias to a version (by number, or where another alias points); recorded in its history. "
        "409 `version_deleted` for a deleted version",
        "aliases",
        {200: AliasWriteOut},
        body=SetAliasIn,
        path_params=ALIAS,
        errors=(409,),
    ),
    Operation(
        "DELETE",
        _BASE + "/{alias}",
        remove_node_alias,
        "remove_model_alias",
        "Remove an alias (recorded in its history); removing `active` returns the node to its first live version",
        "aliases",
        {200: AliasWriteOut},
        path_params=ALIAS,
    ),
    Operation(
        "GET",
        _BASE + "/{alias}/history",
        alias_history_view,
        "model_alias_history",
        "Every change of an alias, newest first: who moved it, from which version, to which, when (paged)",
        "aliases",
        {200: AliasHistoryOut},
        query=AliasHistoryQuery,
        path_params=ALIAS,
    ),
]
