"""One training job from claim to terminal state: what ``TrainingActor.perform`` does.

The ML engine runs in a thread; this coroutine stays responsive beside it: it polls the
cancel signal every ``ctx.poll_s``, heartbeats every ``jobs.heartbeat_s``, publishes
throttled progress, and, when a fit ignores a stop request for ``jobs.cancel_grace_s``,
finalizes the job itself and ends the worker process.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from actors.errors import DeadlineExceeded, JobCancelled, ModelError
from actors.jobs.context import JobContext
from actors.jobs.fetch import StoredDataset, train_on_stored
from actors.jobs.outcomes import finish_cancelled, finish_failed, finish_succeeded
from actors.jobs.policy import (
    RedeliveryAction,
    Throttle,
    is_stale,
    redelivery_action,
    resolve_max_runtime,
    stop_reason,
)
from actors.jobs.reaper import ReapOutcome, reap_job
from actors.ml.curves import CurveLog
from actors.ml.fit import TrainingResult
from store.admission import Claim, claim
from store.datasets import get_dataset
from store.errors import BlobError, NotFound, StoreBusy
from store.insights import save_insights
from store.job_queries import get_job
from store.jobs import heartbeat, update_progress
from store.models import TrainingJob
from store.reader import Reader
from store.states import ACTIVE, JobStatus
from store.types import utcnow

log = logging.getLogger(__name__)
SYSTEM = Reader.system()


class Outcome(enum.StrEnum):
    """How one delivery of a job's message ended (for logs and tests)."""

    MISSING = "missing"
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


@dataclass
class _RunState:
    """What the engine thread and the supervising coroutine share."""

    deadline: float
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: dict[str, Any] | None = None
    progress_seen: int = 0
    progress_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    curve: CurveLog = field(default_factory=CurveLog)
    curve_sent: int = 0

    def on_progress(self, update: dict[str, Any]) -> None:
        with self.lock:
            self.progress = dict(update)
            self.progress_count += 1


async def run_job(ctx: JobContext, job_id: str) -> Outcome:
    """Handle one delivery of the message for ``job_id``."""
    try:
        async with ctx.sessions() as session:
            job = await get_job(session, job_id, reader=SYSTEM)
    except NotFound:
        log.warning("message for unknown job %s dropped", job_id)
        return Outcome.MISSING
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
        claimed = await _claim(ctx, job)
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
    return await _execute(ctx, claimed.result.job)


async def _fail(ctx: JobContext, job: TrainingJob, code: str, message: str, **kwargs: Any) -> bool:
    # Every terminal write of a run is conditional on its attempt: once the reaper has given
    # the job to another run, this one must leave the row alone.
    return await finish_failed(ctx, job, code, message, expected_attempt=job.attempt, **kwargs)


async def _cancelled(ctx: JobContext, job: TrainingJob, *, forced: bool = False) -> bool:
    return await finish_cancelled(ctx, job, forced=forced, expected_attempt=job.attempt)


async def _claim(ctx: JobContext, job: TrainingJob) -> Claim:
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


async def _execute(ctx: JobContext, job: TrainingJob) -> Outcome:
    settings = ctx.settings.jobs
    try:
        max_runtime = resolve_max_runtime(
            (job.config or {}).get("max_runtime_s"), settings.default_max_runtime_s, settings.max_runtime_limit_s
        )
        async with ctx.sessions() as session:
            dataset = await get_dataset(session, job.dataset_source_id, reader=SYSTEM)
        source = StoredDataset(
            ctx.storage.data,
            ctx.storage.data.key(dataset.storage_uri),
            dataset.storage_format or dataset.format,  # type: ignore[arg-type]
            dataset.storage_sha256 or dataset.sha256,
        )
    except BlobError as exc:
        await _fail(ctx, job, "dataset_error", f"the dataset's storage URI is refused: {exc.message}")
        return Outcome.FAILED
    except ModelError as exc:
        await _fail(ctx, job, exc.code, str(exc))
        return Outcome.FAILED
    except NotFound:
        await _fail(ctx, job, "dataset_error", f"dataset {job.dataset_source_id} no longer exists")
        return Outcome.FAILED

    state = _RunState(deadline=ctx.monotonic() + max_runtime)

    def should_stop() -> str | None:
        now = ctx.monotonic()
        reason = stop_reason(cancel_requested=state.cancel.is_set(), now_monotonic=now, deadline=state.deadline)
        return None if reason is None else reason.value

    fit = asyncio.ensure_future(
        asyncio.to_thread(
            train_on_stored,
            job.graph,
            job.node_id,
            source,
            ctx.engine_options(),
            should_stop=should_stop,
            on_progress=state.on_progress,
            pipeline_hash=job.pipeline_id.rsplit("_", 1)[-1],
            curve=state.curve,
        )
    )
    forced = await _supervise(ctx, job, state, fit)
    if forced is not None:
        return forced
    if fit.exception() is not None:
        await _store_curve(ctx, job, state)  # a stopped or failed fit keeps the curve it drew
    return await _conclude(ctx, job, fit)


async def _supervise(ctx: JobContext, job: TrainingJob, state: _RunState, fit: asyncio.Future[Any]) -> Outcome | None:
    """Watch the fit until it ends; returns an outcome only if the job was forced to end."""
    settings = ctx.settings.jobs
    throttle = Throttle(settings.progress_interval_s)
    next_beat = ctx.monotonic() + settings.heartbeat_s
    stop_since: float | None = None
    while not fit.done():
        await asyncio.wait({fit}, timeout=ctx.poll_s)
        if fit.done():
            break
        now = ctx.monotonic()
        if not state.cancel.is_set() and await ctx.cancel_signals.is_requested(job.id):
            state.cancel.set()
        if now >= next_beat:
            next_beat = now + settings.heartbeat_s
            status = await _beat(ctx, job)
            if status is JobStatus.CANCELLING:
                state.cancel.set()
            elif status is None:
                # Someone else finalized the job (a forced cancel or the reaper): stop working on it.
                state.cancel.set()
                fit.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
                return Outcome.SUPERSEDED
        await _maybe_progress(ctx, job, state, throttle, now)
        if stop_since is None and (state.cancel.is_set() or now >= state.deadline):
            stop_since = now
        if stop_since is not None and now - stop_since >= settings.cancel_grace_s:
            return await _force_end(ctx, job, state, fit)
    return None


async def _beat(ctx: JobContext, job: TrainingJob) -> JobStatus | None:
    """Heartbeat; returns the job's status, or None when it is no longer active."""
    try:
        async with ctx.sessions.begin() as session:
            alive = await heartbeat(session, job.id, ctx.worker_name, attempt=job.attempt)
            current = await get_job(session, job.id, reader=SYSTEM) if alive else None
    except Exception as exc:  # a database hiccup must not kill a long fit; the next beat retries
        log.warning("heartbeat of job %s failed: %s", job.id, exc)
        return JobStatus.RUNNING
    if current is None:
        return None
    status = JobStatus(current.status)
    return status if status in ACTIVE else None


async def _maybe_progress(ctx: JobContext, job: TrainingJob, state: _RunState, throttle: Throttle, now: float) -> None:
    with state.lock:
        if state.progress is None or state.progress_count == state.progress_seen:
            return
        if not throttle.ready(now):
            return
        progress, state.progress_seen = dict(state.progress), state.progress_count
    curve = state.curve.delta(state.curve_sent)
    async with ctx.sessions.begin() as session:
        active = await update_progress(session, job.id, progress, attempt=job.attempt)
        if active and curve is not None:
            # Stored up to the last point streamed: a page that loads the curve now continues
            # with the next update, with no points missing in between.
            snapshot = state.curve.snapshot(upto=int(curve["count"]))
            await save_insights(session, job.id, job.attempt, learning_curve=snapshot)
    if active:
        event = {
            "type": "job.progress",
            "job_id": job.id,
            "pipeline_id": job.pipeline_id,
            "node_id": job.node_id,
            "status": JobStatus.CANCELLING.value if state.cancel.is_set() else JobStatus.RUNNING.value,
            "progress": progress,
            "at": utcnow().isoformat(),
        }
        if curve is not None:
            # The new points only; ``offset`` lets a client that missed one refetch the whole curve.
            event["learning_curve"] = curve
            state.curve_sent = int(curve["count"])
        await ctx.publisher.publish(job.user_id, event)


async def _store_curve(ctx: JobContext, job: TrainingJob, state: _RunState) -> None:
    snapshot = state.curve.snapshot()
    if snapshot is None:
        return
    try:
        async with ctx.sessions.begin() as session:
            await save_insights(session, job.id, job.attempt, learning_curve=snapshot)
    except Exception as exc:  # the job's ending matters more than its curve
        log.warning("storing the learning curve of job %s failed: %s", job.id, exc)


async def _force_end(ctx: JobContext, job: TrainingJob, state: _RunState, fit: asyncio.Future[Any]) -> Outcome:
    """The fit ignored a stop request past the grace period: finalize, then end the process."""
    log.error("job %s did not stop within %.1fs; ending its worker process", job.id, ctx.settings.jobs.cancel_grace_s)
    if state.cancel.is_set():
        await _cancelled(ctx, job, forced=True)
        outcome = Outcome.FORCED
    else:
        await _fail(ctx, job, "timeout", "the job exceeded its max_runtime_s and did not stop at a checkpoint")
        outcome = Outcome.FAILED
    fit.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
    ctx.terminate_process()
    return outcome


async def _conclude(ctx: JobContext, job: TrainingJob, fit: asyncio.Future[TrainingResult]) -> Outcome:
    try:
        result = fit.result()
    except JobCancelled:
        if await _cancelled(ctx, job):
            return Outcome.CANCELLED
        return Outcome.SUPERSEDED
    except DeadlineExceeded:
        message = "the job exceeded its max_runtime_s"
        return Outcome.FAILED if await _fail(ctx, job, "timeout", message) else Outcome.SUPERSEDED
    except ModelError as exc:
        ok = await _fail(ctx, job, exc.code, str(exc), details={"field": exc.field} if exc.field else None)
        return Outcome.FAILED if ok else Outcome.SUPERSEDED
    except Exception as exc:
        log.exception("job %s crashed", job.id)
        ok = await _fail(ctx, job, "training_error", f"{type(exc).__name__}: {exc}")
        return Outcome.FAILED if ok else Outcome.SUPERSEDED
    return await _store_model(ctx, job, result)


async def _store_model(ctx: JobContext, job: TrainingJob, result: TrainingResult) -> Outcome:
    from actors.ml.artifacts import save_artifact

    key = ctx.artifact_key(job.pipeline_id, job.id, job.attempt)
    try:
        stored = await asyncio.to_thread(save_artifact, result.pipeline, ctx.storage.artifacts, key)
    except ModelError as exc:
        ok = await _fail(ctx, job, exc.code, str(exc))
        return Outcome.FAILED if ok else Outcome.SUPERSEDED
    try:
        if await finish_succeeded(ctx, job, result, stored):
            return Outcome.SUCCEEDED
        return Outcome.SUPERSEDED
    except Exception as exc:
        log.exception("recording the model of job %s failed", job.id)
        ok = await _fail(ctx, job, "persist_error", f"the model could not be recorded: {exc}")
        return Outcome.FAILED if ok else Outcome.SUPERSEDED
