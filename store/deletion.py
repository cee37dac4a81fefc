"""Deleting pipelines, jobs and model versions: the rules and the rows.

- Nothing is deleted while a job is queued, running or cancelling on it (:class:`InUse`,
  code ``active_job``).
- A pipeline goes with everything under it (jobs, events, versions, aliases and their
  history, lineage), by the database's ``ON DELETE CASCADE``.
- A job that produced a model version stays: it is the provenance of that version, whose
  number must never be reused (``job_has_version``). Jobs without one (failed, cancelled)
  go with their events.
- A model version becomes a **tombstone** (``deleted_at``): its number, metrics and job
  stay in the history, it can no longer be promoted, and its artifact file goes. A version
  an alias points at is refused (``alias_points_here``): move the alias first.

Every function returns what the caller must remove from storage after commit: the
artifact URIs and the job ids whose per-attempt artifacts may exist.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import InUse, NotFound
from store.job_queries import get_job
from store.models import ModelAlias, ModelVersion, Pipeline, TrainingJob
from store.pipelines import get_pipeline
from store.reader import Reader
from store.states import ACTIVE
from store.types import utcnow
from store.versions import get_version

_ACTIVE = sorted(status.value for status in ACTIVE)


@dataclasses.dataclass(frozen=True)
class Removed:
    """Storage to clean up after the deleting transaction committed."""

    pipeline_id: str
    artifact_uris: tuple[str, ...] = ()
    job_ids: tuple[str, ...] = ()


async def _refuse_active(session: AsyncSession, what: str, *conditions: ColumnElement[bool]) -> None:
    stmt = select(func.count()).select_from(TrainingJob).where(TrainingJob.status.in_(_ACTIVE), *conditions)
    active = int((await session.execute(stmt)).scalar_one())
    if active:
        raise InUse(
            f"{what} has {active} queued or running job(s); cancel them or wait until they finish",
            code="active_job",
            details={"active_jobs": active},
        )


async def delete_pipeline(session: AsyncSession, pipeline_id: str, *, reader: Reader) -> Removed:
    """Delete a pipeline and everything under it.

    Raises:
        NotFound: the pipeline is missing or not the reader's.
        InUse: a job is active on it.
    """
    # FOR UPDATE: a submission upserting this pipeline waits for us (PostgreSQL), or we for it.
    pipeline = await get_pipeline(session, pipeline_id, reader=reader)
    await session.execute(select(Pipeline.pipeline_id).where(Pipeline.pipeline_id == pipeline_id).with_for_update())
    await _refuse_active(session, f"pipeline {pipeline_id!r}", TrainingJob.pipeline_id == pipeline.pipeline_id)
    jobs = (await session.execute(
        select(TrainingJob.id, TrainingJob.model_artifact_uri).where(TrainingJob.pipeline_id == pipeline_id)
    )).all()
    version_uris = (await session.scalars(
        select(ModelVersion.artifact_uri).where(ModelVersion.pipeline_id == pipeline_id)
    )).all()
    uris = {uri for _, uri in jobs if uri} | set(version_uris)
    await session.execute(delete(Pipeline).where(Pipeline.pipeline_id == pipeline_id))
    return Removed(pipeline_id, tuple(sorted(uris)), tuple(sorted(job_id for job_id, _ in jobs)))


async def delete_job(session: AsyncSession, job_id: str, *, reader: Reader) -> Removed:
    """Delete a finished job that produced no model version, with its events.

    Raises:
        NotFound: the job is missing or not the reader's.
        InUse: the job is active, or it produced a model version.
    """
    job = await get_job(session, job_id, reader=reader)
    if job.status in _ACTIVE:
        raise InUse(f"job {job_id} is {job.status}; cancel it first", code="active_job", details={"status": job.status})
    version = (await session.scalars(select(ModelVersion).where(ModelVersion.job_id == job.id))).one_or_none()
    if version is not None:
        raise InUse(
            f"job {job_id} produced version {version.version} of node {version.node_id!r}; it stays as that "
            "version's record (delete the version to remove its model)",
            code="job_has_version",
            details={"version": version.version, "node_id": version.node_id},
        )
    uris = (job.model_artifact_uri,) if job.model_artifact_uri else ()
    pipeline_id = job.pipeline_id
    await session.execute(delete(TrainingJob).where(TrainingJob.id == job.id))
    return Removed(pipeline_id, uris, (job_id,))


async def delete_version(
    session: AsyncSession, pipeline_id: str, node_id: str, number: int, *, reader: Reader, by: str | None
) -> tuple[ModelVersion, Removed]:
    """Turn a model version into a tombstone.

    Raises:
        NotFound: the pipeline or version is missing, not the reader's, or already deleted.
        InUse: an alias points at the version.
    """
    row = await get_version(session, pipeline_id, node_id, number, reader=reader)
    # The lock alias writes take (store/aliases.py): no alias lands on the version meanwhile.
    await session.execute(select(Pipeline.pipeline_id).where(Pipeline.pipeline_id == pipeline_id).with_for_update())
    await session.refresh(row)
    if row.deleted_at is not None:
        raise NotFound("model version", f"{pipeline_id}/{node_id}/v{number} (deleted)")
    aliases = (await session.scalars(
        select(ModelAlias.alias).where(
            ModelAlias.pipeline_id == pipeline_id, ModelAlias.node_id == node_id, ModelAlias.version == number
        )
    )).all()
    if aliases:
        names = sorted(aliases)
        raise InUse(
            f"alias(es) {', '.join(names)} point at version {number}; move or remove them first",
            code="alias_points_here",
            details={"aliases": names},
        )
    row.deleted_at = utcnow()
    row.deleted_by = by
    await session.flush()
    return row, Removed(pipeline_id, (row.artifact_uri,), (row.job_id,))
