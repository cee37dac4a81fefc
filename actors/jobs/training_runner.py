"""The training kind of job: fit the ``train_model`` node's model and record a version.

:class:`TrainingRunner` supplies only what training adds to :class:`actors.jobs.runner.JobRunner`:
the dataset it reads, the fit (``actors.ml.fit.run_training``), the learning curve streamed
with progress and kept when a fit stops, and the model version written with ``succeeded``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from actors.errors import DatasetError, ModelError
from actors.jobs.context import JobContext
from actors.jobs.fetch import StoredDataset, train_on_stored
from actors.jobs.outcomes import finish_succeeded
from actors.jobs.runner import JobRunner, Outcome
from actors.ml.curves import CurveLog
from actors.ml.fit import TrainingResult
from store.blobs import BlobStore, StoredBlob
from store.datasets import get_dataset
from store.errors import BlobError
from store.insights import save_insights
from store.job_queries import job_graph
from store.kinds import JobKind
from store.models import TrainingJob
from store.reader import Reader

log = logging.getLogger(__name__)
SYSTEM = Reader.system()


@dataclass
class TrainingWork:
    """A training job's input, and its learning curve as the fit draws it."""

    dataset: StoredDataset
    graph: dict[str, Any]
    """The job's graph (not loaded with its row: see ``TrainingJob.graph``)."""
    curve: CurveLog = field(default_factory=CurveLog)
    curve_sent: int = 0


async def stored_dataset(ctx: JobContext, dataset_id: str) -> StoredDataset:
    """The stored object of a dataset, for the fit to fetch.

    Raises:
        NotFound: the dataset no longer exists.
        DatasetError: its row names an object outside the data root.
    """
    async with ctx.sessions() as session:
        dataset = await get_dataset(session, dataset_id, reader=SYSTEM)
    store = ctx.storage.data
    try:
        key = store.key(dataset.storage_uri)
    except BlobError as exc:
        raise DatasetError(f"the dataset's storage URI is refused: {exc.message}", field="dataset.path") from exc
    return StoredDataset(
        store, key,
        dataset.storage_format or dataset.format,  # type: ignore[arg-type]
        dataset.storage_sha256 or dataset.sha256,
    )


class TrainingRunner(JobRunner[TrainingWork, TrainingResult]):
    """Claim, fit, evaluate, store; always ends terminal."""

    kind = JobKind.TRAINING.value
    crash_code = "training_error"

    async def prepare(self, ctx: JobContext, job: TrainingJob) -> TrainingWork:
        dataset = await stored_dataset(ctx, job.dataset_source_id)
        async with ctx.sessions() as session:
            graph = await job_graph(session, job.id)
        return TrainingWork(dataset, graph)

    def compute(
        self, ctx: JobContext, job: TrainingJob, work: TrainingWork, *,
        should_stop: Callable[[], str | None], on_progress: Callable[[dict[str, Any]], None],
    ) -> TrainingResult:
        return train_on_stored(
            work.graph,
            job.node_id,
            work.dataset,
            ctx.fit_options(),
            should_stop=should_stop,
            on_progress=on_progress,
            pipeline_hash=job.pipeline_id.rsplit("_", 1)[-1],
            curve=work.curve,
        )

    async def on_progress_saved(self, session: AsyncSession, job: TrainingJob, work: TrainingWork) -> dict[str, Any]:
        curve = work.curve.delta(work.curve_sent)
        if curve is None:
            return {}
        # Stored up to the last point streamed: a page that loads the curve now continues
        # with the next update, with no points missing in between.
        snapshot = work.curve.snapshot(upto=int(curve["count"]))
        await save_insights(session, job.id, job.attempt, learning_curve=snapshot)
        # The new points only; ``offset`` lets a client that missed one refetch the whole curve.
        work.curve_sent = int(curve["count"])
        return {"learning_curve": curve}

    async def on_stopped(self, ctx: JobContext, job: TrainingJob, work: TrainingWork) -> None:
        # A stopped or failed fit keeps the curve it drew.
        snapshot = work.curve.snapshot()
        if snapshot is None:
            return
        try:
            async with ctx.sessions.begin() as session:
                await save_insights(session, job.id, job.attempt, learning_curve=snapshot)
        except Exception as exc:  # the job's ending matters more than its curve
            log.warning("storing the learning curve of job %s failed: %s", job.id, exc)

    async def finish(self, ctx: JobContext, job: TrainingJob, work: TrainingWork, result: TrainingResult) -> Outcome:
        key = ctx.artifact_key(job.pipeline_id, job.id, job.attempt)
        try:
            stored = await asyncio.to_thread(_save_model, ctx.storage.artifacts, key, result)
        except ModelError as exc:
            ok = await self.fail(ctx, job, exc.code, str(exc))
            return Outcome.FAILED if ok else Outcome.SUPERSEDED
        try:
            if await finish_succeeded(ctx, job, result, stored.uri, stored.sha256):
                return Outcome.SUCCEEDED
            return Outcome.SUPERSEDED
        except Exception as exc:
            log.exception("recording the model of job %s failed", job.id)
            ok = await self.fail(ctx, job, "persist_error", f"the model could not be recorded: {exc}")
            return Outcome.FAILED if ok else Outcome.SUPERSEDED


def _save_model(store: BlobStore, key: str, result: TrainingResult) -> StoredBlob:
    """Write the portable artifact, then its model card beside it; returns the artifact."""
    from actors.ml.artifacts import save_artifact, save_bytes
    from actors.ml.model_card import card_bytes, card_relpath, with_artifact

    stored = save_artifact(result.artifact, store, key)
    card = with_artifact(result.model_card, key.rpartition("/")[2], stored.sha256)
    try:
        save_bytes(card_bytes(card), store, card_relpath(key))
    except BaseException:
        store.delete(key)  # no artifact without its card
        raise
    return stored
