"""Model versions: numbered 1, 2, 3 ... per (pipeline, node), with no gaps or duplicates.

A version number is claimed from ``model_version_counters`` with one
``INSERT ... ON CONFLICT DO UPDATE SET last_version = last_version + 1 RETURNING`` that
locks the counter row until the claiming transaction ends. Claim the number and insert
the version in the same transaction: a rollback then returns the number, so no gap opens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.dialect import upsert
from store.errors import InvalidInput, NotFound
from store.models import ModelVersion, ModelVersionCounter
from store.pipelines import get_pipeline
from store.reader import Reader
from store.types import new_id, utcnow

CLASSIFICATION_METRICS = ("accuracy", "f1", "roc_auc", "precision", "recall", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})
METRIC_SPLITS = ("test", "train")
MAX_LIMIT = 1000


async def next_model_version(session: AsyncSession, pipeline_id: str, node_id: str) -> int:
    """Claim the next version number of a node (1 for the first).

    The counter row stays locked until the caller's transaction ends, so concurrent
    claimers (other connections or processes) queue and each gets the next number.
    """
    stmt = upsert(session, ModelVersionCounter).values(pipeline_id=pipeline_id, node_id=node_id, last_version=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ModelVersionCounter.pipeline_id, ModelVersionCounter.node_id],
        set_={"last_version": ModelVersionCounter.last_version + 1},
    ).returning(ModelVersionCounter.last_version)
    return int((await session.execute(stmt)).scalar_one())


async def create_model_version(
    session: AsyncSession,
    *,
    pipeline_id: str,
    node_id: str,
    job_id: str,
    model_type: str,
    hyperparameters: Mapping[str, Any],
    metrics: Mapping[str, Any],
    artifact_uri: str,
    artifact_sha256: str,
) -> ModelVersion:
    """Claim the next version number and record the trained model under it.

    Runs in the caller's transaction (with the ``job.version`` event and the transition
    to ``succeeded``, so all three commit or none does).
    """
    version = await next_model_version(session, pipeline_id, node_id)
    row = ModelVersion(
        id=new_id(),
        pipeline_id=pipeline_id,
        node_id=node_id,
        version=version,
        job_id=job_id,
        model_type=model_type,
        hyperparameters=dict(hyperparameters),
        metrics=dict(metrics),
        artifact_uri=artifact_uri,
        artifact_sha256=artifact_sha256,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def get_version(
    session: AsyncSession, pipeline_id: str, node_id: str, version: int, *, reader: Reader
) -> ModelVersion:
    """One version of a node's model.

    Raises:
        NotFound: the pipeline is not the reader's, or there is no such version.
    """
    await get_pipeline(session, pipeline_id, reader=reader)
    stmt = select(ModelVersion).where(
        ModelVersion.pipeline_id == pipeline_id, ModelVersion.node_id == node_id, ModelVersion.version == version
    )
    row = (await session.scalars(stmt)).one_or_none()
    if row is None:
        raise NotFound("model version", f"{pipeline_id}/{node_id}/v{version}")
    return row


def _metric_key(order_by: str) -> tuple[str, str]:
    split, _, name = order_by.rpartition(".")
    split = split or "test"
    if split not in METRIC_SPLITS or name not in CLASSIFICATION_METRICS + REGRESSION_METRICS:
        known = ", ".join(CLASSIFICATION_METRICS + REGRESSION_METRICS)
        raise InvalidInput("order_by", f"expected version, created_at or [train.|test.]<metric> with metric in {known}")
    return split, name


def _metric(row: ModelVersion, split: str, name: str) -> float | None:
    value = (row.metrics.get(split) or {}).get(name) if isinstance(row.metrics.get(split), Mapping) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


async def list_versions(
    session: AsyncSession,
    pipeline_id: str,
    node_id: str,
    *,
    reader: Reader,
    order_by: str = "version",
    limit: int = 50,
) -> list[ModelVersion]:
    """A node's versions: newest first, or best first by a metric (top-N).

    ``order_by`` is ``version``, ``created_at`` or a metric such as ``accuracy``
    (``test.accuracy``) or ``train.rmse``; losses (rmse, mae, log_loss) sort ascending,
    other metrics descending; versions without the metric come last.

    Raises:
        NotFound: the pipeline is not the reader's.
        InvalidInput: a bad ``order_by`` or ``limit``.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("limit", f"must be between 1 and {MAX_LIMIT}")
    await get_pipeline(session, pipeline_id, reader=reader)
    base = select(ModelVersion).where(ModelVersion.pipeline_id == pipeline_id, ModelVersion.node_id == node_id)
    if order_by in ("version", "created_at"):
        column = ModelVersion.version if order_by == "version" else ModelVersion.created_at
        stmt = base.order_by(column.desc(), ModelVersion.version.desc()).limit(limit)
        return list((await session.scalars(stmt)).all())
    split, name = _metric_key(order_by)
    # Metrics live in JSON; a node has few versions, so ranking in Python stays portable.
    # Deleted versions stay in the history (above) but are never the best model.
    rows = list((await session.scalars(base.where(ModelVersion.deleted_at.is_(None)))).all())
    sign = 1.0 if name in LOWER_IS_BETTER else -1.0

    def rank(row: ModelVersion) -> tuple[bool, float, int]:
        value = _metric(row, split, name)
        return (value is None, sign * value if value is not None else 0.0, -row.version)

    return sorted(rows, key=rank)[:limit]
