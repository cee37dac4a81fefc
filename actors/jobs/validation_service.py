"""Submitting a validation job: ``POST /training-jobs`` whose ``node_id`` is a ``validate_model`` node.

The same route as training (the canvas's Run button on any runnable node), the same
checks and turns (``check_room``, ``admit_next``), a job of kind ``validation``. The
versions are resolved here, once, so the report names exactly the versions that were
asked for even if an alias moves while the job waits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from actors.errors import InvalidGraph, InvalidNodeConfig
from actors.jobs.context import JobContext
from actors.jobs.policy import resolve_max_runtime
from actors.jobs.service import SubmitRequest, graph_with_config, same_submission
from actors.jobs.submission import check_room, record_then_send
from actors.ml.node_types import TRAIN_MODEL, VALIDATE_MODEL, resolve_node_config
from store.aliases import ACTIVE_ALIAS
from store.datasets import get_dataset
from store.graph_hash import graph_hash
from store.jobs import TransitionResult, create_job
from store.kinds import JobKind
from store.models import ModelVersion, TrainingJob
from store.pipelines import upsert_pipeline
from store.reader import Reader
from store.version_refs import resolve_version_ref

_SEPARATORS = re.compile(r"[,\s]+")


def version_refs(raw: Any) -> list[str]:
    """The version references of the node's ``versions``: a string ("1, 3", "champion") or a list.

    Blank means the active version. Duplicates keep their first place.

    Raises:
        InvalidNodeConfig: not a string or a list of numbers and names (names ``config.versions``).
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return [ACTIVE_ALIAS]
    if isinstance(raw, str):
        items: list[Any] = [part for part in _SEPARATORS.split(raw.strip()) if part]
    elif isinstance(raw, list):
        items = raw
    else:
        raise InvalidNodeConfig("must be version numbers and alias names, as a list or separated by commas",
                                field="config.versions")
    refs: list[str] = []
    for index, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise InvalidNodeConfig(f"item {index} must be a version number or an alias name",
                                    field=f"config.versions[{index}]")
        text = str(item).strip()
        if text not in refs:
            refs.append(text)
    return refs


def _node(graph: Mapping[str, Any], node_id: str) -> Mapping[str, Any]:
    for node in graph.get("nodes") or []:
        if isinstance(node, Mapping) and node.get("id") == node_id:
            return node
    raise InvalidGraph(f"unknown node id {node_id!r}", field="node_id")


def trained_input(graph: Mapping[str, Any], node_id: str) -> str:
    """The ``train_model`` node a validation node reads from (its one input).

    Raises:
        InvalidGraph: the node has no input, several, or one that is not a ``train_model``.
    """
    edges = [e for e in graph.get("edges") or [] if isinstance(e, Mapping)]
    sources = [e.get("source") for e in edges if e.get("target") == node_id]
    if len(sources) != 1:
        raise InvalidGraph(f"a {VALIDATE_MODEL} node takes exactly one input, a {TRAIN_MODEL} node; "
                           f"{node_id!r} has {len(sources)}", field="graph.edges", details={"node_id": node_id})
    source = str(sources[0])
    if _node(graph, source).get("type") != TRAIN_MODEL:
        raise InvalidGraph(f"the input of {VALIDATE_MODEL} node {node_id!r} must be a {TRAIN_MODEL} node",
                           field="graph.edges", details={"node_id": node_id, "input": source})
    return source


async def _versions(
    session: AsyncSession, pipeline_id: str, train_node: str, refs: list[str], reader: Reader
) -> list[tuple[str, ModelVersion]]:
    rows: list[tuple[str, ModelVersion]] = []
    for index, ref in enumerate(refs):
        row = await resolve_version_ref(session, pipeline_id, train_node, ref, reader=reader,
                                        field=f"config.versions[{index}]")
        if all(row.version != seen.version for _, seen in rows):
            rows.append((ref, row))
    return rows


async def submit_validation_job(ctx: JobContext, reader: Reader, request: SubmitRequest) -> TrainingJob:
    """Validate the node, resolve its versions, record the queued validation job, send it.

    Raises:
        NotFound: a dataset, the pipeline, a version or an alias is missing or not the reader's.
        ModelError: the node's config or its place in the graph is invalid (names the field).
        InvalidInput / VersionDeleted: a version reference is malformed or names a deleted version.
        ActiveJobConflict / QuotaExceeded / BrokerUnavailable: as for training jobs.
    """
    assert reader.user_id is not None
    user_id, jobs_cfg = reader.user_id, ctx.settings.jobs
    graph = graph_with_config(request.graph, request.node_id, request.config)
    raw = (_node(graph, request.node_id).get("data") or {}).get("config") or {}
    raw = dict(raw) if isinstance(raw, Mapping) else raw
    refs = version_refs(raw.pop("versions", None) if isinstance(raw, dict) else None)
    config = resolve_node_config(VALIDATE_MODEL, raw, "config", max_runtime_limit_s=jobs_cfg.max_runtime_limit_s)
    train_node = trained_input(graph, request.node_id)
    max_runtime = resolve_max_runtime(config.get("max_runtime_s"), jobs_cfg.default_max_runtime_s,
                                      jobs_cfg.max_runtime_limit_s)
    other = config.get("dataset_source_id")
    async with ctx.sessions() as session:
        dataset = await get_dataset(session, request.dataset_source_id, reader=reader)
        other_columns = None
        if other not in (None, ""):
            other_row = await get_dataset(session, str(other), reader=reader)
            other_columns = [str(c["name"]) if isinstance(c, Mapping) else str(c) for c in other_row.columns]
    fingerprint = request.fingerprint() if request.idempotency_key else None

    async def create(session: AsyncSession) -> TransitionResult:
        pipeline = await upsert_pipeline(session, dataset_source_id=dataset.id, graph=graph, reader=reader,
                                         digest=graph_hash(graph))
        versions = await _versions(session, pipeline.pipeline_id, train_node, refs, reader)
        target = (versions[0][1].metrics or {}).get("target")
        if other_columns is not None and target not in other_columns:
            raise InvalidNodeConfig(f"the dataset has no target column {target!r}: metrics need the true values",
                                    field="config.dataset_source_id", details={"target": target})
        await check_room(session, jobs_cfg, user_id, pipeline.pipeline_id, request.node_id)
        job_config = {
            "train_node_id": train_node,
            "versions": [{"ref": ref, "version": row.version} for ref, row in versions],
            "dataset_source_id": other or None,
            "n_bootstrap": config["n_bootstrap"],
            "random_state": config["random_state"],
            "max_runtime_s": max_runtime,
            "target": target,
        }
        return await create_job(
            session, pipeline_id=pipeline.pipeline_id, node_id=request.node_id, dataset_source_id=dataset.id,
            user_id=user_id, model_type=versions[0][1].model_type, hyperparameters={}, config=job_config,
            graph=graph, idempotency_key=request.idempotency_key, request_sha256=fingerprint,
            kind=JobKind.VALIDATION,
        )

    def same(job: TrainingJob) -> TrainingJob:
        return same_submission(job, request, fingerprint)

    return await record_then_send(ctx, user_id, request.idempotency_key, same, create)
