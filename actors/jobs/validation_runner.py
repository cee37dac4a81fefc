"""The validation kind of job: evaluate stored versions of a trained node on the same rows.

:class:`ValidationRunner` supplies what validation adds to :class:`actors.jobs.runner.JobRunner`:
the versions' artifacts and the datasets it reads, the evaluation
(:func:`actors.ml.evaluation.evaluate_versions`), and the report stored with ``succeeded``.
Everything else (claim, events, cancellation, deadline, lost workers) is the base's.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.errors import ArtifactError
from actors.jobs.context import JobContext
from actors.jobs.fetch import StoredDataset, fetch_artifact, fetch_dataset
from actors.jobs.outcomes import WHILE_RUNNING, commit_then_publish
from actors.jobs.runner import JobRunner, Outcome
from actors.jobs.training_runner import stored_dataset
from actors.ml.evaluation import EvaluationInputs, VersionInput, evaluate_versions
from actors.ml.options import DatasetRef
from store.errors import BlobError
from store.insights import save_insights
from store.job_queries import job_graph
from store.jobs import EVENT_WARNING, append_event, transition
from store.kinds import JobKind
from store.models import ModelVersion, TrainingJob
from store.states import JobStatus

MAX_WARNING_EVENTS = 50
"""Warnings beyond this many stay in the report and on the row, not as separate events."""


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The job's ``metrics``: each version's scalar metrics on the evaluated rows (the report has the rest)."""
    names = report.get("metric_names") or []
    return {
        "task": report.get("task"), "target": report.get("target"), "rows": report.get("rows"),
        "versions": {str(v["version"]): {k: (v.get("metrics") or {}).get(k) for k in names}
                     for v in report.get("versions", []) if "metrics" in v},
    }


@dataclass(frozen=True)
class StoredInputs:
    """The evaluation's inputs as stored: fetched into local files when the evaluation runs.

    ``inputs`` has empty dataset paths and each version's storage key as its artifact path.
    """

    inputs: EvaluationInputs
    pipeline_dataset: StoredDataset
    dataset: StoredDataset | None


class ValidationRunner(JobRunner[StoredInputs, dict[str, Any]]):
    """Claim, evaluate every version on the same rows, store the report; always ends terminal."""

    kind = JobKind.VALIDATION.value
    crash_code = "validation_error"

    async def prepare(self, ctx: JobContext, job: TrainingJob) -> StoredInputs:
        config = job.config or {}
        wanted = {int(v["version"]): str(v["ref"]) for v in config.get("versions") or []}
        train_node = str(config["train_node_id"])
        async with ctx.sessions() as session:
            rows = list(await session.scalars(select(ModelVersion).where(
                ModelVersion.pipeline_id == job.pipeline_id, ModelVersion.node_id == train_node,
                ModelVersion.version.in_(list(wanted)))))
            graph = await job_graph(session, job.id)
        by_number = {row.version: row for row in rows}
        versions: list[VersionInput] = []
        for number, ref in wanted.items():
            row = by_number.get(number)
            if row is None or row.deleted_at is not None or not row.artifact_uri or not row.artifact_sha256:
                raise ArtifactError(f"version {number} of node {train_node!r} no longer exists",
                                    field="config.versions", details={"version": number})
            versions.append(VersionInput(number, ref, row.job_id, row.model_type,
                                         _artifact_key(ctx, row.artifact_uri), row.artifact_sha256,
                                         dict(row.metrics or {})))
        other = config.get("dataset_source_id")
        pipeline_dataset = await stored_dataset(ctx, job.dataset_source_id)
        dataset = await stored_dataset(ctx, str(other)) if other else None
        unfetched = DatasetRef("", pipeline_dataset.format)
        inputs = EvaluationInputs(
            graph=graph, train_node_id=train_node, pipeline_dataset=unfetched,
            dataset=unfetched if dataset else None,
            versions=versions, resamples=int(config.get("n_bootstrap") or 1000),
            seed=int(config.get("random_state") or 0),
        )
        return StoredInputs(inputs, pipeline_dataset, dataset)

    def compute(
        self, ctx: JobContext, job: TrainingJob, work: StoredInputs, *,
        should_stop: Callable[[], str | None], on_progress: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        store = ctx.storage.artifacts
        with contextlib.ExitStack() as stack:  # the fetched files live until the evaluation ends
            inputs = dataclasses.replace(
                work.inputs,
                pipeline_dataset=fetch_dataset(stack, work.pipeline_dataset),
                dataset=fetch_dataset(stack, work.dataset) if work.dataset else None,
                versions=[dataclasses.replace(v, artifact_path=fetch_artifact(stack, store, v.artifact_path,
                                                                              v.artifact_sha256))
                          for v in work.inputs.versions],
            )
            return evaluate_versions(inputs, ctx.fit_options(), should_stop=should_stop, on_progress=on_progress)

    async def finish(
        self, ctx: JobContext, job: TrainingJob, work: StoredInputs, result: dict[str, Any]
    ) -> Outcome:
        warnings = list(result.get("warnings") or [])

        async def write(session: AsyncSession) -> list[dict[str, Any]] | None:
            events = [await append_event(session, job.id, EVENT_WARNING, {"warning": w})
                      for w in warnings[:MAX_WARNING_EVENTS]]
            done = await transition(
                session, job.id, JobStatus.SUCCEEDED, expected=WHILE_RUNNING, expected_attempt=job.attempt,
                changes={"metrics": summary(result), "warnings": warnings},
                payload={"report": {"versions": [v["version"] for v in result.get("versions", [])],
                                    "rows": result.get("rows")}},
            )
            if done is None:
                return None
            await save_insights(session, job.id, job.attempt, insights={"validation_report": result})
            return [*events, done.event]

        return Outcome.SUCCEEDED if await commit_then_publish(ctx, job.user_id, write) else Outcome.SUPERSEDED


def _artifact_key(ctx: JobContext, uri: str) -> str:
    try:
        return ctx.storage.artifacts.key(uri)
    except BlobError as exc:
        raise ArtifactError(f"the model's storage URI is refused: {exc.message}", field="artifact.path") from exc
