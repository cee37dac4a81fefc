"""The predictions kind of job: one model version over a stored dataset, to a CSV or Parquet file.

:class:`PredictionsRunner` supplies what batch predictions add to
:class:`actors.jobs.runner.JobRunner`: the model version pinned at submission (its artifact
and sha256 are in the job's ``config``), the input dataset, the chunked prediction
(``actors.ml.batch_predictions``) and the output file recorded with ``succeeded``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from actors.errors import DatasetError
from actors.jobs.context import JobContext
from actors.jobs.outcomes import commit_then_publish
from actors.jobs.runner import JobRunner, Outcome
from actors.jobs.training_runner import dataset_ref
from actors.ml.artifacts import load_model
from actors.ml.batch_predictions import PredictionsWritten, predict_file
from actors.ml.checkpoints import Checkpoint
from actors.ml.dataset import file_sha256
from actors.ml.options import DatasetRef
from actors.ml.table_read import CHUNK_ROWS
from store.errors import IllegalTransition
from store.jobs import transition
from store.kinds import JobKind
from store.models import TrainingJob
from store.states import JobStatus

log = logging.getLogger(__name__)
WHILE_RUNNING = (JobStatus.RUNNING, JobStatus.CANCELLING)


@dataclass(frozen=True)
class PredictionsWork:
    """A predictions job's input: the pinned model, the dataset, where the output goes."""

    model_path: str
    model_sha256: str
    dataset: DatasetRef
    output_relpath: str
    output_format: str


def output_relpath(job: TrainingJob, output_format: str) -> str:
    """Where a predictions job's output goes, relative to ``artifacts.root`` (one file per attempt)."""
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
        return PredictionsWork(
            str(ctx.artifact_path(str(config["artifact_uri"]))),
            str(config["artifact_sha256"]),
            await dataset_ref(ctx, job.dataset_source_id),
            output_relpath(job, output_format),
            output_format,
        )

    def compute(
        self, ctx: JobContext, job: TrainingJob, work: PredictionsWork, *,
        should_stop: Callable[[], str | None], on_progress: Callable[[dict[str, Any]], None],
    ) -> PredictionsWritten:
        checkpoint = Checkpoint(should_stop, on_progress)
        checkpoint.check("start")
        if work.dataset.sha256 is not None and file_sha256(work.dataset.path) != work.dataset.sha256.lower():
            raise DatasetError("the dataset file does not match its recorded sha256", field="dataset_id")
        model = load_model(work.model_path, work.model_sha256)  # sha256 checked before anything is unpickled
        return predict_file(model, work.dataset.path, work.dataset.format, str(ctx.artifact_path(work.output_relpath)),
                            work.output_format, checkpoint, chunk_rows=self.chunk_rows)

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
                    changes={"metrics": summary, "model_artifact_uri": work.output_relpath,
                             "artifact_sha256": result.sha256},
                    payload={"predictions": {"rows": result.rows, "format": work.output_format}},
                )
            except IllegalTransition:
                return None
            return None if done is None else [done.event]

        output = ctx.artifact_path(work.output_relpath)
        try:
            published = await commit_then_publish(ctx, job.user_id, record)
        except Exception as exc:
            await asyncio.to_thread(_remove, output)
            log.exception("recording the predictions of job %s failed", job.id)
            ok = await self.fail(ctx, job, "persist_error", f"the predictions could not be recorded: {exc}")
            return Outcome.FAILED if ok else Outcome.SUPERSEDED
        if published is None:  # the job ended meanwhile (e.g. cancelled): no output for it
            await asyncio.to_thread(_remove, output)
            return Outcome.SUPERSEDED
        return Outcome.SUCCEEDED


def _remove(path: os.PathLike[str] | str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:  # best effort: an orphan file is only disk space
        log.error("could not remove orphan predictions file %s: %s", path, exc)
