"""The default message sender of the web process: ``TrainingActor`` on the shim's global broker.

``actors.jobs.training_actor`` declares its actor on the global broker when imported, so the import
waits for the first job: by then the process (``mlw serve``) has configured the broker.
Tests pass their own in-process sender to :func:`server.app.create_app` instead.
"""

from __future__ import annotations

from actors.jobs.context import Sender
from store.settings import Settings


def broker_sender(settings: Settings) -> Sender:
    """A sender enqueuing ``TrainingActor`` for a job id on the configured broker."""

    async def send(job_id: str, max_runtime_s: float | None) -> str:
        from actors.jobs.training_actor import make_sender
        from shim import get_broker

        inner = make_sender(get_broker(), settings.jobs.cancel_grace_s, settings.jobs.default_max_runtime_s)
        return await inner(job_id, max_runtime_s)

    return send
