"""The default message sender of the web process: each job's kind's actor on the shim's global broker.

The sender is built on the first job: by then the process (``mlw serve``) has configured the broker.
Tests pass their own in-process sender to :func:`server.app.create_app` instead.
"""

from __future__ import annotations

from actors.jobs.context import Sender
from store.settings import Settings


def broker_sender(settings: Settings) -> Sender:
    """A sender enqueuing a job's message for its kind's actor on the configured broker."""

    async def send(job_id: str, max_runtime_s: float | None = None, kind: str = "training") -> str:
        from actors.jobs.job_actor import make_sender
        from shim import get_broker

        inner = make_sender(get_broker(), settings.jobs.cancel_grace_s, settings.jobs.default_max_runtime_s)
        return await inner(job_id, max_runtime_s, kind=kind)

    return send
