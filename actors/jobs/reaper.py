"""The reaper: finds jobs whose worker stopped heartbeating and settles them.

Running jobs go back to ``queued`` (attempt + 1) and wait for their turn (sent at once
when their user has a free slot, see ``actors.jobs.dispatch``) while attempts remain, else
they fail with ``worker_lost``; cancelling jobs become cancelled. Admitted jobs left
``queued`` for ``jobs.queued_resend_after_s`` have their message sent again, since it may
have been lost; every pass also dispatches the waiting jobs whose turn it is. One reaper
runs at a time across processes, under a Redis lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import uuid
from datetime import timedelta
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from actors.jobs.context import JobContext
from actors.jobs.dispatch import dispatch
from actors.jobs.outcomes import commit_then_publish, finish_cancelled, finish_failed
from actors.jobs.policy import ReapAction, reap_action, resend_due
from store.job_queries import queued_jobs_to_resend, stale_jobs
from store.jobs import touch_queued, transition
from store.models import TrainingJob
from store.states import JobStatus
from store.types import utcnow

log = logging.getLogger(__name__)

LOCK_KEY = "mlw:reaper:lock"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class ReapOutcome(enum.StrEnum):
    """What the reaper did with one job."""

    REQUEUED = "requeued"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RESENT = "resent"
    """A job still queued after ``jobs.queued_resend_after_s`` had its message sent again."""
    LEFT = "left"


class Lock(Protocol):
    """A lock shared by every process that may reap."""

    async def acquire(self) -> bool:
        """Take the lock if it is free; never waits."""

    async def release(self) -> None:
        """Give the lock back if we still hold it."""


class RedisLock:
    """``SET NX PX`` with a random token; released only by its holder."""

    def __init__(self, client: aioredis.Redis, key: str = LOCK_KEY, ttl_s: float = 60.0) -> None:
        self._client, self._key, self._ttl_ms = client, key, int(ttl_s * 1000)
        self._token = uuid.uuid4().hex

    async def acquire(self) -> bool:
        return bool(await self._client.set(self._key, self._token, nx=True, px=self._ttl_ms))

    async def release(self) -> None:
        await self._client.eval(_RELEASE, 1, self._key, self._token)  # type: ignore[misc]


async def _requeue(ctx: JobContext, job: TrainingJob) -> bool:
    attempt = job.attempt + 1

    async def work(session: AsyncSession) -> list[dict[str, Any]] | None:
        done = await transition(
            session,
            job.id,
            JobStatus.QUEUED,
            expected=JobStatus.RUNNING,
            # Only the run found stale: by now it may have been requeued and claimed by a live worker.
            expected_attempt=job.attempt,
            # Back to waiting: the retry takes its turn like any other job (store.admission).
            changes={"attempt": attempt, "worker": None, "heartbeat_at": None, "progress": None, "admitted_at": None},
            payload={"reason": "worker_lost", "attempt": attempt},
        )
        return None if done is None else [done.event]

    return await commit_then_publish(ctx, job.user_id, work) is not None


async def reap_job(ctx: JobContext, job: TrainingJob, *, resend: bool = True) -> ReapOutcome:
    """Settle one stale job by the reaper's rule; ``resend`` sends its message again."""
    action = reap_action(JobStatus(job.status), job.attempt, ctx.settings.jobs.max_attempts)
    if action is ReapAction.CANCEL:
        return ReapOutcome.CANCELLED if await finish_cancelled(ctx, job, forced=True) else ReapOutcome.LEFT
    if action is ReapAction.FAIL:
        message = f"the worker running this job was lost {job.attempt} time(s); no attempts remain"
        ok = await finish_failed(
            ctx, job, "worker_lost", message, expected=(JobStatus.RUNNING,), expected_attempt=job.attempt
        )
        return ReapOutcome.FAILED if ok else ReapOutcome.LEFT
    if action is ReapAction.LEAVE or not await _requeue(ctx, job):
        return ReapOutcome.LEFT
    if resend and ctx.sender is not None:
        # Sent now if its user has a free slot (jobs.max_running_per_user), else in its turn.
        exc = (await dispatch(ctx)).failed.get(job.id)
        if exc is not None:
            await finish_failed(ctx, job, "broker_unavailable", f"the retry could not be sent: {exc}",
                                expected=(JobStatus.QUEUED,))
            return ReapOutcome.FAILED
    return ReapOutcome.REQUEUED


async def resend_queued(ctx: JobContext, job: TrainingJob) -> ReapOutcome:
    """Send the message of a job that has sat queued too long again; ``LEFT`` if that failed.

    A duplicate is harmless: ``actors.jobs.runner.JobRunner._claim`` is a conditional transition
    (``expected=QUEUED`` and ``expected_attempt=job.attempt``, one ``UPDATE ... WHERE
    status = 'queued' AND attempt = :attempt``), so exactly one delivery runs the job and
    the others find it running elsewhere (dropped) or terminal (ignored).
    """
    if ctx.sender is None:
        return ReapOutcome.LEFT
    try:
        await ctx.sender(job.id, (job.config or {}).get("max_runtime_s"), kind=job.kind)
    except Exception as exc:
        # Unlike a requeue's first send, the job's original message may well still be in the
        # broker: a transient broker error must not fail it. It stays due; the next pass retries.
        log.warning("re-sending queued job %s failed (%s); the next reaper pass retries", job.id, exc)
        return ReapOutcome.LEFT
    async with ctx.sessions.begin() as session:
        # Starts the next period, so the job is re-sent at most once per period.
        await touch_queued(session, job.id, attempt=job.attempt)
    return ReapOutcome.RESENT


async def reap_once(ctx: JobContext, lock: Lock) -> dict[str, ReapOutcome]:
    """One pass over the stale jobs and the long-queued ones, if this process gets the lock."""
    if not await lock.acquire():
        return {}
    try:
        now = utcnow()
        jobs_settings = ctx.settings.jobs
        async with ctx.sessions() as session:
            jobs = await stale_jobs(session, heartbeat_before=now - timedelta(seconds=jobs_settings.stale_after_s))
        outcomes: dict[str, ReapOutcome] = {}
        for job in jobs:
            outcomes[job.id] = await reap_job(ctx, job)
            log.warning("reaped job %s (%s, attempt %d): %s", job.id, job.status, job.attempt, outcomes[job.id])
        if ctx.sender is None:
            return outcomes
        # The backstop of every dispatch: a process may have died between freeing a slot and sending.
        await dispatch(ctx)
        resend_after = jobs_settings.queued_resend_after_s
        async with ctx.sessions() as session:
            queued = await queued_jobs_to_resend(session, updated_before=now - timedelta(seconds=resend_after))
        for job in queued:
            if not resend_due(JobStatus(job.status), job.updated_at, now, resend_after):
                continue
            outcomes[job.id] = await resend_queued(ctx, job)
            log.warning("job %s queued since %s, re-send: %s", job.id, job.updated_at, outcomes[job.id])
        return outcomes
    finally:
        await lock.release()


async def reap_forever(ctx: JobContext, lock: Lock, stop: asyncio.Event) -> None:
    """Reap every ``jobs.reaper_interval_s`` until ``stop`` is set; errors are logged, not fatal."""
    while not stop.is_set():
        try:
            await reap_once(ctx, lock)
        except (RedisError, OSError) as exc:
            log.warning("reaper pass skipped: %s", exc)
        except Exception:
            log.exception("reaper pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=ctx.settings.jobs.reaper_interval_s)
