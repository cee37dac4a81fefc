"""Job listings with filters, every sort order and keyset cursors.

``store.job_queries.list_jobs`` pages newest-first only; the dashboard also sorts oldest
first and by a test metric in its right direction, so this module builds that query. The
cursor names its sort order and the last row's sort key, so pages stay stable while new
jobs arrive, and a cursor replayed with another ``order_by`` is refused.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, UnaryExpression, and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import UnprocessableEntity
from server.ordering import METRIC_PARTITION, ascending, is_metric, metric_value
from server.schemas.jobs import JobListQuery
from store.job_queries import search_clauses
from store.models import TrainingJob
from store.reader import Reader

_BAD_CURSOR = "not a cursor returned by a previous page with the same order_by"


def _encode(order_by: str, key: list[Any]) -> str:
    raw = json.dumps({"o": order_by, "k": key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, order_by: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii"))
        data = json.loads(raw)
        key = data["k"]
        ok = data["o"] == order_by and isinstance(key, list) and len(key) == (3 if is_metric(order_by) else 2)
        if ok:
            key[-2] = dt.datetime.fromisoformat(key[-2])
            ok = key[-2].tzinfo is not None and isinstance(key[-1], str)
            if is_metric(order_by):
                ok = ok and (key[0] is None or (isinstance(key[0], int | float) and not isinstance(key[0], bool)))
    except (ValueError, TypeError, KeyError, IndexError, binascii.Error, UnicodeError):
        ok = False
    if not ok:
        raise UnprocessableEntity(f"cursor: {_BAD_CURSOR}", details={"field": "cursor"})
    return list(key)


def _metric_expr(metric: str) -> ColumnElement[float]:
    expr: ColumnElement[float] = TrainingJob.metrics[(METRIC_PARTITION, metric)].as_float()
    return expr


def _filters(query: JobListQuery, reader: Reader, user_id: str | None) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [reader.owns(TrainingJob.user_id)]
    if user_id is not None:
        clauses.append(TrainingJob.user_id == user_id)
    if query.pipeline_id is not None:
        clauses.append(TrainingJob.pipeline_id == query.pipeline_id)
    if query.node_id is not None:
        clauses.append(TrainingJob.node_id == query.node_id)
    if query.status:
        clauses.append(TrainingJob.status.in_(sorted({s.value for s in query.status})))
    if query.model_type is not None:
        clauses.append(TrainingJob.model_type == query.model_type)
    clauses.extend(search_clauses(tag=query.tag, text=query.q))
    for name, bound in (("created_after", query.created_after), ("created_before", query.created_before)):
        if bound is not None and bound.tzinfo is None:
            raise UnprocessableEntity(f"{name} must include a time zone (e.g. Z)", details={"field": name})
    if query.created_after is not None:
        clauses.append(TrainingJob.created_at >= query.created_after)
    if query.created_before is not None:
        clauses.append(TrainingJob.created_at < query.created_before)
    return clauses


def _after_time(key: list[Any], newest_first: bool) -> ColumnElement[bool]:
    at, last_id = key[-2], key[-1]
    if newest_first:
        return or_(TrainingJob.created_at < at, and_(TrainingJob.created_at == at, TrainingJob.id < last_id))
    return or_(TrainingJob.created_at > at, and_(TrainingJob.created_at == at, TrainingJob.id > last_id))


def _after_metric(metric: str, key: list[Any]) -> ColumnElement[bool]:
    value = _metric_expr(metric)
    tie = _after_time(key, newest_first=True)
    if key[0] is None:
        return and_(value.is_(None), tie)
    worse = value > key[0] if ascending(metric) else value < key[0]
    return or_(value.is_(None), worse, and_(value == key[0], tie))


async def list_jobs_page(
    session: AsyncSession, query: JobListQuery, *, reader: Reader, user_id: str | None = None
) -> tuple[list[TrainingJob], str | None]:
    """One page of the jobs ``reader`` may see, and the cursor of the next page (or None)."""
    clauses = _filters(query, reader, user_id)
    order = query.order_by
    key = _decode(query.cursor, order) if query.cursor else None
    order_cols: list[ColumnElement[Any] | UnaryExpression[Any]]
    if is_metric(order):
        value = _metric_expr(order)
        direction = value.asc() if ascending(order) else value.desc()
        order_cols = [value.is_(None).asc(), direction, TrainingJob.created_at.desc(), TrainingJob.id.desc()]
        clauses.append(_after_metric(order, key) if key else true())
    else:
        newest_first = order == "-created_at"
        if newest_first:
            order_cols = [TrainingJob.created_at.desc(), TrainingJob.id.desc()]
        else:
            order_cols = [TrainingJob.created_at.asc(), TrainingJob.id.asc()]
        clauses.append(_after_time(key, newest_first) if key else true())
    stmt = select(TrainingJob).where(*clauses).order_by(*order_cols).limit(query.limit + 1)
    rows = list((await session.scalars(stmt)).all())
    if len(rows) <= query.limit:
        return rows, None
    rows = rows[: query.limit]
    last = rows[-1]
    tail: list[Any] = [last.created_at.isoformat(), last.id]
    if is_metric(order):
        tail = [metric_value(last.metrics, order), *tail]
    return rows, _encode(order, tail)


async def latest_job_per_node(
    session: AsyncSession, pipeline_id: str | Sequence[str], reader: Reader
) -> list[TrainingJob]:
    """The newest job of each node id that ``reader`` may see, in one pipeline or across several."""
    ids = [pipeline_id] if isinstance(pipeline_id, str) else list(pipeline_id)
    rank = (
        func.row_number()
        .over(partition_by=TrainingJob.node_id, order_by=(TrainingJob.created_at.desc(), TrainingJob.id.desc()))
        .label("rank")
    )
    ranked = (
        select(TrainingJob.id, rank)
        .where(TrainingJob.pipeline_id.in_(ids), reader.owns(TrainingJob.user_id))
        .subquery()
    )
    stmt = (
        select(TrainingJob)
        .join(ranked, ranked.c.id == TrainingJob.id)
        .where(ranked.c.rank == 1)
        .order_by(TrainingJob.node_id)
    )
    return list((await session.scalars(stmt)).all())
