"""The reaper: lost workers' jobs are retried, failed or cancelled; one reaper at a time."""

from __future__ import annotations

from sqlalchemy import update

from actors.reaper import ReapOutcome, RedisLock, reap_once
from store.jobs import transition
from store.models import TrainingJob
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
