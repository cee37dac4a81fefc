"""Racing transitions from many connections: one winner per step, events without gaps (both databases)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.engine import create_engine, create_session_factory
from store.errors import IllegalTransition
from store.job_queries import events_since, get_job
from store.jobs import EVENT_WARNING, TransitionResult, append_event, transition
from store.reader import Reader
from store.states import TERMINAL, TRANSITIONS, JobStatus
from tests.store.conftest import Tenants, new_job

CONTENDERS = 50
ENGINES = 5


@pytest.fixture
async def racing_factories(migrated_database_url: str) -> AsyncIterator[list[async_sessionmaker[AsyncSession]]]:
    """Session factories on separate engines (as if in separate processes), together giving
    each contender its own connection; on SQLite they contend for the file lock itself."""
    engines = [
        create_engine(migrated_database_url, pool_size=CONTENDERS // ENGINES, max_overflow=0) for _ in range(ENGINES)
    ]
    try:
        yield [create_session_factory(engine) for engine in engines]
    finally:
        for engine in engines:
            await engine.dispose()


def _targets(current: JobStatus) -> list[JobStatus]:
    # Keep the job alive for a few rounds (running <-> queued), then let it end.
    choices = {
        JobStatus.QUEUED: [JobStatus.RUNNING],
        JobStatus.RUNNING: [JobStatus.CANCELLING, JobStatus.QUEUED],
        JobStatus.CANCELLING: [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED],
    }[current]
    assert set(choices) <= TRANSITIONS[current]
    return choices


async def _attempt(
    factory: async_sessionmaker[AsyncSession], job_id: str, current: JobStatus, target: JobStatus
) -> TransitionResult | None:
    async with factory.begin() as session:
        return await transition(session, job_id, target, expected=current, payload={"by": f"contender-{target}"})


async def _warn(factory: async_sessionmaker[AsyncSession], job_id: str, n: int) -> int:
    async with factory.begin() as session:
        event = await append_event(session, job_id, EVENT_WARNING, {"message": f"warning {n}"})
    return int(event["seq"])


async def test_fifty_racing_transitions_have_one_winner_per_step_and_gapless_events(
    racing_factories: list[async_sessionmaker[AsyncSession]], tenants: Tenants
) -> None:
    racing_factory = racing_factories[0]
    job = await new_job(racing_factory, tenants.alice)
    current = JobStatus.QUEUED
    winners: list[TransitionResult] = []
    warning_seqs: list[int] = []
    rounds = 0
    while current not in TERMINAL:
        targets = _targets(current)
        # Force a few running <-> queued rounds before anyone may cancel.
        if current is JobStatus.RUNNING and rounds < 4:
            targets = [JobStatus.QUEUED]
        picks = [targets[i % len(targets)] for i in range(CONTENDERS)]
        random.Random(rounds).shuffle(picks)
        contenders = [
            _attempt(racing_factories[i % ENGINES], job.id, current, target) for i, target in enumerate(picks)
        ]
        # Warnings share the seq counter; not while cancelling, as the winner may end the job.
        n_warnings = 0 if current is JobStatus.CANCELLING else ENGINES
        warnings = [_warn(racing_factories[i], job.id, i) for i in range(n_warnings)]
        results = await asyncio.gather(*contenders, *warnings)
        outcomes = results[:CONTENDERS]
        warning_seqs += [int(s) for s in results[CONTENDERS:]]  # type: ignore[call-overload]
        won = [r for r in outcomes if r is not None]
        assert len(won) == 1, f"round {rounds}: {len(won)} winners"
        winners.append(won[0])  # type: ignore[arg-type]
        current = JobStatus(won[0].job.status)  # type: ignore[union-attr]
        rounds += 1
        assert rounds < 20, "the job never ended"

    async with racing_factory() as session:
        final = await get_job(session, job.id, reader=Reader.system())
        events = await events_since(session, job.id, 0, reader=Reader.system())
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(events) + 1))
    assert final.last_seq == len(events) == 1 + rounds + len(warning_seqs)
    status_events = [e for e in events if e["type"] == "job.status"]
    assert [e["seq"] for e in status_events[1:]] == [w.event["seq"] for w in winners]
    assert [e["status"] for e in status_events[1:]] == [w.job.status for w in winners]
    assert sorted(warning_seqs) == sorted(e["seq"] for e in events if e["type"] == EVENT_WARNING)

    # After the end every further attempt is refused and nothing changes.
    async def refused(target: JobStatus) -> None:
        async with racing_factory.begin() as session:
            with pytest.raises(IllegalTransition):
                await transition(session, job.id, target)

    await asyncio.gather(*(refused(t) for t in list(JobStatus) * ENGINES))
    async with racing_factory() as session:
        after = await get_job(session, job.id, reader=Reader.system())
        assert await events_since(session, job.id, 0, reader=Reader.system()) == events
    assert (after.status, after.last_seq, after.updated_at) == (final.status, final.last_seq, final.updated_at)
