"""Schemas of ``GET /workers``: the training workers as their liveness records show them."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from server.schemas.common import ResponseModel


class WorkerJob(ResponseModel):
    """A running (or cancelling) job and the heartbeat its actor last wrote."""

    id: str
    status: str
    worker: str | None = Field(description="``host:pid`` of the process running it.")
    heartbeat_at: dt.datetime | None


class WorkerOut(ResponseModel):
    """One live worker (its liveness key is refreshed every few seconds)."""

    name: str = Field(description="``host:pid`` of the worker's main process.")
    host: str
    pid: int | None
    node: str | None = Field(description="The Celery node name (``celery inspect``, Flower).")
    pool: str | None
    concurrency: int | None
    queues: list[str]
    last_heartbeat: dt.datetime | None
    jobs_running: list[WorkerJob]


class WorkersOut(ResponseModel):
    """Live workers, and running jobs whose process is in no live worker (the reaper settles them)."""

    workers: list[WorkerOut]
    unattached_jobs: list[WorkerJob]
