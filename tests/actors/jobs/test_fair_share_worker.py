"""Fair share in a real ``mlw worker`` with two slots: another user's job starts while one user's wait."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from actors.jobs.service import SubmitRequest, submit_training_job
from store.datasets import create_dataset
from store.reader import Reader
from store.users import create_user
from tests.actors.jobs.test_worker_process import (  # noqa: F401 - fixtures
    WorkerProcess,
    live_world,
    running_worker,
    wait_status,
    worker_env,
)
from tests.job_fixtures import JobWorld, _write, breast_cancer_frame, graph_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture
def two_slot_worker(worker_env: dict[str, str]) -> Iterator[WorkerProcess]:  # noqa: F811
    """One ``mlw worker`` with two pool children and ``jobs.max_running_per_user = 1``."""
    worker_env.update(MLW_WORKER_CONCURRENCY="2", MLW_JOBS_MAX_RUNNING_PER_USER="1")
    with running_worker(worker_env) as process:
        yield process


async def _bob(world: JobWorld) -> tuple[Reader, str]:
    frame = breast_cancer_frame()
    path, sha256 = _write(frame, world.ctx.settings.data_dir / "bob.csv")
    async with world.sessions.begin() as session:
        bob, _ = await create_user(session, "bob")
        dataset = await create_dataset(
            session, owner_id=bob.id, name="bob", storage_uri=path, format="csv", n_rows=len(frame),
            columns=[{"name": str(c), "dtype": str(t)} for c, t in frame.dtypes.items()], sha256=sha256,
        )
    return Reader(bob.id), dataset.id


@pytest.mark.parametrize("migrated_database_url", ["sqlite", "postgres"], indirect=True)
async def test_with_two_slots_and_a_cap_of_one_another_users_job_starts_while_one_users_jobs_wait(
    live_world: JobWorld, two_slot_worker: WorkerProcess  # noqa: F811
) -> None:
    live_world.with_settings(one_active_per_node=False, max_running_per_user=1)
    bob, bob_dataset = await _bob(live_world)
    # The first run must outlast bob's start; the two behind it only have to queue, so they are short.
    alice_jobs = [await live_world.submit(graph_for("random_forest", hyperparameters={"n_estimators": trees}),
                                          dataset="slow") for trees in (150, 20, 20)]
    await wait_status(live_world, alice_jobs[0].id, "running")

    short = SubmitRequest(dataset_source_id=bob_dataset, node_id="train", graph=graph_for("logistic_regression"))
    bob_job = await submit_training_job(live_world.ctx, bob, short)
    # Within seconds on a quiet machine; the bound only guards against a hang.
    await wait_status(live_world, bob_job.id, "running", "succeeded", "failed")
    waiting = [await live_world.job(job.id) for job in alice_jobs[1:]]
    assert [(j.status, j.started_at) for j in waiting] == [("queued", None)] * 2, "bob started while alice waited"

    finals = [await wait_status(live_world, job.id, "succeeded", "failed", within_s=400) for job in alice_jobs]
    bob_final = await wait_status(live_world, bob_job.id, "succeeded", "failed")
    assert (bob_final.status, bob_final.error_message) == ("succeeded", None)
    assert [(j.status, j.attempt) for j in finals] == [("succeeded", 1)] * 3
    assert sorted(j.model_version for j in finals) == [1, 2, 3]
    # One at a time: each of alice's jobs started after the one before it finished.
    runs = sorted((j.started_at, j.finished_at) for j in finals)
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(runs))
    for job in finals:
        statuses = [e["status"] for e in await live_world.events(job.id) if e["type"] == "job.status"]
        assert statuses == ["queued", "running", "succeeded"], "claimed exactly once"
