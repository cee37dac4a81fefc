"""Submitting a batch-predictions job: resolve the version, pin its artifact, queue the job.

The version reference (a number or an alias) is resolved once, at submission: the job
records the version number, its artifact and the artifact's sha256 in its ``config``, so
moving the alias afterwards never changes what a queued job predicts with. The job then
lives like every other kind: same states, events, quotas, turns, cancellation and
lost-worker handling (``actors.jobs.runner``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from actors.errors import IdempotencyKeyReused
from actors.jobs.context import JobContext
from actors.jobs.submission import check_quota, record_then_send
from actors.ml.batch_predictions import FORMATS
from store.datasets import get_dataset
from store.errors import InvalidInput, NotFound
from store.jobs import TransitionResult, create_job
from store.kinds import JobKind
from store.models import TrainingJob
from store.reader import Reader
from store.version_refs import resolve_version_ref


@dataclass(frozen=True)
class PredictionsRequest:
    """``POST /pipelines/{pid}/nodes/{node}/versions/{v}/predictions``, shape-checked by the API.

    Attributes:
        pipeline_id: The pipeline of the training node.
        node_id: The ``train_model`` node whose version predicts.
        version: A version number or an alias name (``champion``, ``active``...).
        dataset_source_id: The uploaded dataset to predict (the model's input columns).
        format: ``"csv"`` or ``"parquet"``: the output file's format.
        idempotency_key: Repeating a submission with the same key returns the first job.
    """

    pipeline_id: str
    node_id: str
    version: int | str
    dataset_source_id: str
    format: str = "csv"
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        """What an idempotent retry must repeat (the version as given: an alias is not a number)."""
        body = {"pipeline_id": self.pipeline_id, "node_id": self.node_id, "version": str(self.version),
                "dataset_source_id": self.dataset_source_id, "format": self.format, "kind": "predictions"}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _same(job: TrainingJob, request: PredictionsRequest) -> TrainingJob:
    if job.kind != JobKind.PREDICTIONS.value or job.request_sha256 != request.fingerprint():
        raise IdempotencyKeyReused(
            f"idempotency key {request.idempotency_key!r} was already used for another submission "
            f"(job {job.id}); use a new key for a different request",
            details={"job_id": job.id},
        )
    return job


async def submit_predictions_job(ctx: JobContext, reader: Reader, request: PredictionsRequest) -> TrainingJob:
    """Check the version and the dataset, record the queued job, then send its message.

    Raises:
        InvalidInput: a malformed version reference or an unknown format (names the field).
        NotFound: the pipeline, version, alias or dataset is missing or not the reader's.
        VersionDeleted: the version was deleted.
        QuotaExceeded: the user has ``jobs.max_active_per_user`` active jobs.
        BrokerUnavailable: the message could not be sent; the job was failed.
    """
    if reader.user_id is None:
        raise ValueError("a job is submitted by a user")
    if request.format not in FORMATS:
        raise InvalidInput("format", f"must be one of {', '.join(FORMATS)}")
    user_id = reader.user_id
    jobs_cfg = ctx.settings.jobs

    async def create(session: AsyncSession) -> TransitionResult:
        version = await resolve_version_ref(session, request.pipeline_id, request.node_id, request.version,
                                            reader=reader)
        if not version.artifact_uri or not version.artifact_sha256:
            raise NotFound("artifact", f"{request.pipeline_id}/{request.node_id}/v{version.version}")
        dataset = await get_dataset(session, request.dataset_source_id, reader=reader)
        await check_quota(session, jobs_cfg, user_id)
        config = {"version": version.version, "version_ref": str(request.version), "format": request.format,
                  "artifact_uri": version.artifact_uri, "artifact_sha256": version.artifact_sha256,
                  "source_job_id": version.job_id, "max_runtime_s": jobs_cfg.default_max_runtime_s}
        return await create_job(
            session, pipeline_id=request.pipeline_id, node_id=request.node_id, dataset_source_id=dataset.id,
            user_id=user_id, model_type=version.model_type, hyperparameters={}, config=config,
            kind=JobKind.PREDICTIONS, idempotency_key=request.idempotency_key,
            request_sha256=request.fingerprint() if request.idempotency_key else None,
        )

    def same(job: TrainingJob) -> TrainingJob:
        return _same(job, request)

    return await record_then_send(ctx, user_id, request.idempotency_key, same, create)
