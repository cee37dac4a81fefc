"""A job's insights row: its learning curve (written while it fits) and its explain findings.

Every write names the job's attempt: a run the reaper gave up on never overwrites what
its successor wrote, and readers only see what the job's current attempt recorded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.dialect import upsert
from store.job_queries import get_job
from store.models import TrainingJobInsights
from store.reader import Reader
from store.types import utcnow


async def save_insights(
    session: AsyncSession, job_id: str, attempt: int, *, learning_curve: dict[str, Any] | None = None,
    insights: dict[str, Any] | None = None,
) -> None:
    """Record the curve and/or the findings of ``job_id``'s run ``attempt``.

    Keys passed as None keep their stored value, unless the row belonged to an earlier
    attempt, whose values are dropped. A write of an older attempt than the stored one
    changes nothing.
    """
    values: dict[str, Any] = {"job_id": job_id, "attempt": attempt, "learning_curve": learning_curve,
                              "insights": insights, "updated_at": utcnow()}
    table = TrainingJobInsights.__table__
    stmt = upsert(session, TrainingJobInsights).values(**values)
    newer = stmt.excluded.attempt > table.c.attempt

    def keep_or_set(column: str, given: Any) -> Any:
        if given is not None:
            return stmt.excluded[column]
        return case((newer, None), else_=table.c[column])

    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.job_id],
        set_={"attempt": stmt.excluded.attempt, "updated_at": stmt.excluded.updated_at,
              "learning_curve": keep_or_set("learning_curve", learning_curve),
              "insights": keep_or_set("insights", insights)},
        where=stmt.excluded.attempt >= table.c.attempt,
    )
    await session.execute(stmt)


async def get_insights(session: AsyncSession, job_id: str, *, reader: Reader) -> dict[str, Any]:
    """``{"job": job, "learning_curve", "insights"}`` of a job ``reader`` may see.

    Raises:
        NotFound: missing, or another user's job.
    """
    job = await get_job(session, job_id, reader=reader)
    row = (await session.scalars(select(TrainingJobInsights).where(TrainingJobInsights.job_id == job_id))
           ).one_or_none()
    current = row is not None and row.attempt == job.attempt
    return {"job": job, "learning_curve": row.learning_curve if current and row else None,
            "insights": row.insights if current and row else None}
