"""A Celery revoke of a training task cancels its job through the state machine.

``celery control revoke ID`` (or Flower's revoke or terminate button) of a ``train_model``
task reaches the worker's main process. Instead of Celery's discard or process kill, the job
is cancelled as a user's cancel would be: a queued job becomes ``cancelled``; a running one
becomes ``cancelling`` (its actor is signalled and stops at its next checkpoint, then ends
``cancelled``). The event's payload says the request came from Celery.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from actors.jobs.service import cancel_training_job
from shim.brokers.revoke import RevokedMessage
from store.errors import NotFound
from store.reader import Reader
from store.settings import Settings

log = logging.getLogger(__name__)

REQUESTED_BY = "celery:revoke"


def revoke_payload(revoked: RevokedMessage) -> dict[str, Any]:
    """What the cancel event records about a Celery revoke."""
    return {
        "requested_by": REQUESTED_BY,
        "celery_task_id": revoked.message_id,
        "terminate_requested": revoked.terminate,
        "was_running": revoked.running,
    }


async def cancel_revoked(settings: Settings, revoked: RevokedMessage) -> str | None:
    """Cancel the job of a revoked training message; returns the job's status after it."""
    from actors.jobs.worker_app import build_context

    if not revoked.args:
        log.error("revoked training task %s carries no job id", revoked.message_id)
        return None
    job_id = str(revoked.args[0])
    ctx, client, engine = build_context(settings, terminate=False)
    try:
        job = await cancel_training_job(ctx, Reader.system(), job_id, requested=revoke_payload(revoked))
    except NotFound:
        log.warning("revoked training task %s names unknown job %s", revoked.message_id, job_id)
        return None
    finally:
        await client.aclose()
        await engine.dispose()
    log.warning("Celery revoke of task %s: job %s is now %s", revoked.message_id, job_id, job.status)
    return str(job.status)


def revoke_handler(
    settings: Settings, guard: Callable[[Callable[[], Coroutine[Any, Any, Any]]], None] | None = None
) -> Callable[[RevokedMessage], None]:
    """A :func:`shim.brokers.revoke.on_revoke` handler: cancels on a thread of its own.

    Args:
        settings: The worker's configuration.
        guard: Runs the coroutine factory to completion (the worker passes one that holds its
            fork gate, since the main process writes the database here); ``asyncio.run`` by default.
    """

    def run(factory: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        asyncio.run(factory())

    runner = guard or run

    def handle(revoked: RevokedMessage) -> None:
        def work() -> None:
            try:
                runner(lambda: cancel_revoked(settings, revoked))
            except Exception:
                log.exception("cancelling the job of revoked task %s failed", revoked.message_id)

        threading.Thread(target=work, name="mlw-revoke", daemon=True).start()

    return handle
