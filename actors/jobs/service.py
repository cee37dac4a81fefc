"""The two job services the API calls: submit a training job, cancel one."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from actors.errors import IdempotencyKeyReused
from actors.jobs.context import JobContext
from actors.jobs.dispatch import dispatch_quietly
from actors.jobs.group_commit import Submission
from actors.jobs.outcomes import commit_then_publish
from actors.jobs.policy import resolve_max_runtime
from actors.jobs.submission import check_room, record_then_send
from actors.ml.node_types import VALIDATE_MODEL
from actors.ml.options import FitOptions
from actors.ml.validation import ValidatedJob, validate_job
from store.errors import NotFound
from store.graph_hash import graph_hash
from store.job_queries import get_job
from store.jobs import TransitionResult, queued_job, transition
from store.lineage import record_replacement
from store.models import Pipeline, TrainingJob
from store.reader import Reader
from store.states import TERMINAL, JobStatus
from store.submission_writes import pipeline_row, save_submitted_pipeline

log = logging.getLogger(__name__)

JOB_CONFIG_KEYS = ("experiment_tag", "description", "max_runtime_s", "run_now")


@dataclass(frozen=True)
class SubmitRequest:
    """The body of ``POST /training-jobs`` (seed 3.2), already shape-checked by the API.

    Attributes:
        dataset_source_id: The dataset the graph reads.
        node_id: The ``train_model`` node to run.
        graph: The canvas graph ``{nodes, edges}``.
        config: The training node's config as the form shows it; when given it replaces
            the node's ``data.config`` in ``graph`` (the canvas may not have saved yet).
        pipeline_id: The id the canvas believes the pipeline has: the server derives the
            real one, and records that it replaced this one when they differ.
        idempotency_key: Repeating a submission with the same key returns the first job.
    """

    dataset_source_id: str
    node_id: str
    graph: Mapping[str, Any]
    config: Mapping[str, Any] | None = None
    pipeline_id: str | None = None
    idempotency_key: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    large: bool = True
    """Whether validating and hashing the graph is worth the bounded executor (``JobContext.offload``).
    The API says no for small bodies: for a graph of a few nodes the hand-off to a thread costs
    more than the work, and queueing every small submission behind the user's one executor slot
    would refuse a burst of them with 429 ``cpu_busy``."""

    def fingerprint(self) -> str:
        """The sha256 of the submission's canonical JSON, the idempotency key left out.

        Two submissions are "the same body" when their JSON documents are equal once parsed:
        key order and whitespace do not matter, every value does (``1`` and ``1.0`` differ,
        and so do node positions and labels). A client retrying a request sends it again
        as it was, so a retry always matches.
        """
        document = {
            "dataset_source_id": self.dataset_source_id,
            "node_id": self.node_id,
            "graph": self.graph,
            "config": self.config,
            "pipeline_id": self.pipeline_id,
        }
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def same_submission(job: TrainingJob, request: SubmitRequest, fingerprint: str | None = None) -> TrainingJob:
    """``job`` when it was created by ``request``'s body, else the key was reused for another one.

    Jobs recorded before fingerprints existed (``request_sha256`` NULL) are taken as matches.

    Raises:
        IdempotencyKeyReused: the key's job came from a different body.
    """
    if job.request_sha256 is not None and job.request_sha256 != (fingerprint or request.fingerprint()):
        raise IdempotencyKeyReused(
            f"idempotency key {request.idempotency_key!r} was already used for another submission "
            f"(job {job.id}); use a new key for a different request",
            details={"job_id": job.id},
        )
    return job


def graph_with_config(graph: Mapping[str, Any], node_id: str, config: Mapping[str, Any] | None) -> dict[str, Any]:
    """``graph`` with ``config`` as node ``node_id``'s ``data.config``; ``graph`` is left as it was.

    Only what changes is copied (the graph's dict, its node list, that node and its data);
    the rest is shared with ``graph``, which nothing downstream modifies: a deep copy of every
    submitted graph cost more than validating it.
    """
    merged = dict(graph)
    nodes = merged.get("nodes")
    if config is None or not isinstance(nodes, list):
        return merged
    merged["nodes"] = [_with_config(node, config) if _is_node(node, node_id) else node for node in nodes]
    return merged


def _is_node(node: Any, node_id: str) -> bool:
    return isinstance(node, dict) and node.get("id") == node_id


def _with_config(node: dict[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    data = node.get("data", {})
    if not isinstance(data, dict):
        return node
    return {**node, "data": {**data, "config": copy.deepcopy(dict(config))}}


@dataclass(frozen=True)
class _Prepared:
    """What a submission computes before its transaction (see :func:`_prepare`)."""

    graph: dict[str, Any]
    validated: ValidatedJob
    digest: str
    fingerprint: str | None


def _prepare(
    request: SubmitRequest, columns: list[str], schema: list[Any], options: FitOptions
) -> _Prepared:
    """The CPU-bound part of a submission: merge the config, validate, hash; pure, runs on a thread."""
    graph = graph_with_config(request.graph, request.node_id, request.config)
    validated = validate_job(graph, request.node_id, columns, options=options, schema=schema)
    fingerprint = request.fingerprint() if request.idempotency_key else None
    return _Prepared(graph, validated, graph_hash(graph), fingerprint)


async def submit_training_job(ctx: JobContext, reader: Reader, request: SubmitRequest) -> TrainingJob:
    """Validate, autosave the pipeline, record the queued job, then send its message.

    Raises:
        NotFound: the dataset is missing or not the reader's.
        ModelError: the graph, a node config or a hyperparameter is invalid (names the field).
        ActiveJobConflict: the node already has an active job (``jobs.one_active_per_node``).
        QuotaExceeded: the user has ``jobs.max_active_per_user`` active jobs.
        BrokerUnavailable: the message could not be sent; the job was failed.
    """
    if reader.user_id is None:
        raise ValueError("a job is submitted by a user")
    if node_type_of(request.graph, request.node_id) == VALIDATE_MODEL:
        from actors.jobs.validation_service import submit_validation_job

        return await submit_validation_job(ctx, reader, request)
    user_id = reader.user_id
    jobs_cfg = ctx.settings.jobs
    dataset = await ctx.dataset_heads.get(ctx.sessions, request.dataset_source_id, reader=reader)
    columns = [str(c["name"]) if isinstance(c, Mapping) else str(c) for c in dataset.columns]
    # Validating, hashing and fingerprinting a large graph is CPU work: off the event loop,
    # and before the write transaction, so neither other requests nor the write lock wait on it.
    args = (request, columns, list(dataset.columns), ctx.fit_options())
    prepared: _Prepared = await ctx.run_cpu(user_id, _prepare, *args) if request.large else _prepare(*args)
    graph, validated = prepared.graph, prepared.validated
    train_cfg = validated.train_config
    max_runtime = resolve_max_runtime(
        train_cfg.get("max_runtime_s"), jobs_cfg.default_max_runtime_s, jobs_cfg.max_runtime_limit_s
    )
    job_config = {key: train_cfg.get(key) for key in JOB_CONFIG_KEYS}
    job_config.update(max_runtime_s=max_runtime, task=validated.task, target=validated.target)

    async def create(session: AsyncSession) -> TransitionResult:
        pipeline = await save_submitted_pipeline(session, dataset=dataset, graph=graph, digest=prepared.digest)
        if request.pipeline_id and request.pipeline_id != pipeline.pipeline_id:
            # The canvas ran a graph whose data path changed since its last save.
            await record_replacement(session, pipeline, request.pipeline_id)
        await check_room(session, jobs_cfg, user_id, pipeline.pipeline_id, request.node_id)
        return await create_job_with_graph(
            session, pipeline=pipeline, request=request, user_id=user_id, graph=graph,
            model_type=validated.model_type, resolved=validated.resolved_hyperparameters, config=job_config,
            warnings=validated.warnings, fingerprint=prepared.fingerprint,
        )

    def same(job: TrainingJob) -> TrainingJob:
        return same_submission(job, request, prepared.fingerprint)

    def alone() -> Awaitable[TrainingJob]:
        return record_then_send(ctx, user_id, request.idempotency_key, same, create)

    pipeline = pipeline_row(dataset, graph, prepared.digest)
    replaces = bool(request.pipeline_id) and request.pipeline_id != pipeline["pipeline_id"]
    if ctx.submission_batches is None or request.idempotency_key or replaces:
        return await alone()
    queued = queued_job(
        pipeline_id=pipeline["pipeline_id"], node_id=request.node_id, dataset_source_id=request.dataset_source_id,
        user_id=user_id, model_type=validated.model_type, hyperparameters=_raw_hyperparameters(graph, request.node_id),
        resolved_hyperparameters=validated.resolved_hyperparameters, config=job_config, graph=graph,
        warnings=validated.warnings,
    )
    return await ctx.submission_batches.submit(ctx, Submission(user_id, pipeline, queued, alone))


async def create_job_with_graph(
    session: AsyncSession,
    *,
    pipeline: Pipeline,
    request: SubmitRequest,
    user_id: str,
    graph: Mapping[str, Any],
    model_type: str,
    resolved: Mapping[str, Any],
    config: Mapping[str, Any],
    warnings: list[dict[str, Any]],
    fingerprint: str | None = None,
) -> TransitionResult:
    """Insert the queued job with the graph it will run (its own snapshot).

    ``fingerprint`` is ``request.fingerprint()`` when the caller computed it already.
    """
    from store.jobs import create_job

    return await create_job(
        session,
        pipeline_id=pipeline.pipeline_id,
        node_id=request.node_id,
        dataset_source_id=request.dataset_source_id,
        user_id=user_id,
        model_type=model_type,
        hyperparameters=_raw_hyperparameters(graph, request.node_id),
        resolved_hyperparameters=resolved,
        config=config,
        graph=graph,
        warnings=warnings,
        idempotency_key=request.idempotency_key,
        request_sha256=(fingerprint or request.fingerprint()) if request.idempotency_key else None,
    )


def _raw_hyperparameters(graph: Mapping[str, Any], node_id: str) -> dict[str, Any]:
    for node in graph.get("nodes") or []:
        if isinstance(node, Mapping) and node.get("id") == node_id:
            config = (node.get("data") or {}).get("config") or {}
            raw = config.get("hyperparameters") if isinstance(config, Mapping) else None
            return dict(raw) if isinstance(raw, Mapping) else {}
    return {}


def node_type_of(graph: Mapping[str, Any], node_id: str) -> str | None:
    """The type of node ``node_id`` in ``graph``; None when there is no such node."""
    for node in graph.get("nodes") or []:
        if isinstance(node, Mapping) and node.get("id") == node_id:
            kind = node.get("type")
            return kind if isinstance(kind, str) else None
    return None


async def _move_for_cancel(
    ctx: JobContext, reader: Reader, job: TrainingJob, src: JobStatus, requested: Mapping[str, Any] | None = None
) -> TrainingJob | None:
    """One attempt at the cancel transition from ``src``; None if the job moved first."""
    dst = JobStatus.CANCELLED if src is JobStatus.QUEUED else JobStatus.CANCELLING
    won: list[TrainingJob] = []
    payload = {"requested_by": reader.user_id, **(requested or {})}

    async def work(session: AsyncSession) -> list[dict[str, Any]] | None:
        done = await transition(session, job.id, dst, expected=src, payload=payload)
        if done is None:
            return None
        won.append(done.job)
        return [done.event]

    if await commit_then_publish(ctx, job.user_id, work) is None:
        return None
    if dst is JobStatus.CANCELLING:
        await ctx.cancel_signals.request(job.id)
    elif job.admitted_at is not None and ctx.sender is not None:
        await dispatch_quietly(ctx)  # the cancelled job held one of its user's slots
    return won[0]


async def cancel_training_job(
    ctx: JobContext, reader: Reader, job_id: str, *, requested: Mapping[str, Any] | None = None
) -> TrainingJob:
    """Cancel a job; idempotent.

    A queued job becomes cancelled at once (its message is skipped when delivered); a
    running one becomes ``cancelling`` and its actor is signalled; a cancelling or
    terminal job is left as it is (the signal is raised again for a cancelling one).

    Args:
        ctx: The job context.
        reader: Who asks (``requested_by`` of the event is its user id).
        job_id: The job.
        requested: More about who asked, merged into the event's payload (a Celery revoke
            says ``{"requested_by": "celery:revoke", ...}``).

    Raises:
        NotFound: the job is missing or not the reader's.
    """
    for _ in range(5):
        async with ctx.sessions() as session:
            job = await get_job(session, job_id, reader=reader)
        status = JobStatus(job.status)
        if status in TERMINAL:
            return job
        if status is JobStatus.CANCELLING:
            await ctx.cancel_signals.request(job.id)
            return job
        moved = await _move_for_cancel(ctx, reader, job, status, requested)
        if moved is not None:
            return moved
    # Five lost races in a row means the job is moving fast; report where it is now.
    async with ctx.sessions() as session:
        return await get_job(session, job_id, reader=reader)


__all__ = ["NotFound", "SubmitRequest", "cancel_training_job", "submit_training_job"]
