"""Terminal writes of a training job, each one transaction, published after commit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from actors.jobs.context import JobContext
from actors.ml.fit import TrainingResult
from actors.ml.model_card import card_relpath
from store.errors import BlobError, IllegalTransition
from store.insights import save_insights
from store.jobs import EVENT_VERSION, EVENT_WARNING, append_event, transition
from store.models import TrainingJob
from store.states import JobStatus
from store.versions import create_model_version

log = logging.getLogger(__name__)

WHILE_RUNNING = (JobStatus.RUNNING, JobStatus.CANCELLING)
MAX_MESSAGE_CHARS = 2000


class _LostRace(Exception):
    """Raised inside a transaction to roll it back when the job changed under us."""


async def commit_then_publish(
    ctx: JobContext, user_id: str, work: Callable[[AsyncSession], Awaitable[list[dict[str, Any]] | None]]
) -> list[dict[str, Any]] | None:
    """Run ``work`` in one transaction; publish its events after the commit.

    ``work`` returns the events to publish, or ``None`` when the job was changed by someone
    else first, in which case everything it wrote is rolled back.
    """
    try:
        async with ctx.sessions.begin() as session:
            events = await work(session)
            if events is None:
                raise _LostRace
    except _LostRace:
        return None
    for event in events:
        await ctx.publisher.publish(user_id, event)
    return events


def _clip(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"


async def finish_failed(
    ctx: JobContext,
    job: TrainingJob,
    code: str,
    message: str,
    *,
    expected: Iterable[JobStatus] = WHILE_RUNNING,
    expected_attempt: int | None = None,
    details: dict[str, Any] | None = None,
) -> bool:
    """Fail the job with ``error_code``; False when it was no longer in ``expected`` (or ``expected_attempt``)."""

    async def work(session: AsyncSession) -> list[dict[str, Any]] | None:
        payload: dict[str, Any] = {"error_code": code, "error_message": _clip(message)}
        if details:
            payload["error_details"] = details
        done = await transition(
            session,
            job.id,
            JobStatus.FAILED,
            expected=tuple(expected),
            expected_attempt=expected_attempt,
            changes={"error_code": code, "error_message": _clip(message)},
            payload=payload,
        )
        return None if done is None else [done.event]

    return await commit_then_publish(ctx, job.user_id, work) is not None


async def finish_cancelled(
    ctx: JobContext, job: TrainingJob, *, forced: bool = False, expected_attempt: int | None = None
) -> bool:
    """End a job that was being cancelled; ``forced`` when its fit never acknowledged.

    False when the job had already ended (or is no longer in ``expected_attempt``).
    """

    async def work(session: AsyncSession) -> list[dict[str, Any]] | None:
        events: list[dict[str, Any]] = []
        # A stop seen before the cancel request reached the database still passes through
        # cancelling, so the event history always shows the request.
        first = await transition(
            session, job.id, JobStatus.CANCELLING, expected=JobStatus.RUNNING, expected_attempt=expected_attempt
        )
        if first is not None:
            events.append(first.event)
        done = await transition(
            session, job.id, JobStatus.CANCELLED, expected=JobStatus.CANCELLING, expected_attempt=expected_attempt,
            payload={"forced": forced},
        )
        return None if done is None else [*events, done.event]

    return await commit_then_publish(ctx, job.user_id, work) is not None


async def finish_succeeded(
    ctx: JobContext, job: TrainingJob, result: TrainingResult, relpath: str, sha256: str
) -> bool:
    """Record the model version, its event, the warnings and ``succeeded`` in one transaction.

    Only for the run that holds ``job.attempt``. The artifact is already in place; if the
    job changed under us or the commit fails, the artifact is removed so that no file
    exists without its version row.
    """

    async def work(session: AsyncSession) -> list[dict[str, Any]] | None:
        version = await create_model_version(
            session,
            pipeline_id=job.pipeline_id,
            node_id=job.node_id,
            job_id=job.id,
            model_type=job.model_type,
            hyperparameters=result.resolved_hyperparameters,
            metrics=result.metrics,
            artifact_uri=relpath,
            artifact_sha256=sha256,
        )
        handoff = {"job_id": job.id, "model_version": version.version, "model_artifact_uri": relpath}
        try:
            events = [await append_event(session, job.id, EVENT_WARNING, {"warning": w}) for w in result.warnings]
            events.append(await append_event(session, job.id, EVENT_VERSION, {"version": handoff}))
        except IllegalTransition:
            return None  # the job ended meanwhile (e.g. cancelled): no version for it
        done = await transition(
            session,
            job.id,
            JobStatus.SUCCEEDED,
            expected=WHILE_RUNNING,
            expected_attempt=job.attempt,
            changes={
                "metrics": result.metrics,
                "warnings": result.warnings,
                "resolved_hyperparameters": result.resolved_hyperparameters,
                "model_artifact_uri": relpath,
                "artifact_sha256": sha256,
                "model_version": version.version,
            },
            payload={"model_version": version.version, "metrics": {"test": result.metrics.get("test", {})}},
        )
        if done is None:
            return None
        if result.learning_curve is not None or result.insights is not None:
            await save_insights(session, job.id, job.attempt, learning_curve=result.learning_curve,
                                insights=result.insights)
        return [*events, done.event]

    try:
        published = await commit_then_publish(ctx, job.user_id, work)
    except BaseException:
        await asyncio.to_thread(_remove_model, ctx, relpath)
        raise
    if published is None:
        await asyncio.to_thread(_remove_model, ctx, relpath)
        return False
    return True


def _remove_model(ctx: JobContext, uri: str) -> None:
    """Remove a model that no version row names (and its card): best effort, logged."""
    store = ctx.storage.artifacts
    try:
        key = store.key(uri)
        store.delete(key)
        store.delete(card_relpath(key))
    except BlobError as exc:  # an object no row names is never served
        log.error("could not remove orphan artifact %s: %s", uri, exc)
