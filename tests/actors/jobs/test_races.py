"""Races: concurrent submissions on one node, and cancel versus finish."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from actors.jobs.outcomes import finish_succeeded
from actors.jobs.runner import Outcome
from actors.jobs.service import cancel_training_job
from actors.ml.fit import run_training
from store.jobs import transition
from store.reader import Reader
from store.states import TERMINAL, JobStatus
from store.versions import list_versions
from tests.job_fixtures import JobWorld, graph_for


async def test_twenty_jobs_on_one_node_get_versions_one_to_twenty(job_world: JobWorld) -> None:
    # Twenty runs of one user at once: the race is the point, so no fair-share cap.
    job_world.with_settings(one_active_per_node=False, max_active_per_user=50, max_running_per_user=0)
    job_world.with_insights(explain=False, curves=False)  # the version numbers are the point, not the insights
    graph = graph_for("logistic_regression")
    jobs = await asyncio.gather(*(job_world.submit(graph) for _ in range(20)))
    assert len({j.pipeline_id for j in jobs}) == 1
    outcomes = await asyncio.gather(*(job_world.run(j.id) for j in jobs))
    errors = [(await job_world.job(j.id)).error_message
              for j, o in zip(jobs, outcomes, strict=True) if o != "succeeded"]
    assert outcomes == [Outcome.SUCCEEDED] * 20, errors
    async with job_world.sessions() as session:
        versions = await list_versions(session, jobs[0].pipeline_id, "train", reader=Reader.system(), limit=100)
    assert sorted(v.version for v in versions) == list(range(1, 21))
    assert sorted(v.job_id for v in versions) == sorted(j.id for j in jobs)


@pytest.mark.slow
async def test_two_hundred_cancel_versus_finish_races_each_end_in_exactly_one_terminal_state(
    job_world: JobWorld, migrated_database_url: str
) -> None:
    # The same race on PostgreSQL with half the rounds keeps the suite short.
    rounds = 100 if migrated_database_url.startswith("postgresql") else 200
    job_world.with_settings(one_active_per_node=False, max_active_per_user=1000, max_running_per_user=0)
    graph = graph_for("logistic_regression")
    first = await job_world.submit(graph)
    async with job_world.sessions() as session:
        dataset = job_world.datasets["breast_cancer"]
        assert session is not None
    from actors.ml.options import DatasetRef

    result = run_training(
        graph, "train", DatasetRef(dataset.storage_uri, "csv"), job_world.ctx.fit_options(),
        should_stop=lambda: None, on_progress=lambda _: None,
    )
    rng = random.Random(1234)
    tally: dict[str, int] = {}

    async def one_race(index: int) -> None:
        job = first if index == 0 else await job_world.submit(graph)
        async with job_world.sessions.begin() as session:
            claimed = await transition(session, job.id, JobStatus.RUNNING, expected=JobStatus.QUEUED)
        assert claimed is not None
        running = claimed.job
        key = job_world.ctx.artifact_key(running.pipeline_id, running.id)
        stored = job_world.ctx.storage.artifacts.put_bytes(key, b"artifact")

        # Each side gets a head start in half the rounds, so that each wins a share of them. The
        # cancel's head start is its request (a transaction, a publish, a signal: many
        # milliseconds on a loaded machine), so there the finish waits until it is in and the
        # two endings race from then on.
        cancel_first = index % 2 == 1
        cancel_requested = asyncio.Event()

        async def finish() -> Any:
            if cancel_first:
                await cancel_requested.wait()
            await asyncio.sleep(rng.random() * (0.01 if cancel_first else 0.001))
            return await finish_succeeded(job_world.ctx, running, result, stored.uri, stored.sha256)

        async def cancel() -> Any:
            await asyncio.sleep(rng.random() * (0.001 if cancel_first else 0.01))
            try:
                await cancel_training_job(job_world.ctx, job_world.reader, running.id)
            finally:
                cancel_requested.set()
            # The actor's checkpoint would then end it; emulate that second step at a random moment.
            await asyncio.sleep(rng.random() * 0.01)
            from actors.jobs.outcomes import finish_cancelled

            return await finish_cancelled(job_world.ctx, running)

        await asyncio.gather(finish(), cancel())
        done = await job_world.job(running.id)
        assert JobStatus(done.status) in TERMINAL
        events = await job_world.events(running.id)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        terminal_events = [e for e in events if e["type"] == "job.status" and JobStatus(e["status"]) in TERMINAL]
        assert len(terminal_events) == 1
        assert terminal_events[0]["status"] == done.status
        versions = [e for e in events if e["type"] == "job.version"]
        if done.status == "succeeded":
            assert done.model_version is not None and len(versions) == 1
            assert job_world.ctx.storage.artifacts.size(key) is not None
        else:
            assert done.model_version is None and versions == []
            assert job_world.ctx.storage.artifacts.size(key) is None, "a cancelled job leaves no artifact"
        tally[done.status] = tally.get(done.status, 0) + 1

    for index in range(rounds):
        await one_race(index)
    assert sum(tally.values()) == rounds
    assert set(tally) <= {"succeeded", "cancelled"}
    assert len(tally) == 2, f"both sides should win some races: {tally}"
