"""The hot read of ``GET /training-jobs/{id}``: a job and its pipeline's names in one statement.

The same rows, scoping and errors as :func:`store.job_queries.get_job` followed by
:func:`store.pipeline_queries.pipeline_names`, read through :class:`~store.row_reads.RowReads`
(one ``SELECT``, one thread hand-off, no ORM). The job's own graph snapshot is not read:
the API never shows it here.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Select, String, and_, bindparam, select, true

from store.errors import NotFound
from store.models import Pipeline, TrainingJob
from store.pipeline_queries import node_labels
from store.reader import Reader
from store.row_reads import RowReads

_JOBS = TrainingJob.__table__
_PIPELINES = Pipeline.__table__
_SKIPPED = frozenset({"graph"})


class JobRow(SimpleNamespace):
    """A training job's columns as attributes, read without the ORM (no session, no identity map)."""


@dataclasses.dataclass(frozen=True)
class JobView:
    """A job as ``GET /training-jobs/{id}`` shows it, with what people call its pipeline and node."""

    job: JobRow
    pipeline_name: str | None
    node_label: str | None


def _statement(*, scoped: bool) -> Select[Any]:
    owner = bindparam("owner_id", type_=String)
    job_scope = _JOBS.c.user_id == owner if scoped else true()
    pipeline_scope = _PIPELINES.c.owner_id == owner if scoped else true()
    columns = [column for column in _JOBS.c if column.key not in _SKIPPED]
    joined = _JOBS.outerjoin(_PIPELINES, and_(_PIPELINES.c.pipeline_id == _JOBS.c.pipeline_id, pipeline_scope))
    return (
        select(*columns, _PIPELINES.c.name.label("_pipeline_name"), _PIPELINES.c.graph.label("_pipeline_graph"))
        .select_from(joined)
        .where(_JOBS.c.id == bindparam("job_id"), job_scope)
    )


_OWN = _statement(scoped=True)
_ANY = _statement(scoped=False)


async def get_job_view(reads: RowReads, job_id: str, *, reader: Reader) -> JobView:
    """The job ``job_id`` if ``reader`` may see it, with its pipeline's name and its node's label.

    Raises:
        NotFound: missing, or another user's job.
    """
    if reader.is_admin:
        rows = await reads.fetch(_ANY, {"job_id": job_id})
    else:
        rows = await reads.fetch(_OWN, {"job_id": job_id, "owner_id": reader.user_id})
    if not rows:
        raise NotFound("job", job_id)
    values = rows[0]
    name = values.pop("_pipeline_name")
    graph = values.pop("_pipeline_graph")
    job = JobRow(**values)
    label = node_labels(graph).get(job.node_id) if graph is not None else None
    return JobView(job=job, pipeline_name=name, node_label=label)
