"""The context object handed to every job: collaborators, not globals.

A worker process builds one :class:`JobContext` (``actors.jobs.worker_context``); tests that drive
the actor directly build their own with an in-process publisher and cancel signals.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actors.jobs.cancel_signal import CancelSignals
from actors.jobs.publish import Publisher
from actors.ml.options import FitOptions
from store.blobs import Blobs, open_blobs
from store.dataset_heads import DatasetHeads
from store.settings import Settings

if TYPE_CHECKING:  # group_commit imports this module
    from actors.jobs.group_commit import SubmissionBatches

Offloader = Callable[..., Awaitable[Any]]
"""Runs ``fn(*args)`` for a user off the event loop: ``await offload(user_id, fn, *args)``
(the web process's bounded executor, ``server.offload.Offload.run``)."""



class Sender(Protocol):
    """Sends the message of a job to the actor of its kind; returns the message id.

    ``max_runtime_s`` sets the broker's backstop time limit; ``kind`` (``training_jobs.kind``)
    picks the actor (``actors.kinds.ROUTES``).
    """

    async def __call__(self, job_id: str, max_runtime_s: float | None = None, kind: str = "training") -> str: ...


def default_worker_name() -> str:
    """``hostname:pid`` of this process: who holds a running job."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _refuse_to_terminate() -> None:
    raise RuntimeError("this context may not terminate its process")


@dataclass
class JobContext:
    """What a training job needs from the world.

    Attributes:
        settings: The loaded configuration.
        sessions: The database session factory.
        publisher: Where committed events go.
        cancel_signals: The fast cancel path (Redis in production).
        sender: Sends a job's message again (the reaper's retries).
        worker_name: Recorded on the jobs this process runs.
        terminate_process: Ends the worker process when a fit ignores cancellation past
            ``jobs.cancel_grace_s``; the pool replaces it.
        monotonic: The clock deadlines are measured on.
        poll_s: How often a running job checks its cancel signal.
        offload: Runs CPU-heavy steps of a submission (validating and hashing a large graph)
            off the event loop; None runs them inline (workers, tests).
        blobs: Where datasets are read and artifacts written; :attr:`storage` opens it
            from the settings when not given.
        dataset_heads: The datasets' ids, owners and columns a submission validates against,
            read once per process.
        submission_batches: Writes concurrent submissions in one transaction (the web
            process on SQLite, ``actors.jobs.group_commit``); None records each alone.
    """

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    publisher: Publisher
    cancel_signals: CancelSignals
    sender: Sender | None = None
    worker_name: str = field(default_factory=default_worker_name)
    terminate_process: Callable[[], None] = _refuse_to_terminate
    monotonic: Callable[[], float] = time.monotonic
    poll_s: float = 0.05
    offload: Offloader | None = None
    blobs: Blobs | None = None
    dataset_heads: DatasetHeads = field(default_factory=DatasetHeads)
    submission_batches: SubmissionBatches | None = None

    @property
    def storage(self) -> Blobs:
        """The datasets' and artifacts' stores (opened from the settings on first use)."""
        if self.blobs is None:
            self.blobs = open_blobs(self.settings)
        return self.blobs

    async def run_cpu(self, user_id: str, fn: Callable[..., Any], /, *args: Any) -> Any:
        """``fn(*args)`` through :attr:`offload` when there is one, else inline."""
        if self.offload is None:
            return fn(*args)
        return await self.offload(user_id, fn, *args)

    def fit_options(self) -> FitOptions:
        """The fit's options from the configuration."""
        data, insights = self.settings.data, self.settings.insights
        return FitOptions(
            max_full_rows=data.max_full_rows,
            sample_rows=data.sample_rows,
            n_jobs=self.settings.worker.ml_threads,
            max_runtime_limit_s=self.settings.jobs.max_runtime_limit_s,
            curves=insights.curves, explain=insights.explain, explain_rows=insights.explain_rows,
            explain_budget_s=insights.explain_budget_s, permutation_repeats=insights.permutation_repeats,
        )

    def artifact_key(self, pipeline_id: str, job_id: str, attempt: int = 1) -> str:
        """The storage key of a job's model in the artifacts store (:mod:`store.blobs`).

        A retried job (attempt 2 and later) writes its own file, so that a run the reaper
        gave up on, still finishing somewhere, can never overwrite or delete it.
        """
        suffix = "" if attempt <= 1 else f".attempt{attempt}"
        return f"uploads/models/{pipeline_id}/{job_id}{suffix}.joblib"
