"""Group commit of job submissions on SQLite: one write transaction for every submission waiting.

On SQLite every write transaction of a process queues on one lock, and each statement is a
hand-off to the driver's thread that costs the event loop about 0.2 ms. One submission's
transaction ran seven statements, so under a burst the event loop spent most of its time on
hand-offs while the submissions waited for the lock in a line. Here the submissions that
arrive while a transaction runs wait for the next one together: one ``BEGIN IMMEDIATE``, one
quota count per user (and one active-job lookup per node when ``jobs.one_active_per_node``),
the pipelines, jobs and events as three ``executemany``, one admission, one ``COMMIT``.

Every guarantee of the single path (``actors.jobs.submission.record_then_send``) holds:

- The checks come before any write and count the batch's own earlier members: a user's
  ``jobs.max_active_per_user``-th job is refused (409) whichever batch the others were in,
  and a second job on a node is refused (409) when the first is in the same batch.
- A database error (a dataset deleted since its head was read, a full disk) rolls the whole
  batch back and each member runs alone on the single path, so it fails only the one whose
  row caused it.
- Events are published only after the commit, then the admitted jobs' messages are sent;
  a member whose own message could not be sent is failed (``broker_unavailable``) as alone.

Submissions with an idempotency key or a pipeline replacement, and any on PostgreSQL
(whose row locks order concurrent first submissions to a pipeline), take the single path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from actors.jobs.context import JobContext
from actors.jobs.dispatch import send_admitted
from actors.jobs.submission import fail_unsent, node_conflict, quota_exceeded
from store.admission import admit_next
from store.job_queries import active_job_for_node, count_active
from store.jobs import QueuedJob
from store.models import TrainingJob
from store.settings import JobsSettings
from store.submission_writes import insert_job_rows, save_pipeline_rows

log = logging.getLogger(__name__)

MAX_BATCH = 128
"""Most submissions in one transaction (each batch holds SQLite's write lock while it runs)."""


@dataclass
class Submission:
    """One submission waiting for a batch.

    Attributes:
        user_id: Who submits.
        pipeline: The ``pipelines`` row it upserts (``store.submission_writes.pipeline_row``).
        queued: Its job's rows (``store.jobs.queued_job``).
        alone: Records it on the single path (``record_then_send``), when its batch failed.
    """

    user_id: str
    pipeline: dict[str, Any]
    queued: QueuedJob
    alone: Callable[[], Awaitable[TrainingJob]]
    done: asyncio.Future[TrainingJob] = field(init=False)

    @property
    def job(self) -> TrainingJob:
        """The job it creates."""
        return self.queued.result.job


class SubmissionBatches:
    """Writes the submissions of one process in batches (SQLite only; see the module docstring).

    A batch is written by a task that lives while submissions wait; it needs no start or stop.
    """

    def __init__(self, max_batch: int = MAX_BATCH) -> None:
        self._max_batch = max_batch
        self._waiting: list[Submission] = []
        self._writer: asyncio.Task[None] | None = None
        self._finishing: set[asyncio.Task[None]] = set()
        self.last_batch_size = 0
        """How many submissions the last batch held (those that went away before it started left out)."""

    async def submit(self, ctx: JobContext, submission: Submission) -> TrainingJob:
        """Record ``submission`` with whichever others wait, publish its event, send what was admitted.

        Raises:
            ActiveJobConflict: its node has an active job (``jobs.one_active_per_node``).
            QuotaExceeded: its user has ``jobs.max_active_per_user`` active jobs.
            NotFound: its dataset was deleted since its head was read.
            BrokerUnavailable: its message could not be sent; the job was failed.
        """
        loop = asyncio.get_running_loop()
        submission.done = loop.create_future()
        self._waiting.append(submission)
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_while_waiting(ctx))
        # A caller that goes away before its batch starts is left out of it (its future is
        # cancelled), as a request cancelled before its own transaction committed.
        return await submission.done

    async def _write_while_waiting(self, ctx: JobContext) -> None:
        while self._waiting:
            batch = [s for s in self._waiting[: self._max_batch] if not s.done.done()]
            del self._waiting[: self._max_batch]
            try:
                await self._write(ctx, batch)
            except BaseException:  # cancelled (the loop is shutting down): nobody may wait forever
                for waiting in batch + self._waiting:
                    waiting.done.cancel()
                self._waiting.clear()
                raise

    async def _write(self, ctx: JobContext, batch: list[Submission]) -> None:
        if not batch:
            return
        self.last_batch_size = len(batch)
        jobs_cfg = ctx.settings.jobs
        try:
            async with ctx.sessions.begin() as session:
                accepted, refused = await _checked(session, jobs_cfg, batch)
                if accepted:
                    await save_pipeline_rows(session, [s.pipeline for s in accepted])
                    rows = [s.queued for s in accepted]
                    await insert_job_rows(session, [q.values for q in rows], [q.first for q in rows])
                admitted = await admit_next(session, jobs_cfg.max_running_per_user) if accepted else []
        except Exception as exc:
            # One member's row (its dataset deleted since) or the database failed the batch:
            # each runs alone, so that a failure is only ever its own.
            log.info("a batch of %d submissions failed (%s); each is recorded alone", len(batch), exc)
            for submission in batch:
                if not submission.done.done():  # its caller went away: not recorded, as before its batch
                    await _alone(submission)
            return
        for submission, error in refused:
            _answer(submission, error)
        # Publishing and sending wait on Redis: the next batch need not.
        task = asyncio.get_running_loop().create_task(_after_commit(ctx, accepted, admitted))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)


async def _checked(
    session: AsyncSession, jobs_cfg: JobsSettings, batch: list[Submission]
) -> tuple[list[Submission], list[tuple[Submission, Exception]]]:
    """The members that pass the single path's checks in order (node, then quota), and the refused."""
    accepted: list[Submission] = []
    refused: list[tuple[Submission, Exception]] = []
    limit = jobs_cfg.max_active_per_user
    active: dict[str, int] = {}
    holders: dict[tuple[str, str], tuple[str, str] | None] = {}
    for submission in batch:
        job = submission.job
        node = (job.pipeline_id, job.node_id)
        if jobs_cfg.one_active_per_node:
            if node not in holders:
                holder = await active_job_for_node(session, *node)
                holders[node] = None if holder is None else (holder.id, holder.status)
            held = holders[node]
            if held is not None:
                refused.append((submission, node_conflict(job.node_id, *held)))
                continue
        if submission.user_id not in active:  # counting stops at the limit, as alone
            active[submission.user_id] = await count_active(session, submission.user_id, at_most=limit)
        if active[submission.user_id] >= limit:
            refused.append((submission, quota_exceeded(jobs_cfg)))
            continue
        active[submission.user_id] += 1
        holders[node] = (job.id, job.status)
        accepted.append(submission)
    return accepted, refused


async def _alone(submission: Submission) -> None:
    try:
        job = await submission.alone()
    except Exception as exc:
        _answer(submission, exc)
    else:
        _answer(submission, job)


async def _after_commit(ctx: JobContext, accepted: list[Submission], admitted: list[TrainingJob]) -> None:
    """Publish the committed events, then send the admitted jobs' messages; answer every member."""
    try:
        await ctx.publisher.publish_all([(s.user_id, s.queued.result.event) for s in accepted])
        report = await send_admitted(ctx, admitted)
        for submission in accepted:
            exc = report.failed.get(submission.job.id)
            if exc is None:
                _answer(submission, submission.job)
            else:
                _answer(submission, await fail_unsent(ctx, submission.job, exc))
    except Exception as exc:  # as alone, the caller learns of it (its job is recorded)
        for submission in accepted:
            _answer(submission, exc)


def _answer(submission: Submission, outcome: TrainingJob | Exception) -> None:
    """Hand ``outcome`` to the member's caller, unless it went away (its future was cancelled)."""
    if submission.done.done():
        return
    if isinstance(outcome, Exception):
        submission.done.set_exception(outcome)
    else:
        submission.done.set_result(outcome)
