"""The reaper: lost workers' jobs are retried, failed or cancelled; one reaper at a time.

It also re-sends the message of a job left ``queued`` for ``jobs.queued_resend_after_s``
(its message may be lost), once per period, without a state change; a duplicate delivery
never runs a job twice, and a claim that fails on a database error leaves the job queued
for that sweep instead of losing it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from actors.jobs.reaper import ReapOutcome, RedisLock, reap_once
from actors.jobs.runner import Outcome
from store.jobs import transition
from store.models import ModelVersion, TrainingJob
from store.states import JobStatus
from store.types import utcnow
from tests.job_fixtures import JobWorld, graph_for


class FreeLock:
    """A lock that is always free: for tests of one reaper alone."""

    def __init__(self) -> None:
        self.released = 0

    async def acquire(self) -> bool:
        return True

    async def release(self) -> None:
        self.released += 1


async def _running_and_stale(world: JobWorld, *, attempt: int = 1, cancelling: bool = False) -> str:
    world.with_settings(one_active_per_node=False)
    job = await world.submit(graph_for("logistic_regression"))
    async with world.sessions.begin() as session:
        await transition(session, job.id, JobStatus.RUNNING, expected=JobStatus.QUEUED,
                         changes={"attempt": attempt, "worker": "gone:1"})
        if cancelling:
            await transition(session, job.id, JobStatus.CANCELLING, expected=JobStatus.RUNNING)
        await session.execute(
            update(TrainingJob).where(TrainingJob.id == job.id).values(heartbeat_at=utcnow().replace(year=2001))
        )
    return job.id


async def test_a_lost_running_job_is_requeued_with_the_next_attempt_and_sent_again(job_world: JobWorld) -> None:
    job_id = await _running_and_stale(job_world)
    job_world.sender.sent.clear()
    lock = FreeLock()
    assert await reap_once(job_world.ctx, lock) == {job_id: ReapOutcome.REQUEUED}
    job = await job_world.job(job_id)
    assert (job.status, job.attempt, job.worker) == ("queued", 2, None)
    assert job_world.sender.sent == [job_id]
    assert lock.released == 1
    # The re-sent message then runs the job to the end.
    await job_world.run(job_id)
    assert (await job_world.job(job_id)).status == "succeeded"


async def test_a_lost_job_on_its_last_attempt_fails_with_worker_lost(job_world: JobWorld) -> None:
    job_id = await _running_and_stale(job_world, attempt=3)
    assert await reap_once(job_world.ctx, FreeLock()) == {job_id: ReapOutcome.FAILED}
    job = await job_world.job(job_id)
    assert (job.status, job.error_code) == ("failed", "worker_lost")


async def test_a_lost_cancelling_job_becomes_cancelled(job_world: JobWorld) -> None:
    job_id = await _running_and_stale(job_world, cancelling=True)
    assert await reap_once(job_world.ctx, FreeLock()) == {job_id: ReapOutcome.CANCELLED}
    assert (await job_world.job(job_id)).status == "cancelled"


async def test_a_job_with_a_fresh_heartbeat_is_left_alone(job_world: JobWorld) -> None:
    job_id = await _running_and_stale(job_world)
    async with job_world.sessions.begin() as session:
        await session.execute(update(TrainingJob).where(TrainingJob.id == job_id).values(heartbeat_at=utcnow()))
    assert await reap_once(job_world.ctx, FreeLock()) == {}
    assert (await job_world.job(job_id)).status == "running"


async def test_a_retry_that_cannot_be_sent_fails_the_job_instead_of_leaving_it_queued(job_world: JobWorld) -> None:
    job_id = await _running_and_stale(job_world)
    job_world.sender.fail_with = ConnectionError("broker down")
    assert await reap_once(job_world.ctx, FreeLock()) == {job_id: ReapOutcome.FAILED}
    job = await job_world.job(job_id)
    assert (job.status, job.error_code) == ("failed", "broker_unavailable")


async def test_only_one_process_holds_the_reaper_lock_and_only_its_holder_releases_it(redis_url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    try:
        first, second = RedisLock(client, ttl_s=30), RedisLock(client, ttl_s=30)
        assert await first.acquire()
        assert not await second.acquire()
        await second.release()  # not the holder: changes nothing
        assert not await second.acquire()
        await first.release()
        assert await second.acquire()
        await second.release()
    finally:
        await client.aclose()


async def test_a_reaper_without_the_lock_does_nothing(job_world: JobWorld, redis_url: str) -> None:
    import redis.asyncio as aioredis

    job_id = await _running_and_stale(job_world)
    client = aioredis.Redis.from_url(redis_url)
    try:
        holder = RedisLock(client)
        assert await holder.acquire()
        assert await reap_once(job_world.ctx, RedisLock(client)) == {}
        assert (await job_world.job(job_id)).status == "running"
        await holder.release()
        assert await reap_once(job_world.ctx, RedisLock(client)) == {job_id: ReapOutcome.REQUEUED}
    finally:
        await client.aclose()


async def _queued_since(world: JobWorld, seconds_ago: float) -> str:
    """A queued job whose row last changed ``seconds_ago``; its submission's message is forgotten."""
    world.with_settings(one_active_per_node=False)
    job = await world.submit(graph_for("logistic_regression"))
    await _last_changed(world, job.id, seconds_ago)
    world.sender.sent.clear()
    return job.id


async def _last_changed(world: JobWorld, job_id: str, seconds_ago: float) -> None:
    moment = utcnow() - timedelta(seconds=seconds_ago)
    async with world.sessions.begin() as session:
        await session.execute(update(TrainingJob).where(TrainingJob.id == job_id).values(updated_at=moment))


def _overdue(world: JobWorld) -> float:
    return world.ctx.settings.jobs.queued_resend_after_s + 60


@pytest.mark.timeout(60)
async def test_a_job_left_queued_past_the_period_is_sent_again_once_without_a_state_change(job_world: JobWorld) -> None:
    lost = await _queued_since(job_world, _overdue(job_world))
    fresh = await _queued_since(job_world, 0)
    before, fresh_before = await job_world.job(lost), await job_world.job(fresh)
    events_before, published_before = await job_world.events(lost), job_world.publisher.of_job(lost)

    assert await reap_once(job_world.ctx, FreeLock()) == {lost: ReapOutcome.RESENT}
    assert job_world.sender.sent == [lost]
    after = await job_world.job(lost)
    assert (after.status, after.attempt, after.last_seq) == ("queued", before.attempt, before.last_seq)
    assert after.updated_at > before.updated_at  # the next period starts now
    assert await job_world.events(lost) == events_before
    assert job_world.publisher.of_job(lost) == published_before
    assert (await job_world.job(fresh)).updated_at == fresh_before.updated_at

    # Right after, the job is within its new period: no second message.
    assert await reap_once(job_world.ctx, FreeLock()) == {}
    assert job_world.sender.sent == [lost]


@pytest.mark.timeout(60)
async def test_a_resent_job_whose_original_message_also_arrives_runs_exactly_once(job_world: JobWorld) -> None:
    job_id = await _queued_since(job_world, _overdue(job_world))
    assert await reap_once(job_world.ctx, FreeLock()) == {job_id: ReapOutcome.RESENT}

    # Both deliveries at once: the claim is conditional on queued and the attempt, so one wins.
    outcomes = await asyncio.gather(job_world.run(job_id), job_world.run(job_id))
    assert outcomes.count(Outcome.SUCCEEDED) == 1
    loser = next(o for o in outcomes if o is not Outcome.SUCCEEDED)
    assert loser in {Outcome.LOST_CLAIM, Outcome.DROPPED_RUNNING_ELSEWHERE, Outcome.IGNORED_TERMINAL}
    job = await job_world.job(job_id)
    assert (job.status, job.model_version, job.attempt) == ("succeeded", 1, 1)
    async with job_world.sessions() as session:
        versions = await session.scalar(select(func.count()).where(ModelVersion.job_id == job_id))
    assert versions == 1
    claims = [e for e in await job_world.events(job_id) if e["type"] == "job.status" and e["status"] == "running"]
    assert len(claims) == 1


@pytest.mark.timeout(60)
async def test_a_resend_that_cannot_be_sent_leaves_the_job_queued_for_the_next_pass(job_world: JobWorld) -> None:
    job_id = await _queued_since(job_world, _overdue(job_world))
    before = await job_world.job(job_id)
    job_world.sender.fail_with = ConnectionError("broker down")
    assert await reap_once(job_world.ctx, FreeLock()) == {job_id: ReapOutcome.LEFT}
    # Not failed (its original message may still be in the broker) and not touched: still due.
    after = await job_world.job(job_id)
    assert (after.status, after.last_seq, after.updated_at) == ("queued", before.last_seq, before.updated_at)

    job_world.sender.fail_with = None
    assert await reap_once(job_world.ctx, FreeLock()) == {job_id: ReapOutcome.RESENT}
    assert job_world.sender.sent == [job_id]


@pytest.mark.timeout(60)
async def test_a_claim_that_fails_on_a_database_error_leaves_the_job_queued_and_the_sweep_gets_it_run(
    job_world: JobWorld,
) -> None:
    job_id = await _queued_since(job_world, 0)
    # A real, deterministic database error in the middle of the claim: its status UPDATE
    # succeeds, then appending the job.status event finds no table, so the claim rolls back.
    async with job_world.sessions.begin() as session:
        await session.execute(text("ALTER TABLE training_job_events RENAME TO training_job_events_away"))
    try:
        assert await job_world.run(job_id) is Outcome.CLAIM_FAILED
    finally:
        async with job_world.sessions.begin() as session:
            await session.execute(text("ALTER TABLE training_job_events_away RENAME TO training_job_events"))
    job = await job_world.job(job_id)
    assert (job.status, job.attempt, job.last_seq, job.worker, job.started_at) == ("queued", 1, 1, None, None)

    # The message was consumed; once the period has passed the sweep sends it again.
    await _last_changed(job_world, job_id, _overdue(job_world))
    assert await reap_once(job_world.ctx, FreeLock()) == {job_id: ReapOutcome.RESENT}
    assert job_world.sender.sent == [job_id]
    assert await job_world.run(job_id) is Outcome.SUCCEEDED
    assert (await job_world.job(job_id)).model_version == 1
