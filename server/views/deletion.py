"""``DELETE`` of pipelines, training jobs and model versions (the rules: :mod:`store.deletion`).

Rows go first, in one transaction; their artifact files are removed after commit. A file
that cannot be removed is logged and left (the rows that named it are gone, so nothing
serves it); a crash between commit and removal leaves files without rows, never rows
without files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from actors.ml.model_card import CARD_SUFFIX
from server.auth import reader_of
from server.keys import SESSIONS, SETTINGS, USER
from server.routing import Operation
from server.schemas.deletion import Deleted
from server.views.jobs import JOB_ID
from server.views.pipelines import PIPELINE_ID
from server.views.versions import VERSION, version_number
from store.deletion import Removed, delete_job, delete_pipeline, delete_version
from store.engine import Session
from store.reader import Reader

log = logging.getLogger(__name__)


def _inside(root: Path, relpath: str) -> Path | None:
    raw = Path(relpath.removeprefix("file://"))
    path = (raw if raw.is_absolute() else root / raw).resolve()
    return path if path.is_relative_to(root) else None


def remove_files(root: Path, removed: Removed) -> int:
    """Remove the artifacts of ``removed`` under ``root``: recorded URIs and every attempt's file."""
    root = root.resolve()
    paths = {p for p in (_inside(root, uri) for uri in removed.artifact_uris) if p is not None}
    folder = _inside(root, f"uploads/models/{removed.pipeline_id}")
    if folder is not None and folder.is_dir():
        for job_id in removed.job_ids:
            paths.add(folder / f"{job_id}.joblib")
            paths.update(folder.glob(f"{job_id}.attempt*.joblib"))
    count = 0
    for path in paths:
        try:
            path.unlink()
            count += 1
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("could not remove artifact %s: %s", path, exc)
        _remove_card(path)
    if folder is not None:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty
    return count


def _remove_card(artifact: Path) -> None:
    """The model card beside an artifact goes with it (it is not counted as an artifact)."""
    try:
        artifact.with_suffix(CARD_SUFFIX).unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not remove model card of %s: %s", artifact, exc)


async def _deleted(
    request: web.Request, kind: str, ref: str, delete: Callable[[Session, Reader], Awaitable[Removed]]
) -> web.Response:
    """Run ``delete`` in one transaction, then remove the files of what it removed."""
    async with request.app[SESSIONS].begin() as session:
        removed = await delete(session, reader_of(request))
    root = request.app[SETTINGS].artifacts_root
    files = await asyncio.to_thread(remove_files, root, removed)
    return web.json_response({"deleted": kind, "id": ref, "artifacts_removed": files})


async def delete_pipeline_view(request: web.Request) -> web.Response:
    pipeline_id = request.match_info["pipeline_id"]
    return await _deleted(
        request, "pipeline", pipeline_id, lambda session, reader: delete_pipeline(session, pipeline_id, reader=reader)
    )


async def delete_job_view(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    return await _deleted(
        request, "training_job", job_id, lambda session, reader: delete_job(session, job_id, reader=reader)
    )


async def delete_version_view(request: web.Request) -> web.Response:
    pipeline_id, node_id = request.match_info["pipeline_id"], request.match_info["node_id"]
    number = version_number(request)
    by = request[USER].name

    async def delete(session: Session, reader: Reader) -> Removed:
        _, removed = await delete_version(session, pipeline_id, node_id, number, reader=reader, by=by)
        return removed

    return await _deleted(request, "model_version", f"{pipeline_id}/{node_id}/v{number}", delete)


OPERATIONS = [
    Operation(
        "DELETE",
        "/pipelines/{pipeline_id}",
        delete_pipeline_view,
        "delete_pipeline",
        "Delete a pipeline with its jobs, versions, aliases and artifacts (409 while a job is active on it)",
        "pipelines",
        {200: Deleted},
        path_params=PIPELINE_ID,
        errors=(409,),
    ),
    Operation(
        "DELETE",
        "/training-jobs/{job_id}",
        delete_job_view,
        "delete_training_job",
        "Delete a finished job without a model version, with its events (409 when active or it made a version)",
        "training-jobs",
        {200: Deleted},
        path_params=JOB_ID,
        errors=(409,),
    ),
    Operation(
        "DELETE",
        "/pipelines/{pipeline_id}/nodes/{node_id}/versions/{version}",
        delete_version_view,
        "delete_model_version",
        "Delete a model version: it stays in the history as deleted, its number is never reused, its artifact "
        "goes (409 while an alias points at it)",
        "versions",
        {200: Deleted},
        path_params=VERSION,
        errors=(409,),
    ),
]
