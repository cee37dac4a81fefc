"""Job listings: filters, every sort order, keyset cursors, and the latest job per node.

Orders are newest or oldest first, or a test metric in its right direction (rows without
the metric last). The cursor names its order and the last row's sort key, so pages stay
stable while new jobs arrive, and a cursor replayed with another ``order_by`` is refused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, UnaryExpression, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.cursor import Cursor, after, decode_cursor, encode_cursor
from store.errors import IllegalTransition, InvalidInput
from store.kinds import JobKind, parse_kind
from store.models import Pipeline, TrainingJob
from store.ordering import METRIC_PARTITION, ascending, is_metric, metric_value
from store.reader import Reader
from store.states import JobStatus, parse_status

MAX_PAGE = 500
ORDERS = ("-created_at", "created_at")
"""The time orders; every metric of :mod:`store.ordering` is an order too."""


@dataclasses.dataclass(frozen=True)
class JobPage:
    """One page of jobs in the listing's order; ``next_cursor`` is ``None`` on the last page."""

    items: list[TrainingJob]
    next_cursor: str | None


def _statuses(status: str | JobStatus | Iterable[str | JobStatus]) -> list[str]:
    values = [status] if isinstance(status, str) else list(status)
    try:
        return sorted({parse_status(s).value for s in values})
    except IllegalTransition as exc:
        raise InvalidInput("status", str(exc)) from None


def _kinds(kind: str | JobKind | Iterable[str | JobKind]) -> list[str]:
    values = [kind] if isinstance(kind, str) else list(kind)
    return sorted({parse_kind(k).value for k in values})


def search_clauses(*, tag: str | None = None, text: str | None = None) -> list[Any]:
    """WHERE clauses of the dashboard's tag filter and free-text search.

    ``tag`` is the exact experiment tag; ``text`` matches (case-insensitively) the job id,
    node id, pipeline id, model family, experiment tag, description or the pipeline's name.
    """
    clauses: list[Any] = []
    if tag is not None:
        clauses.append(TrainingJob.config["experiment_tag"].as_string() == tag)
    if text:
        pattern = f"%{text.lower()}%"
        named = select(Pipeline.pipeline_id).where(func.lower(func.coalesce(Pipeline.name, "")).like(pattern))
        clauses.append(
            or_(
                func.lower(TrainingJob.id).like(pattern),
                func.lower(TrainingJob.node_id).like(pattern),
                func.lower(TrainingJob.pipeline_id).like(pattern),
                func.lower(TrainingJob.model_type).like(pattern),
                func.lower(func.coalesce(TrainingJob.config["experiment_tag"].as_string(), "")).like(pattern),
                func.lower(func.coalesce(TrainingJob.config["description"].as_string(), "")).like(pattern),
                TrainingJob.pipeline_id.in_(named),
            )
        )
    return clauses


def _metric_expr(metric: str) -> ColumnElement[float]:
    expr: ColumnElement[float] = TrainingJob.metrics[(METRIC_PARTITION, metric)].as_float()
    return expr


def _after_metric(metric: str, cursor: Cursor) -> ColumnElement[bool]:
    value = _metric_expr(metric)
    tie = after(cursor, TrainingJob.created_at, TrainingJob.id)
    last = cursor.lead[0]
    if last is None:
        return and_(value.is_(None), tie)
    worse = value > last if ascending(metric) else value < last
    return or_(value.is_(None), worse, and_(value == last, tie))


_OrderBy = list[ColumnElement[Any] | UnaryExpression[Any]]


def _ordering(order_by: str, cursor: Cursor | None) -> tuple[list[Any], _OrderBy]:
    """The extra WHERE clauses (past the cursor) and the ORDER BY of ``order_by``."""
    if is_metric(order_by):
        value = _metric_expr(order_by)
        direction = value.asc() if ascending(order_by) else value.desc()
        order: _OrderBy = [value.is_(None).asc(), direction, TrainingJob.created_at.desc(), TrainingJob.id.desc()]
        return ([_after_metric(order_by, cursor)] if cursor else []), order
    newest_first = order_by == "-created_at"
    if newest_first:
        order = [TrainingJob.created_at.desc(), TrainingJob.id.desc()]
    else:
        order = [TrainingJob.created_at.asc(), TrainingJob.id.asc()]
    where = [after(cursor, TrainingJob.created_at, TrainingJob.id, newest_first=newest_first)] if cursor else []
    return where, order


async def list_jobs(
    session: AsyncSession,
    *,
    reader: Reader,
    user_id: str | None = None,
    pipeline_id: str | None = None,
    node_id: str | None = None,
    status: str | JobStatus | Iterable[str | JobStatus] | None = None,
    kind: str | JobKind | Iterable[str | JobKind] | None = None,
    model_type: str | None = None,
    tag: str | None = None,
    text: str | None = None,
    created_after: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
    order_by: str = "-created_at",
    limit: int = 50,
    cursor: str | None = None,
) -> JobPage:
    """Jobs the reader may see, filtered, sorted by ``order_by`` and paged by an opaque cursor.

    ``order_by`` is ``-created_at`` (newest first), ``created_at`` or a test metric (best
    first, rows without it last). ``created_after`` is inclusive and ``created_before``
    exclusive; ``tag`` and ``text`` are those of :func:`search_clauses`. ``status`` and
    ``kind`` take one value or several (any of them matches).

    Raises:
        InvalidInput: a bad ``limit``, ``status``, ``kind``, ``order_by``, time bound or ``cursor``; names it.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE}")
    if order_by not in ORDERS and not is_metric(order_by):
        raise InvalidInput("order_by", f"must be one of {', '.join(ORDERS)} or a metric")
    clauses: list[Any] = [reader.owns(TrainingJob.user_id)]
    if user_id is not None:
        clauses.append(TrainingJob.user_id == user_id)
    if pipeline_id is not None:
        clauses.append(TrainingJob.pipeline_id == pipeline_id)
    if node_id is not None:
        clauses.append(TrainingJob.node_id == node_id)
    if status is not None:
        clauses.append(TrainingJob.status.in_(_statuses(status)))
    if kind is not None:
        clauses.append(TrainingJob.kind.in_(_kinds(kind)))
    if model_type is not None:
        clauses.append(TrainingJob.model_type == model_type)
    clauses.extend(search_clauses(tag=tag, text=text))
    for name, moment in (("created_after", created_after), ("created_before", created_before)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(name, "must be timezone-aware")
    if created_after is not None:
        clauses.append(TrainingJob.created_at >= created_after)
    if created_before is not None:
        clauses.append(TrainingJob.created_at < created_before)
    key = decode_cursor(cursor, order=order_by, lead=int(is_metric(order_by))) if cursor else None
    where, order = _ordering(order_by, key)
    stmt = select(TrainingJob).where(*clauses, *where).order_by(*order).limit(limit + 1)
    rows = list((await session.scalars(stmt)).all())
    if len(rows) <= limit:
        return JobPage(items=rows, next_cursor=None)
    rows = rows[:limit]
    last = rows[-1]
    lead = [metric_value(last.metrics, order_by)] if is_metric(order_by) else []
    return JobPage(rows, encode_cursor(last.created_at, last.id, order=order_by, lead=lead))


async def latest_job_per_node(
    session: AsyncSession,
    pipeline_id: str | Sequence[str],
    reader: Reader,
    kind: str | JobKind | Iterable[str | JobKind] | None = None,
) -> list[TrainingJob]:
    """The newest job of each node id that ``reader`` may see, in one pipeline or across several.

    ``kind`` (one or several) leaves the other kinds out before ranking: a node's newest training job is
    still found when batch predictions of its model ran since.
    """
    ids = [pipeline_id] if isinstance(pipeline_id, str) else list(pipeline_id)
    rank = (
        func.row_number()
        .over(partition_by=TrainingJob.node_id, order_by=(TrainingJob.created_at.desc(), TrainingJob.id.desc()))
        .label("rank")
    )
    where = [TrainingJob.pipeline_id.in_(ids), reader.owns(TrainingJob.user_id)]
    if kind is not None:
        where.append(TrainingJob.kind.in_(_kinds(kind)))
    ranked = select(TrainingJob.id, rank).where(*where).subquery()
    stmt = (
        select(TrainingJob)
        .join(ranked, ranked.c.id == TrainingJob.id)
        .where(ranked.c.rank == 1)
        .order_by(TrainingJob.node_id)
    )
    return list((await session.scalars(stmt)).all())
