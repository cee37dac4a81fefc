"""One job from claim to terminal state, for every kind: the shared base of the job actors.

:class:`JobRunner` holds everything a job kind shares: reading the job for a delivery
(redelivered, terminal, running elsewhere, stale), the claim under the user's cap, the
ONE write path of transitions (``actors.jobs.outcomes`` over ``store.jobs.transition``), the
published events, heartbeats, cooperative cancellation, the runtime deadline, the forced
end of work that ignores a stop, and the failure codes. A kind (training, validation, ...)
subclasses it and supplies three hooks: :meth:`JobRunner.prepare` (read what the work
needs, on the event loop), :meth:`JobRunner.compute` (the work itself, in a thread,
checking ``should_stop`` at its checkpoints) and :meth:`JobRunner.finish` (record the
result and end ``succeeded`` in one transaction).

The work runs in a thread; the supervising coroutine stays responsive beside it: it polls
the cancel signal every ``ctx.poll_s``, heartbeats every ``jobs.heartbeat_s``, publishes
throttled progress, and, when the work ignores a stop request for ``jobs.cancel_grace_s``,
finalizes the job itself and ends the worker process.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from actors.errors import DeadlineExceeded, JobCancelled, ModelError
from actors.jobs.context import JobContext
from actors.jobs.outcomes import finish_cancelled, finish_failed
from actors.jobs.policy import (
    RedeliveryAction,
    Throttle,
    is_stale,
    redelivery_action,
    resolve_max_runtime,
    stop_reason,
)
from actors.jobs.reaper import ReapOutcome, reap_job
from store.admission import Claim, claim
from store.errors import NotFound, StoreBusy
from store.job_queries import get_job
from store.jobs import heartbeat, update_progress
from store.models import TrainingJob
from store.reader import Reader
from store.states import ACTIVE, JobStatus
from store.types import utcnow

log = logging.getLogger(__name__)
SYSTEM = Reader.system()

W = TypeVar("W")
"""What a kind's :meth:`JobRunner.prepare` hands to its work (a dataset reference, versions...)."""
R = TypeVar("R")
"""What a kind's work returns to :meth:`JobRunner.finish`."""


class Outcome(enum.StrEnum):
    """How one delivery of a job's message ended (for logs and tests)."""

    MISSING = "missing"
    WRONG_KIND = "wrong_kind"
    """The message reached the actor of another kind (a deployment mix-up): dropped, the job untouched."""
    IGNORED_TERMINAL = "ignored_terminal"
    DROPPED_RUNNING_ELSEWHERE = "dropped_running_elsewhere"
    LOST_CLAIM = "lost_claim"
    DEFERRED = "deferred"
    """The user already runs ``jobs.max_running_per_user`` jobs: the job waits for its turn again."""
    CLAIM_FAILED = "claim_failed"
    """A database error while claiming: the job stays queued and the reaper sends it again."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    FORCED = "forced"
    SUPERSEDED = "superseded"


HELD_NO_SLOT = frozenset({Outcome.MISSING, Outcome.WRONG_KIND, Outcome.IGNORED_TERMINAL,
                          Outcome.DROPPED_RUNNING_ELSEWHERE})
"""Deliveries that changed nobody's slots: nothing to dispatch after them."""


@dataclass
class RunState(Generic[W]):
    """What the work's thread and the supervising coroutine share."""

    deadline: float
    work: W
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: dict[str, Any] | None = None
    progress_seen: int = 0
    progress_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_progress(self, update: dict[str, Any]) -> None:
        with self.lock:
            self.progress = dict(update)
            self.progress_count += 1


class JobRunner(abc.ABC, Generic[W, R]):
    """The life of one job of one kind; subclasses supply the work (see the module docstring)."""

    kind: ClassVar[str]
    """The ``training_jobs.kind`` this runner handles (``store.kinds.JobKind``)."""
    crash_code: ClassVar[str] = "training_error"
    """The ``error_code`` of an unexpected exception in the work."""

    @abc.abstractmethod
    async def prepare(self, ctx: JobContext, job: TrainingJob) -> W:
        """Read what the work needs (on the event loop, before it starts).

        Raises:
            ModelError: the job cannot run (the job fails with its code).
            NotFound: something it needs is gone (the job fails with ``dataset_error``).
        """

    @abc.abstractmethod
    def compute(
        self, ctx: JobContext, job: TrainingJob, work: W, *,
        should_stop: Callable[[], str | None], on_progress: Callable[[dict[str, Any]], None],
    ) -> R:
        """The work itself, in a thread; must call ``should_stop()`` at its checkpoints.

        Raises:
            JobCancelled / DeadlineExceeded: ``should_stop`` fired.
            ModelError: the work failed (the job fails with its code).
        """

    @abc.abstractmethod
    async def finish(self, ctx: JobContext, job: TrainingJob, work: W, result: R) -> Outcome:
        """Record the result and end the job ``succeeded`` (``SUPERSEDED`` if it changed meanwhile)."""

    async def on_progress_saved(self, session: AsyncSession, job: TrainingJob, work: W) -> dict[str, Any]:
        """Called in the transaction that saved a progress update; returns extra fields of its event."""
        return {}

    async def on_stopped(self, ctx: JobContext, job: TrainingJob, work: W) -> None:
        """Called when the work ended by an exception (stopped or failed), before the job ends."""

    # -- delivery --------------------------------------------------------------------

    async def handle(self, ctx: JobContext, job_id: str) -> Outcome:
        """Handle one delivery of the message for ``job_id``."""
        job = await _delivered_job(ctx, job_id)
        if job is None:
            return Outcome.MISSING
        if job.kind != self.kind:
            log.error("job %s is a %s job; the %s actor dropped its message", job_id, job.kind, self.kind)
            return Outcome.WRONG_KIND
        stale = is_stale(job.heartbeat_at, job.started_at, utcnow(), ctx.settings.jobs.stale_after_s)
        action = redelivery_action(JobStatus(job.status), stale=stale)
        if action is RedeliveryAction.IGNORE_TERMINAL:
            return Outcome.IGNORED_TERMINAL
        if action is RedeliveryAction.DROP_RUNNING_ELSEWHERE:
            return Outcome.DROPPED_RUNNING_ELSEWHERE
        if action is RedeliveryAction.RECOVER_STALE:
            # Redelivered after its worker died: apply the reaper's rule, then take it ourselves.
            reaped = await reap_job(ctx, job, resend=False)
            if reaped is not ReapOutcome.REQUEUED:
                return Outcome.FAILED if reaped is ReapOutcome.FAILED else Outcome.CANCELLED
            async with ctx.sessions() as session:
                job = await get_job(session, job_id, reader=SYSTEM)  # the requeued row: its new attempt
        try:
            claimed = await self._claim(ctx, job)
        except (SQLAlchemyError, StoreBusy, OSError) as exc:
            # The message is consumed either way (no broker retry: attempts live on the row), so
            # raising would only dead-letter it. The claim rolled back, leaving the job queued, and
            # the reaper sends it again after jobs.queued_resend_after_s (had its commit landed
            # after all, the job is running without heartbeats, and the reaper requeues it).
            log.warning("claiming job %s failed (%s); it stays queued for the reaper to send again", job_id, exc)
            return Outcome.CLAIM_FAILED
        if claimed.deferred:
            log.info("job %s waits for its turn: its user runs jobs.max_running_per_user jobs already", job_id)
            return Outcome.DEFERRED
        if claimed.result is None:
            return Outcome.LOST_CLAIM
        return await self._execute(ctx, claimed.result.job)

    async def fail(self, ctx: JobContext, job: TrainingJob, code: str, message: str, **kwargs: Any) -> bool:
        """End the job ``failed``; False when another run or request ended it first."""
        # Every terminal write of a run is conditional on its attempt: once the reaper has given
        # the job to another run, this one must leave the row alone.
        return await finish_failed(ctx, job, code, message, expected_attempt=job.attempt, **kwargs)

    async def _cancelled(self, ctx: JobContext, job: TrainingJob, *, forced: bool = False) -> bool:
        return await finish_cancelled(ctx, job, forced=forced, expected_attempt=job.attempt)

    async def _claim(self, ctx: JobContext, job: TrainingJob) -> Claim:
        """Claim under the user's cap (``store.admission.claim``); publishes the event when won."""
        async with ctx.sessions.begin() as session:
            outcome = await claim(
                session,
                job,
                cap=ctx.settings.jobs.max_running_per_user,
                # expected_attempt is job.attempt: the attempt the event reports
                changes={"worker": ctx.worker_name, "heartbeat_at": utcnow()},
                payload={"attempt": job.attempt, "worker": ctx.worker_name},
            )
        if outcome.result is not None:
            await ctx.publisher.publish(job.user_id, outcome.result.event)
        return outcome

    # -- running ---------------------------------------------------------------------

    async def _execute(self, ctx: JobContext, job: TrainingJob) -> Outcome:
        settings = ctx.settings.jobs
        try:
            max_runtime = resolve_max_runtime(
                (job.config or {}).get("max_runtime_s"), settings.default_max_runtime_s, settings.max_runtime_limit_s
            )
            work = await self.prepare(ctx, job)
        except ModelError as exc:
            await self.fail(ctx, job, exc.code, str(exc), details={"field": exc.field} if exc.field else None)
            return Outcome.FAILED
        except NotFound as exc:
            await self.fail(ctx, job, "dataset_error", f"{exc.kind} {exc.key} no longer exists")
            return Outcome.FAILED

        state = RunState(deadline=ctx.monotonic() + max_runtime, work=work)

        def should_stop() -> str | None:
            now = ctx.monotonic()
            reason = stop_reason(cancel_requested=state.cancel.is_set(), now_monotonic=now, deadline=state.deadline)
            return None if reason is None else reason.value

        running = asyncio.ensure_future(
            asyncio.to_thread(self.compute, ctx, job, work, should_stop=should_stop, on_progress=state.on_progress)
        )
        forced = await self._supervise(ctx, job, state, running)
        if forced is not None:
            return forced
        if running.exception() is not None:
            await self.on_stopped(ctx, job, work)
        return await self._conclude(ctx, job, work, running)

    async def _supervise(
        self, ctx: JobContext, job: TrainingJob, state: RunState[W], running: asyncio.Future[Any]
    ) -> Outcome | None:
        """Watch the work until it ends; returns an outcome only if the job was forced to end."""
        settings = ctx.settings.jobs
        throttle = Throttle(settings.progress_interval_s)
        next_beat = ctx.monotonic() + settings.heartbeat_s
        stop_since: float | None = None
        while not running.done():
            await asyncio.wait({running}, timeout=ctx.poll_s)
            if running.done():
                break
            now = ctx.monotonic()
            if not state.cancel.is_set() and await ctx.cancel_signals.is_requested(job.id):
                state.cancel.set()
            if now >= next_beat:
                next_beat = now + settings.heartbeat_s
                status = await self._beat(ctx, job)
                if status is JobStatus.CANCELLING:
                    state.cancel.set()
                elif status is None:
                    # Someone else finalized the job (a forced cancel or the reaper): stop working on it.
                    state.cancel.set()
                    running.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
                    return Outcome.SUPERSEDED
            await self._maybe_progress(ctx, job, state, throttle, now)
            if stop_since is None and (state.cancel.is_set() or now >= state.deadline):
                stop_since = now
            if stop_since is not None and now - stop_since >= settings.cancel_grace_s:
                return await self._force_end(ctx, job, state, running)
        return None

    async def _beat(self, ctx: JobContext, job: TrainingJob) -> JobStatus | None:
        """Heartbeat; returns the job's status, or None when it is no longer active."""
        try:
            async with ctx.sessions.begin() as session:
                alive = await heartbeat(session, job.id, ctx.worker_name, attempt=job.attempt)
                current = await get_job(session, job.id, reader=SYSTEM) if alive else None
        except Exception as exc:  # a database hiccup must not kill long work; the next beat retries
            log.warning("heartbeat of job %s failed: %s", job.id, exc)
            return JobStatus.RUNNING
        if current is None:
            return None
        status = JobStatus(current.status)
        return status if status in ACTIVE else None

    async def _maybe_progress(
        self, ctx: JobContext, job: TrainingJob, state: RunState[W], throttle: Throttle, now: float
    ) -> None:
        with state.lock:
            if state.progress is None or state.progress_count == state.progress_seen:
                return
            if not throttle.ready(now):
                return
            progress, state.progress_seen = dict(state.progress), state.progress_count
        extra: dict[str, Any] = {}
        async with ctx.sessions.begin() as session:
            active = await update_progress(session, job.id, progress, attempt=job.attempt)
            if active:
                extra = await self.on_progress_saved(session, job, state.work)
        if active:
            event = {
                "type": "job.progress",
                "job_id": job.id,
                "kind": job.kind,
                "pipeline_id": job.pipeline_id,
                "node_id": job.node_id,
                "status": JobStatus.CANCELLING.value if state.cancel.is_set() else JobStatus.RUNNING.value,
                "progress": progress,
                "at": utcnow().isoformat(),
                **extra,
            }
            await ctx.publisher.publish(job.user_id, event)

    async def _force_end(
        self, ctx: JobContext, job: TrainingJob, state: RunState[W], running: asyncio.Future[Any]
    ) -> Outcome:
        """The work ignored a stop request past the grace period: finalize, then end the process."""
        grace = ctx.settings.jobs.cancel_grace_s
        log.error("job %s did not stop within %.1fs; ending its worker process", job.id, grace)
        if state.cancel.is_set():
            await self._cancelled(ctx, job, forced=True)
            outcome = Outcome.FORCED
        else:
            await self.fail(ctx, job, "timeout", "the job exceeded its max_runtime_s and did not stop at a checkpoint")
            outcome = Outcome.FAILED
        running.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
        ctx.terminate_process()
        return outcome

    async def _conclude(self, ctx: JobContext, job: TrainingJob, work: W, running: asyncio.Future[R]) -> Outcome:
        try:
            result = running.result()
        except JobCancelled:
            if await self._cancelled(ctx, job):
                return Outcome.CANCELLED
            return Outcome.SUPERSEDED
        except DeadlineExceeded:
            message = "the job exceeded its max_runtime_s"
            return Outcome.FAILED if await self.fail(ctx, job, "timeout", message) else Outcome.SUPERSEDED
        except ModelError as exc:
            ok = await self.fail(ctx, job, exc.code, str(exc), details={"field": exc.field} if exc.field else None)
            return Outcome.FAILED if ok else Outcome.SUPERSEDED
        except Exception as exc:
            log.exception("job %s crashed", job.id)
            ok = await self.fail(ctx, job, self.crash_code, f"{type(exc).__name__}: {exc}")
            return Outcome.FAILED if ok else Outcome.SUPERSEDED
        return await self.finish(ctx, job, work, result)


async def run_job(ctx: JobContext, job_id: str) -> Outcome:
    """Handle one delivery of ``job_id`` with the runner of its kind (what tests drive directly)."""
    from actors.jobs.kinds import runner_for

    job = await _delivered_job(ctx, job_id)
    if job is None:
        return Outcome.MISSING
    return await runner_for(job.kind).handle(ctx, job_id)


async def _delivered_job(ctx: JobContext, job_id: str) -> TrainingJob | None:
    """The job a message names, or None (logged) when there is no such job: the message is dropped."""
    try:
        async with ctx.sessions() as session:
            return await get_job(session, job_id, reader=SYSTEM)
    except NotFound:
        log.warning("message for unknown job %s dropped", job_id)
        return None
