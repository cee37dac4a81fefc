"""Sending waiting jobs in their turn: the I/O around ``store.admission.admit_next``.

Whoever frees or may free a running slot dispatches: the web process after a submission
(inside its transaction) and after cancelling a queued job, a worker after each job it
handled, and the reaper on every pass (the backstop for a process that died in between).
Any number of them may dispatch at once: admission is decided in the database.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from actors.jobs.context import JobContext
from store.admission import admit_next, any_waiting, release
from store.models import TrainingJob

log = logging.getLogger(__name__)


@dataclass
class Dispatched:
    """What one dispatch did: the jobs sent, and those whose message could not be sent (waiting again)."""

    sent: list[str] = field(default_factory=list)
    failed: dict[str, Exception] = field(default_factory=dict)


async def send_admitted(ctx: JobContext, jobs: Sequence[TrainingJob]) -> Dispatched:
    """Send the messages of jobs just admitted (after their transaction committed).

    A job whose message cannot be sent goes back to waiting, so a later dispatch sends it.
    """
    report = Dispatched()
    if ctx.sender is None:
        raise RuntimeError("this context cannot send messages")
    for job in jobs:
        try:
            await ctx.sender(job.id, (job.config or {}).get("max_runtime_s"), kind=job.kind)
        except Exception as exc:
            log.warning("could not send the message of job %s: %s; it waits for the next dispatch", job.id, exc)
            report.failed[job.id] = exc
            try:
                async with ctx.sessions.begin() as session:
                    await release(session, job.id, attempt=job.attempt)
            except Exception as db_exc:  # admitted without a message: the reaper re-sends it later
                log.warning("job %s stays admitted without a message: %s", job.id, db_exc)
        else:
            report.sent.append(job.id)
    return report


async def dispatch(ctx: JobContext) -> Dispatched:
    """Admit the waiting jobs whose turn it is and send their messages."""
    if ctx.sender is None:
        return Dispatched()
    async with ctx.sessions() as session:
        # Most dispatches find nobody waiting: a read, not a write transaction, decides that.
        if not await any_waiting(session):
            return Dispatched()
    async with ctx.sessions.begin() as session:
        admitted = await admit_next(session, ctx.settings.jobs.max_running_per_user)
    return await send_admitted(ctx, admitted)


async def dispatch_quietly(ctx: JobContext) -> Dispatched:
    """:func:`dispatch`, logging instead of raising: a later dispatch (the reaper's) catches up."""
    try:
        return await dispatch(ctx)
    except Exception as exc:
        log.warning("dispatch of waiting jobs failed (%s); the reaper's next pass retries", exc)
        return Dispatched()
