"""The write path of training jobs: creation, THE status transition, events, progress, heartbeats.

Every function runs inside the caller's transaction and never commits, so a caller can
combine them atomically, e.g. the training actor's "create the model version, append
``job.version``, transition to ``succeeded``" in one ``async with factory.begin()``.
Publish the returned event dicts only after that transaction has committed.

Each job row carries ``last_seq``; every persisted event takes ``last_seq + 1`` in the
same UPDATE that bumps it, so the row lock orders events and seqs are 1, 2, 3 ... with no
gaps (a rolled-back transaction gives its numbers back).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import DuplicateIdempotencyKey, IllegalTransition, InvalidInput, NotFound
from store.kinds import JobKind, parse_kind
from store.models import TrainingJob, TrainingJobEvent
from store.states import ACTIVE, TERMINAL, JobStatus, check_transition, parse_status
from store.submission_writes import insert_event_row, insert_job_row
from store.types import new_id, utcnow

EVENT_STATUS = "job.status"
EVENT_VERSION = "job.version"
EVENT_WARNING = "job.warning"
EVENT_PROGRESS = "job.progress"
"""Ephemeral: published while a job runs, never stored, so it carries no ``seq``."""
APPENDABLE_EVENTS = frozenset({EVENT_VERSION, EVENT_WARNING})
"""Event types :func:`append_event` accepts; ``job.status`` is written only by :func:`transition`."""

RESERVED_EVENT_KEYS = frozenset({"type", "job_id", "kind", "pipeline_id", "node_id", "seq", "status", "at"})

CHANGEABLE_COLUMNS = frozenset(
    {
        "resolved_hyperparameters",
        "metrics",
        "warnings",
        "progress",
        "error_code",
        "error_message",
        "model_artifact_uri",
        "artifact_sha256",
        "model_version",
        "attempt",
        "cancel_requested_at",
        "heartbeat_at",
        "worker",
        "started_at",
        "finished_at",
        "admitted_at",
    }
)
"""Columns a transition may set through ``changes``; identity, status and bookkeeping are not among them."""

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclasses.dataclass(frozen=True)
class TransitionResult:
    """A persisted status change: the updated row and the event to publish after commit."""

    job: TrainingJob
    event: dict[str, Any]
    previous: JobStatus | None


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def _check_payload(payload: Mapping[str, Any]) -> None:
    clash = RESERVED_EVENT_KEYS.intersection(payload)
    if clash:
        raise InvalidInput("payload", f"keys {sorted(clash)} are set by the store")


def _event(
    type_: str, job: TrainingJob, seq: int | None, status: str, at: dt.datetime, payload: Mapping[str, Any]
) -> dict[str, Any]:
    """Every job event, stored or not, is built here (``seq`` is None for an ephemeral one)."""
    head = {"type": type_, "job_id": job.id, "kind": job.kind, "pipeline_id": job.pipeline_id, "node_id": job.node_id}
    numbered = {} if seq is None else {"seq": seq}
    return {**head, **numbered, "status": status, "at": _iso(at), **payload}


def progress_event(
    job: TrainingJob, status: JobStatus, progress: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The ``job.progress`` event of a running (or cancelling) job; published, never stored.

    Args:
        extra: More fields of the kind's (a training job's new learning-curve points).
    """
    _check_payload(extra or {})
    return _event(EVENT_PROGRESS, job, None, status.value, utcnow(), {"progress": dict(progress), **(extra or {})})


def _expected_set(expected: str | JobStatus | Iterable[str | JobStatus] | None) -> frozenset[JobStatus] | None:
    if expected is None:
        return None
    if isinstance(expected, str):
        return frozenset({parse_status(expected)})
    return frozenset(parse_status(s) for s in expected)


def _check_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - CHANGEABLE_COLUMNS
    if unknown:
        raise InvalidInput(f"changes.{sorted(unknown)[0]}", "not a column a transition may set")
    return dict(changes)


async def _load(session: AsyncSession, job_id: str) -> TrainingJob:
    stmt = select(TrainingJob).where(TrainingJob.id == job_id).execution_options(populate_existing=True)
    job = (await session.scalars(stmt)).one_or_none()
    if job is None:
        raise NotFound("job", job_id)
    return job


@dataclasses.dataclass(frozen=True)
class QueuedJob:
    """A new queued job, not yet written: its two rows and what :func:`create_job` returns."""

    values: dict[str, Any]
    """The ``training_jobs`` row."""
    first: dict[str, Any]
    """Its first ``training_job_events`` row (seq 1)."""
    result: TransitionResult


class NewJob(TypedDict, total=False):
    """The fields of a new queued job, as :func:`queued_job` and :func:`create_job` take them.

    ``graph`` is the job's own snapshot of the pipeline graph it will run; ``warnings`` are
    those known at submission (e.g. leakage); ``request_sha256`` fingerprints the submission
    that carried ``idempotency_key`` (a retry must match it); ``kind`` picks the actor that
    runs the job (``store.kinds.JobKind``).
    """

    pipeline_id: Required[str]
    node_id: Required[str]
    dataset_source_id: Required[str]
    user_id: Required[str]
    model_type: Required[str]
    hyperparameters: Required[Mapping[str, Any]]
    resolved_hyperparameters: Mapping[str, Any] | None
    config: Mapping[str, Any] | None
    graph: Mapping[str, Any] | None
    warnings: Sequence[Mapping[str, Any]]
    idempotency_key: str | None
    request_sha256: str | None
    job_id: str | None
    kind: str | JobKind


def queued_job(**fields: Unpack[NewJob]) -> QueuedJob:
    """The rows of a new queued job and its first event (:func:`create_job` without the writes).

    A batch of submissions (``actors.jobs.group_commit``) builds them before its transaction.

    Raises:
        InvalidInput: an empty ``node_id`` or ``model_type``, or an unknown ``kind``.
    """
    node_id, model_type = fields["node_id"], fields["model_type"]
    job_kind = parse_kind(fields.get("kind", JobKind.TRAINING))
    if not node_id:
        raise InvalidInput("node_id", "must be a non-empty string")
    if not model_type:
        raise InvalidInput("model_type", "must be a non-empty string")
    now = utcnow()
    values: dict[str, Any] = {
        "id": fields.get("job_id") or new_id(),
        "pipeline_id": fields["pipeline_id"],
        "node_id": node_id,
        "dataset_source_id": fields["dataset_source_id"],
        "user_id": fields["user_id"],
        "status": JobStatus.QUEUED.value,
        "kind": job_kind.value,
        "model_type": model_type,
        "hyperparameters": dict(fields["hyperparameters"]),
        "resolved_hyperparameters": dict(fields.get("resolved_hyperparameters") or {}),
        "config": dict(fields.get("config") or {}),
        "graph": dict(fields.get("graph") or {}),
        "warnings": [dict(w) for w in fields.get("warnings", ())],
        "attempt": 1,
        "idempotency_key": fields.get("idempotency_key"),
        "request_sha256": fields.get("request_sha256"),
        "last_seq": 1,
        "created_at": now,
        "updated_at": now,
    }
    # The returned row is built from the values to insert instead of being read back.
    job = TrainingJob(**values)
    event = _event(EVENT_STATUS, job, 1, JobStatus.QUEUED.value, now, {"previous_status": None})
    first = {"job_id": job.id, "seq": 1, "type": EVENT_STATUS, "payload": event, "created_at": now}
    return QueuedJob(values, first, TransitionResult(job=job, event=event, previous=None))


async def create_job(session: AsyncSession, **fields: Unpack[NewJob]) -> TransitionResult:
    """Insert a queued job and its first ``job.status`` event (seq 1); the fields are :class:`NewJob`'s.

    Raises:
        DuplicateIdempotencyKey: the user already has a job with ``idempotency_key``
            (look it up with ``find_by_idempotency_key``); the caller's transaction stays usable.
        InvalidInput: an empty ``node_id`` or ``model_type``, or an unknown ``kind``.
    """
    new = queued_job(**fields)
    idempotency_key = fields.get("idempotency_key")
    # Core inserts, not the ORM's unit of work: this is the write of every submission.
    if idempotency_key is None:
        await insert_job_row(session, new.values)  # nothing but a duplicate key can collide: no savepoint
    else:
        try:
            async with session.begin_nested():
                await insert_job_row(session, new.values)
        except IntegrityError:
            raise DuplicateIdempotencyKey(idempotency_key) from None
    await insert_event_row(session, new.first)
    return new.result


async def transition(
    session: AsyncSession,
    job_id: str,
    target: str | JobStatus,
    *,
    expected: str | JobStatus | Iterable[str | JobStatus] | None = None,
    expected_attempt: int | None = None,
    changes: Mapping[str, Any] = _EMPTY,
    payload: Mapping[str, Any] = _EMPTY,
) -> TransitionResult | None:
    """Move a job to ``target``: one conditional UPDATE plus one ``job.status`` event.

    The row is read, the move validated against the state machine, then updated with
    ``WHERE id = :id AND status = :from`` (``AND attempt = :expected_attempt`` if given),
    bumping ``last_seq`` and ``updated_at`` and setting ``changes``. ``started_at`` is set on
    entering ``running``, ``finished_at`` on entering a terminal state and
    ``cancel_requested_at`` (if unset) on entering ``cancelling``/``cancelled``, unless
    ``changes`` sets them. The caller sets ``attempt``.
    Runs in the caller's transaction; publish ``result.event`` after commit.

    Args:
        expected: The status(es) the caller believes the job is in. If the job is in
            another one, nothing happens and ``None`` is returned.
        expected_attempt: The attempt the caller believes the job is in. A status alone can
            come back (``running`` -> ``queued`` -> ``running`` is another worker's run): if the
            job is in another attempt, nothing happens and ``None`` is returned.
        changes: Column values to set (names from :data:`CHANGEABLE_COLUMNS`).
        payload: Extra event fields (e.g. ``error_code``), merged into the event.

    Returns:
        The new row and the event, or ``None`` when the job was not in ``expected`` (or
        ``expected_attempt``) or a concurrent transition changed it first (then nothing was written).

    Raises:
        NotFound: no such job.
        IllegalTransition: the state machine forbids the move (e.g. out of a terminal
            state), from the current status or from any of ``expected``.
        InvalidInput: ``changes`` names a column that may not be set, or ``payload`` a
            reserved event key.
    """
    dst = parse_status(target)
    allowed_from = _expected_set(expected)
    for status in allowed_from or ():
        check_transition(status, dst)
    values = _check_changes(changes)
    _check_payload(payload)
    job = await _load(session, job_id)
    src = parse_status(job.status)
    if allowed_from is not None and src not in allowed_from:
        return None
    if expected_attempt is not None and job.attempt != expected_attempt:
        return None
    check_transition(src, dst)

    now = utcnow()
    if dst is JobStatus.RUNNING:
        values.setdefault("started_at", now)
    if dst in TERMINAL:
        values.setdefault("finished_at", now)
    if dst in (JobStatus.CANCELLING, JobStatus.CANCELLED):
        values.setdefault("cancel_requested_at", job.cancel_requested_at or now)
    if dst in TERMINAL or dst is JobStatus.QUEUED:
        values["progress"] = settled_progress(values.get("progress", job.progress), dst)
    event_payload = {"previous_status": src.value, **payload}

    stmt = (
        update(TrainingJob)
        .where(TrainingJob.id == job_id, TrainingJob.status == src.value, *_in_attempt(expected_attempt))
        .values(status=dst.value, last_seq=TrainingJob.last_seq + 1, updated_at=now, **values)
        .returning(TrainingJob)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    updated = (await session.scalars(stmt)).one_or_none()
    if updated is None:
        return None
    event = _event(EVENT_STATUS, updated, updated.last_seq, dst.value, now, event_payload)
    session.add(TrainingJobEvent(job_id=job_id, seq=updated.last_seq, type=EVENT_STATUS, payload=event, created_at=now))
    await session.flush()
    return TransitionResult(job=updated, event=event, previous=src)


async def append_event(session: AsyncSession, job_id: str, type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Persist a ``job.version`` or ``job.warning`` event with the job's next seq.

    Only while the job is active: a terminal job is frozen. Runs in the caller's
    transaction; publish the returned event after commit.

    Raises:
        InvalidInput: another event type, or a reserved key in ``payload``.
        NotFound: no such job.
        IllegalTransition: the job is in a terminal state.
    """
    if type not in APPENDABLE_EVENTS:
        raise InvalidInput("type", f"must be one of {sorted(APPENDABLE_EVENTS)} (job.status comes from transition)")
    _check_payload(payload)
    now = utcnow()
    stmt = (
        update(TrainingJob)
        .where(TrainingJob.id == job_id, TrainingJob.status.in_([s.value for s in ACTIVE]))
        .values(last_seq=TrainingJob.last_seq + 1, updated_at=now)
        .returning(TrainingJob)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    job = (await session.scalars(stmt)).one_or_none()
    if job is None:
        current = await _load(session, job_id)
        raise IllegalTransition(f"job is {current.status}, a terminal state; no {type} event may be added")
    event = _event(type, job, job.last_seq, job.status, now, payload)
    session.add(TrainingJobEvent(job_id=job_id, seq=job.last_seq, type=type, payload=event, created_at=now))
    await session.flush()
    return event


def settled_progress(progress: Mapping[str, Any] | None, status: JobStatus) -> dict[str, Any] | None:
    """The progress a job keeps on entering ``status`` (terminal, or ``queued`` for a retry).

    The last throttled report of a run can be far behind its end (``fit 1/100 trees`` on a
    forest that finished), so a job never ends with a partial count: a succeeded job's
    progress is complete (``completed = total``), a failed or cancelled job's and a
    requeued job's is absent. Every reader (API, websocket snapshot, UI) sees the row.
    """
    if status is not JobStatus.SUCCEEDED or not isinstance(progress, Mapping):
        return None
    total = progress.get("total")
    if isinstance(total, bool) or not isinstance(total, int | float) or total <= 0:
        return None
    return {**progress, "completed": total}


def _in_attempt(attempt: int | None) -> tuple[Any, ...]:
    return () if attempt is None else (TrainingJob.attempt == attempt,)


async def update_progress(
    session: AsyncSession, job_id: str, progress: Mapping[str, Any], *, attempt: int | None = None
) -> bool:
    """Store the latest progress (``{stage, completed, total, unit}``) while the job is active.

    Not an event and no seq. With ``attempt``, only while the job is still in that attempt
    (a run the reaper gave up on must not report over its successor). Returns whether the
    row was updated.
    """
    stmt = (
        update(TrainingJob)
        .where(TrainingJob.id == job_id, TrainingJob.status.in_([s.value for s in ACTIVE]), *_in_attempt(attempt))
        .values(progress=dict(progress), updated_at=utcnow())
        .returning(TrainingJob.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).first() is not None


async def heartbeat(session: AsyncSession, job_id: str, worker: str, *, attempt: int | None = None) -> bool:
    """Record that ``worker`` is alive and holds the job, while the job is active.

    With ``attempt``, only while the job is still in that attempt: a worker the reaper
    declared lost must neither keep its successor's run alive nor claim it.
    Returns whether the row was updated.
    """
    stmt = (
        update(TrainingJob)
        .where(TrainingJob.id == job_id, TrainingJob.status.in_([s.value for s in ACTIVE]), *_in_attempt(attempt))
        .values(heartbeat_at=utcnow(), worker=worker)
        .returning(TrainingJob.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).first() is not None


async def touch_queued(session: AsyncSession, job_id: str, *, attempt: int) -> bool:
    """Bump ``updated_at`` of a job still ``queued`` in ``attempt``, after its message was sent again.

    Not a transition: no event, no seq. It starts the job's next re-send period (see
    ``store.job_queries.queued_jobs_to_resend``). Returns whether the row was updated; a job
    claimed, cancelled or requeued since it was read is left alone.
    """
    stmt = (
        update(TrainingJob)
        .where(TrainingJob.id == job_id, TrainingJob.status == JobStatus.QUEUED.value, TrainingJob.attempt == attempt)
        .values(updated_at=utcnow())
        .returning(TrainingJob.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).first() is not None
