"""The predictions kind of job: one model version over a stored dataset, to a CSV or Parquet file.

:class:`PredictionsRunner` supplies what batch predictions add to
:class:`actors.jobs.runner.JobRunner`: the model version pinned at submission (its artifact
and sha256 are in the job's ``config``), the input dataset, the chunked prediction
(``actors.ml.batch_predictions``) and the output file recorded with ``succeeded``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from actors.errors import ArtifactError, DatasetError
from actors.jobs.context import JobContext
from actors.jobs.fetch import StoredDataset, fetch_artifact, fetch_dataset
from actors.jobs.outcomes import commit_then_publish
from actors.jobs.runner import JobRunner, Outcome
from actors.jobs.training_runner import stored_dataset
from actors.ml.artifacts import load_model_file
from actors.ml.batch_predictions import PredictionsWritten, predict_file
from actors.ml.checkpoints import Checkpoint
from actors.ml.dataset import file_sha256
from actors.ml.table_read import CHUNK_ROWS
from store.blobs import BlobStore
from store.errors import BlobError, IllegalTransition
from store.jobs import transition
from store.kinds import JobKind
from store.models import TrainingJob
from store.states import JobStatus

log = logging.getLogger(__name__)
WHILE_RUNNING = (JobStatus.RUNNING, JobStatus.CANCELLING)


@dataclass(frozen=True)
class PredictionsWork:
    """A predictions job's input: the pinned model, the dataset, where the output goes."""

    model_key: str
    model_sha256: str
    dataset: StoredDataset
    output_key: str
    output_format: str


def output_key(job: TrainingJob, output_format: str) -> str:
    """Where a predictions job's output goes in the artifacts store (one object per attempt)."""
    suffix = "" if job.attempt <= 1 else f".attempt{job.attempt}"
    return f"uploads/predictions/{job.pipeline_id}/{job.id}{suffix}.{output_format}"


class PredictionsRunner(JobRunner[PredictionsWork, PredictionsWritten]):
    """Claim, predict chunk by chunk, store the output; always ends terminal."""

    kind = JobKind.PREDICTIONS.value
    crash_code = "prediction_error"
    chunk_rows: int = CHUNK_ROWS
    """The most rows predicted at once: memory is bounded by one chunk (and one read batch)."""

    async def prepare(self, ctx: JobContext, job: TrainingJob) -> PredictionsWork:
        config = job.config or {}
        output_format = str(config.get("format") or "csv")
        try:
            model_key = ctx.storage.artifacts.key(str(config["artifact_uri"]))
        except BlobError as exc:
            raise ArtifactError(f"the model's storage URI is refused: {exc.message}", field="artifact.path") from exc
        dataset = await stored_dataset(ctx, job.dataset_source_id)
        return PredictionsWork(model_key, str(config["artifact_sha256"]), dataset, output_key(job, output_format),
                               output_format)

    def compute(
        self, ctx: JobContext, job: TrainingJob, work: PredictionsWork, *,
        should_stop: Callable[[], str | None], on_progress: Callable[[dict[str, Any]], None],
    ) -> PredictionsWritten:
        checkpoint = Checkpoint(should_stop, on_progress)
        checkpoint.check("start")
        store = ctx.storage.artifacts
        with contextlib.ExitStack() as stack:
            source = fetch_dataset(stack, work.dataset)
            if source.sha256 is not None and file_sha256(source.path) != source.sha256.lower():
                raise DatasetError("the dataset file does not match its recorded sha256", field="dataset_id")
            # The sha256 is checked before anything is unpickled.
            model = load_model_file(fetch_artifact(stack, store, work.model_key, work.model_sha256), work.model_sha256)
            return predict_file(model, source.path, source.format, store, work.output_key, work.output_format,
                                checkpoint, chunk_rows=self.chunk_rows)

    async def finish(
        self, ctx: JobContext, job: TrainingJob, work: PredictionsWork, result: PredictionsWritten
    ) -> Outcome:
        summary = {"predictions": {
            "rows": result.rows, "format": work.output_format, "columns": result.columns,
            "prediction_column": result.prediction_column, "probability_columns": result.probability_columns,
            "version": (job.config or {}).get("version"), "sha256": result.sha256,
        }}

        async def record(session: AsyncSession) -> list[dict[str, Any]] | None:
            try:
                done = await transition(
                    session, job.id, JobStatus.SUCCEEDED, expected=WHILE_RUNNING, expected_attempt=job.attempt,
                    changes={"metrics": summary, "model_artifact_uri": result.uri,
                             "artifact_sha256": result.sha256},
                    payload={"predictions": {"rows": result.rows, "format": work.output_format}},
                )
            except IllegalTransition:
                return None
            return None if done is None else [done.event]

        store = ctx.storage.artifacts
        try:
            published = await commit_then_publish(ctx, job.user_id, record)
        except Exception as exc:
            await asyncio.to_thread(_remove, store, work.output_key)
            log.exception("recording the predictions of job %s failed", job.id)
            ok = await self.fail(ctx, job, "persist_error", f"the predictions could not be recorded: {exc}")
            return Outcome.FAILED if ok else Outcome.SUPERSEDED
        if published is None:  # the job ended meanwhile (e.g. cancelled): no output for it
            await asyncio.to_thread(_remove, store, work.output_key)
            return Outcome.SUPERSEDED
        return Outcome.SUCCEEDED


def _remove(store: BlobStore, key: str) -> None:
    try:
        store.delete(key)
    except BlobError as exc:  # best effort: an orphan object is only space
        log.error("could not remove orphan predictions %s: %s", key, exc.message)
