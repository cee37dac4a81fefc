"""The job write path: creation, transitions, frozen terminal states, events, progress (both databases)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.errors import DuplicateIdempotencyKey, IllegalTransition, InvalidInput, NotFound
from store.job_queries import events_since, find_by_idempotency_key, get_job, job_graph
from store.jobs import (
    EVENT_VERSION,
    EVENT_WARNING,
    append_event,
    heartbeat,
    progress_event,
    touch_queued,
    transition,
    update_progress,
)
from store.models import ModelVersion, TrainingJob
from store.reader import Reader
from store.states import TERMINAL, JobStatus
from store.versions import create_model_version, next_model_version
from tests.store.conftest import Tenants, new_job

SYSTEM = Reader.system()


async def _snapshot(factory: async_sessionmaker[AsyncSession], job_id: str) -> tuple[dict[str, Any], list[Any]]:
    async with factory() as session:
        job = await get_job(session, job_id, reader=SYSTEM)
        # The graph is not loaded with the row (TrainingJob.graph is deferred): read on its own.
        row = {c.key: getattr(job, c.key) for c in TrainingJob.__table__.columns if c.key != "graph"}
        row["graph"] = await job_graph(session, job_id)
        return row, await events_since(session, job_id, 0, reader=SYSTEM)


async def _move(factory: async_sessionmaker[AsyncSession], job_id: str, *path: JobStatus) -> None:
    for target in path:
        async with factory.begin() as session:
            assert await transition(session, job_id, target) is not None


async def test_a_new_job_is_queued_with_its_first_event(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    job = await new_job(session_factory, tenants.alice, config={"tag": "t1"}, resolved_hyperparameters={"a": 1})
    row, events = await _snapshot(session_factory, job.id)
    assert (row["status"], row["last_seq"], row["attempt"], row["warnings"]) == ("queued", 1, 1, [])
    assert row["config"] == {"tag": "t1"} and row["resolved_hyperparameters"] == {"a": 1}
    assert row["created_at"] == row["updated_at"] and row["started_at"] is None
    assert len(events) == 1
    event = events[0]
    assert {k: event[k] for k in ("type", "job_id", "pipeline_id", "node_id", "seq", "status")} == {
        "type": "job.status",
        "job_id": job.id,
        "pipeline_id": tenants.alice.pipeline.pipeline_id,
        "node_id": "train",
        "seq": 1,
        "status": "queued",
    }
    assert event["at"].endswith("+00:00")


async def test_an_idempotency_key_is_used_once_per_user(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    first = await new_job(session_factory, tenants.alice, idempotency_key="k1")
    with pytest.raises(DuplicateIdempotencyKey):
        await new_job(session_factory, tenants.alice, idempotency_key="k1")
    other_user = await new_job(session_factory, tenants.bob, idempotency_key="k1")
    async with session_factory() as session:
        found = await find_by_idempotency_key(session, tenants.alice.user.id, "k1")
        assert await find_by_idempotency_key(session, tenants.alice.user.id, "k2") is None
    assert found is not None and found.id == first.id != other_user.id


async def test_transitions_stamp_times_apply_changes_and_describe_the_move(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    job = await new_job(session_factory, tenants.alice)
    async with session_factory.begin() as session:
        running = await transition(session, job.id, "running", expected="queued", changes={"worker": "w1"})
    assert running is not None and running.previous is JobStatus.QUEUED
    assert running.job.started_at is not None and running.job.finished_at is None and running.job.worker == "w1"
    async with session_factory.begin() as session:
        cancelling = await transition(session, job.id, JobStatus.CANCELLING, payload={"requested_by": "alice"})
    assert cancelling is not None and cancelling.job.cancel_requested_at is not None
    async with session_factory.begin() as session:
        failed = await transition(
            session,
            job.id,
            JobStatus.FAILED,
            expected={JobStatus.RUNNING, JobStatus.CANCELLING},
            changes={"error_code": "training_error", "error_message": "boom"},
            payload={"error_code": "training_error"},
        )
    assert failed is not None
    assert failed.job.finished_at is not None and failed.job.error_code == "training_error"
    assert failed.job.cancel_requested_at == cancelling.job.cancel_requested_at
    assert failed.event["seq"] == 4 and failed.event["previous_status"] == "cancelling"
    assert failed.event["error_code"] == "training_error" and failed.event["status"] == "failed"
    _, events = await _snapshot(session_factory, job.id)
    assert events[-1] == failed.event
    assert events[2]["requested_by"] == "alice"


async def test_a_stale_expectation_returns_none_and_changes_nothing(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    job = await new_job(session_factory, tenants.alice)
    await _move(session_factory, job.id, JobStatus.RUNNING)
    before = await _snapshot(session_factory, job.id)
    async with session_factory.begin() as session:
        assert await transition(session, job.id, JobStatus.CANCELLED, expected=JobStatus.QUEUED) is None
    assert await _snapshot(session_factory, job.id) == before


async def test_moves_the_machine_forbids_raise(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    job = await new_job(session_factory, tenants.alice)
    async with session_factory.begin() as session:
        with pytest.raises(IllegalTransition):
            await transition(session, job.id, JobStatus.SUCCEEDED)
        with pytest.raises(IllegalTransition):
            await transition(session, job.id, JobStatus.QUEUED)
        with pytest.raises(IllegalTransition):  # an expected state the target cannot be reached from
            await transition(session, job.id, JobStatus.CANCELLING, expected=JobStatus.QUEUED)
        with pytest.raises(IllegalTransition):
            await transition(session, job.id, "paused")
        with pytest.raises(NotFound):
            await transition(session, "no-such-job", JobStatus.RUNNING)
        with pytest.raises(InvalidInput) as bad_change:
            await transition(session, job.id, JobStatus.RUNNING, changes={"user_id": "x"})
        with pytest.raises(InvalidInput) as bad_payload:
            await transition(session, job.id, JobStatus.RUNNING, payload={"seq": 99})
    assert bad_change.value.field == "changes.user_id"
    assert bad_payload.value.field == "payload"
    row, events = await _snapshot(session_factory, job.id)
    assert row["status"] == "queued" and len(events) == 1


@pytest.mark.parametrize(
    "path",
    [
        [JobStatus.RUNNING, JobStatus.SUCCEEDED],
        [JobStatus.RUNNING, JobStatus.FAILED],
        [JobStatus.CANCELLED],
        [JobStatus.RUNNING, JobStatus.CANCELLING, JobStatus.CANCELLED],
    ],
    ids=lambda path: "-".join(s.value for s in path),
)
async def test_terminal_states_are_frozen(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants, path: list[JobStatus]
) -> None:
    job = await new_job(session_factory, tenants.alice)
    await _move(session_factory, job.id, *path)
    before = await _snapshot(session_factory, job.id)
    assert before[0]["status"] in TERMINAL
    for target in JobStatus:
        async with session_factory.begin() as session:
            with pytest.raises(IllegalTransition):
                await transition(session, job.id, target)
            with pytest.raises(IllegalTransition):
                await transition(session, job.id, target, expected=before[0]["status"])
    async with session_factory.begin() as session:
        with pytest.raises(IllegalTransition):
            await append_event(session, job.id, EVENT_WARNING, {"message": "late"})
        assert await update_progress(session, job.id, {"stage": "fit", "completed": 1, "total": 2}) is False
        assert await heartbeat(session, job.id, "w9") is False
    assert await _snapshot(session_factory, job.id) == before


async def test_a_lost_worker_retry_goes_back_to_queued_with_the_next_attempt(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    job = await new_job(session_factory, tenants.alice)
    await _move(session_factory, job.id, JobStatus.RUNNING)
    async with session_factory.begin() as session:
        current = await get_job(session, job.id, reader=SYSTEM)
        retried = await transition(
            session,
            job.id,
            JobStatus.QUEUED,
            expected=JobStatus.RUNNING,
            changes={"attempt": current.attempt + 1, "worker": None, "heartbeat_at": None},
            payload={"reason": "worker_lost"},
        )
    assert retried is not None and retried.job.attempt == 2 and retried.job.status == "queued"


async def test_progress_and_heartbeats_update_the_row_without_events(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    job = await new_job(session_factory, tenants.alice)
    async with session_factory.begin() as session:
        assert await update_progress(session, job.id, {"stage": "fit", "completed": 3, "total": 10, "unit": "trees"})
        assert await heartbeat(session, job.id, "worker-1")
        assert await update_progress(session, "missing", {}) is False
    row, events = await _snapshot(session_factory, job.id)
    assert row["progress"] == {"stage": "fit", "completed": 3, "total": 10, "unit": "trees"}
    assert row["worker"] == "worker-1" and row["heartbeat_at"] is not None
    assert row["last_seq"] == 1 and len(events) == 1


@pytest.mark.parametrize(
    ("final", "expected"),
    [
        (JobStatus.SUCCEEDED, {"stage": "fit", "completed": 100, "total": 100, "unit": "trees"}),
        (JobStatus.FAILED, None),
        (JobStatus.CANCELLING, {"stage": "fit", "completed": 1, "total": 100, "unit": "trees"}),
        (JobStatus.QUEUED, None),
    ],
)
async def test_a_job_that_ends_or_is_retried_keeps_no_partial_progress(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants, final: JobStatus, expected: Any
) -> None:
    job = await new_job(session_factory, tenants.alice)
    await _move(session_factory, job.id, JobStatus.RUNNING)
    async with session_factory.begin() as session:
        assert await update_progress(session, job.id, {"stage": "fit", "completed": 1, "total": 100, "unit": "trees"})
    changes = {"attempt": 2} if final is JobStatus.QUEUED else {}
    async with session_factory.begin() as session:
        moved = await transition(session, job.id, final, changes=changes)
    assert moved is not None and moved.job.progress == expected
    row, _ = await _snapshot(session_factory, job.id)
    assert row["progress"] == expected


async def test_a_cancelled_job_and_a_job_ended_with_explicit_progress_keep_none_partial(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    job = await new_job(session_factory, tenants.alice)
    await _move(session_factory, job.id, JobStatus.RUNNING, JobStatus.CANCELLING)
    async with session_factory.begin() as session:
        assert await update_progress(session, job.id, {"stage": "fit", "completed": 2, "total": 9, "unit": "rounds"})
        await transition(session, job.id, JobStatus.CANCELLED)
    assert (await _snapshot(session_factory, job.id))[0]["progress"] is None
    other = await new_job(session_factory, tenants.alice)
    await _move(session_factory, other.id, JobStatus.RUNNING)
    async with session_factory.begin() as session:
        partial = {"stage": "evaluate", "completed": 0, "total": 2, "unit": "partitions"}
        await transition(session, other.id, JobStatus.SUCCEEDED, changes={"progress": partial})
    assert (await _snapshot(session_factory, other.id))[0]["progress"] == {**partial, "completed": 2}


async def test_touching_a_queued_job_bumps_updated_at_only_in_its_attempt_without_an_event(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    job = await new_job(session_factory, tenants.alice)
    past = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
    async with session_factory.begin() as session:
        await session.execute(update(TrainingJob).where(TrainingJob.id == job.id).values(updated_at=past))
        # Another attempt's re-send (read before a requeue) must not start this attempt's period.
        assert await touch_queued(session, job.id, attempt=2) is False
    assert (await _snapshot(session_factory, job.id))[0]["updated_at"] == past
    async with session_factory.begin() as session:
        assert await touch_queued(session, job.id, attempt=1) is True
    row, events = await _snapshot(session_factory, job.id)
    assert row["updated_at"] > past
    assert (row["status"], row["attempt"], row["last_seq"], len(events)) == ("queued", 1, 1, 1)


async def test_touching_a_job_that_left_queued_changes_nothing(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    job = await new_job(session_factory, tenants.alice)
    await _move(session_factory, job.id, JobStatus.RUNNING)
    before = await _snapshot(session_factory, job.id)
    async with session_factory.begin() as session:
        assert await touch_queued(session, job.id, attempt=1) is False
        assert await touch_queued(session, "missing", attempt=1) is False
    assert await _snapshot(session_factory, job.id) == before


async def test_append_event_refuses_status_events_and_unknown_jobs(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    job = await new_job(session_factory, tenants.alice)
    async with session_factory.begin() as session:
        with pytest.raises(InvalidInput) as bad:
            await append_event(session, job.id, "job.status", {})
        with pytest.raises(NotFound):
            await append_event(session, "missing", EVENT_WARNING, {})
        warning = await append_event(session, job.id, EVENT_WARNING, {"message": "leakage"})
    assert bad.value.field == "type"
    assert (warning["seq"], warning["status"], warning["message"]) == (2, "queued", "leakage")


async def _finish_with_version(session: AsyncSession, job: TrainingJob) -> tuple[int, list[dict[str, Any]]]:
    version = await create_model_version(
        session,
        pipeline_id=job.pipeline_id,
        node_id=job.node_id,
        job_id=job.id,
        model_type=job.model_type,
        hyperparameters={},
        metrics={"test": {"accuracy": 0.9}},
        artifact_uri=f"file:///models/{job.id}.joblib",
        artifact_sha256="c" * 64,
    )
    event = await append_event(session, job.id, EVENT_VERSION, {"model_version": version.version})
    done = await transition(
        session,
        job.id,
        JobStatus.SUCCEEDED,
        expected=JobStatus.RUNNING,
        changes={"model_version": version.version, "model_artifact_uri": version.artifact_uri},
    )
    assert done is not None
    return version.version, [event, done.event]


async def test_version_event_and_success_commit_together_or_not_at_all(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    job = await new_job(session_factory, tenants.alice)
    await _move(session_factory, job.id, JobStatus.RUNNING)
    before = await _snapshot(session_factory, job.id)

    async def fail_before_commit() -> None:
        async with session_factory.begin() as session:
            await _finish_with_version(session, job)
            raise RuntimeError("the artifact upload failed before commit")

    with pytest.raises(RuntimeError):
        await fail_before_commit()
    assert await _snapshot(session_factory, job.id) == before
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(ModelVersion)) == 0

    async with session_factory.begin() as session:
        version, published = await _finish_with_version(session, job)
    row, events = await _snapshot(session_factory, job.id)
    assert version == 1 and row["status"] == "succeeded" and row["model_version"] == 1
    assert events[-2:] == published
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    async with session_factory.begin() as session:
        assert await next_model_version(session, job.pipeline_id, job.node_id) == 2


async def test_a_progress_event_has_the_stored_events_head_but_no_seq_and_is_not_stored(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    job = await new_job(session_factory, tenants.alice)
    await _move(session_factory, job.id, JobStatus.RUNNING)
    async with session_factory() as session:
        running = await get_job(session, job.id, reader=SYSTEM)
        stored = (await events_since(session, job.id, 0, reader=SYSTEM))[-1]
    curve = {"unit": "round", "points": [[1, 0.5]], "count": 1, "offset": 0}
    event = progress_event(running, JobStatus.CANCELLING, {"stage": "fit", "completed": 1}, {"learning_curve": curve})
    assert set(stored) - set(event) == {"seq", "previous_status"}
    assert {k: event[k] for k in ("type", "job_id", "pipeline_id", "node_id", "status")} == {
        "type": "job.progress", "job_id": job.id, "pipeline_id": running.pipeline_id, "node_id": running.node_id,
        "status": "cancelling",
    }
    assert event["progress"] == {"stage": "fit", "completed": 1} and event["learning_curve"] == curve
    assert event["kind"] == stored["kind"] == "training"
    assert dt.datetime.fromisoformat(event["at"]).tzinfo is not None
    with pytest.raises(InvalidInput, match="payload"):
        progress_event(running, JobStatus.RUNNING, {}, {"seq": 3})
    assert "learning_curve" not in progress_event(running, JobStatus.RUNNING, {"stage": "fit"})
    row, events = await _snapshot(session_factory, job.id)
    assert row["last_seq"] == len(events) == 2, "building a progress event writes nothing"
