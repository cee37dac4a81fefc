"""The hub's database reads (``StoreSource``) on SQLite and PostgreSQL, scoped to the socket's user."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.hub.protocol import ME, Topic
from server.hub.source import Principal, StoreSource
from store.datasets import create_dataset
from store.jobs import create_job, transition
from store.pipelines import upsert_pipeline
from store.reader import Reader
from store.types import utcnow
from store.users import create_user, hash_token, live_token_hashes, revoke_token
from tests.server.seed import graph


async def _seed(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    async with sessions.begin() as session:
        alice, alice_token = await create_user(session, "alice")
        bob, bob_token = await create_user(session, "bob")
        dataset = await create_dataset(
            session, owner_id=alice.id, name="d", storage_uri="file:///d.csv", format="csv", n_rows=1,
            columns=[], sha256="0" * 64,
        )
        pipeline = await upsert_pipeline(
            session, dataset_source_id=dataset.id, graph=graph(), reader=Reader(user_id=alice.id)
        )
        job = await create_job(
            session, pipeline_id=pipeline.pipeline_id, node_id="train-1", dataset_source_id=dataset.id,
            user_id=alice.id, model_type="logistic_regression", hyperparameters={},
        )
        await transition(session, job.job.id, "running")
    return {
        "alice": alice.id, "alice_token": alice_token, "bob": bob.id, "bob_token": bob_token,
        "pipeline": pipeline.pipeline_id, "job": job.job.id,
    }


async def test_the_store_source_shows_a_user_their_jobs_and_events_and_another_user_nothing(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await _seed(session_factory)
    source = StoreSource(session_factory)
    alice = await source.authenticate(seeded["alice_token"])
    bob = await source.authenticate(seeded["bob_token"])
    assert alice == Principal(seeded["alice"], False, hash_token(seeded["alice_token"]))
    assert bob == Principal(seeded["bob"], False, hash_token(seeded["bob_token"]))
    assert await source.authenticate("not a token") is None
    topics = [Topic("job_id", seeded["job"]), Topic("pipeline_id", seeded["pipeline"]), ME]

    for topic in topics:
        rows = await source.jobs(alice, topic, 10)
        assert [(r["id"], r["status"], r["last_seq"]) for r in rows] == [(seeded["job"], "running", 2)]
        assert await source.jobs(bob, topic, 10) == []
    events = await source.events_after(alice, seeded["job"], 0, 10)
    assert [(e["seq"], e["status"]) for e in events] == [(1, "queued"), (2, "running")]
    assert await source.events_after(alice, seeded["job"], 1, 10) == events[1:]
    assert await source.events_after(alice, seeded["job"], 0, 1) == events[:1]
    assert await source.events_after(bob, seeded["job"], 0, 10) == []
    assert await source.events_after(Principal(seeded["bob"], True), seeded["job"], 0, 10) == events


async def test_live_tokens_are_those_neither_revoked_nor_expired(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await _seed(session_factory)
    source = StoreSource(session_factory)
    async with session_factory.begin() as session:
        _, short_lived = await create_user(session, "carol", expires_in=dt.timedelta(seconds=1))
        await revoke_token(session, seeded["bob_token"])
    hashes = {hash_token(t) for t in (seeded["alice_token"], seeded["bob_token"], short_lived, "never issued")}
    assert await source.live_tokens(hashes) == {hash_token(seeded["alice_token"]), hash_token(short_lived)}
    async with session_factory() as session:
        later = utcnow() + dt.timedelta(seconds=2)
        assert await live_token_hashes(session, hashes, now=later) == {hash_token(seeded["alice_token"])}
    assert await source.live_tokens(set()) == set()
