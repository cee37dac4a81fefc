"""Redis restarted in the middle of a real job: every websocket client converges to the truth.

The deployment is a web process (``mlw serve --no-worker``) and a separate ``mlw worker``
on a Redis server the test controls. Redis goes down while the worker fits; whatever the
worker publishes meanwhile is lost for pub/sub. Once Redis is back, the hub resubscribes
and refills every client from the database, so the database, the API and every client
agree on the job's final state and on its whole event trail. The model the worker stored
during the outage is served as recorded, with the data directory or an S3 bucket (moto) as
the store.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from server.redis_server import EmbeddedRedis
from store.engine import create_engine
from tests.e2e.clients import TERMINAL, Api
from tests.e2e.conftest import Node, NodeFactory, SocketFactory
from tests.job_fixtures import graph_for
from tests.s3_fixtures import on_both_storages

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

LONG_FIT = graph_for("random_forest", hyperparameters={"n_estimators": 150, "max_depth": 10})
QUICK_FIT = graph_for("random_forest", hyperparameters={"n_estimators": 10, "max_depth": 4})


@pytest.fixture
def node(new_node: NodeFactory) -> Node:
    """``mlw serve --no-worker`` and one ``mlw worker`` on ``own_redis`` and a SQLite database."""
    return new_node(workers=1)


async def _database_truth(database_url: str, job_id: str) -> tuple[str, int, int | None, list[int]]:
    """Status, last_seq, model_version and event seqs of a job, read from the database itself."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT status, last_seq, model_version FROM training_jobs WHERE id = :id"), {"id": job_id}
                )
            ).one()
            seqs = (
                await conn.execute(
                    text("SELECT seq FROM training_job_events WHERE job_id = :id ORDER BY seq"), {"id": job_id}
                )
            ).scalars()
            return str(row.status), int(row.last_seq), row.model_version, [int(s) for s in seqs]
    finally:
        await engine.dispose()


@on_both_storages()
async def test_every_client_converges_to_the_true_final_state_when_redis_restarts_during_a_job(
    node: Node, own_redis: EmbeddedRedis, http: aiohttp.ClientSession, open_socket: SocketFactory, training_csv: Path
) -> None:
    api = Api(http, node.web.url, node.tokens["alice"])
    dataset = await api.upload_dataset(training_csv)
    pipeline_id = await api.save_pipeline(dataset, LONG_FIT)
    by_pipeline = await open_socket(node.web.url, node.tokens["alice"])
    await by_pipeline.subscribe([{"pipeline_id": pipeline_id}])
    by_user = await open_socket(node.web.url, node.tokens["alice"])
    await by_user.subscribe([{"user": "me"}])

    job_id = (await api.submit(dataset, LONG_FIT))["id"]
    by_job = await open_socket(node.web.url, node.tokens["alice"])
    await by_job.subscribe([{"job_id": job_id}])
    clients = [by_pipeline, by_user, by_job]
    await by_pipeline.wait_for(lambda f: f["type"] == "job.progress" and f["job_id"] == job_id)

    await asyncio.to_thread(own_redis.stop)
    body = await api.wait_ready(ready=False)
    assert not body["checks"]["redis"]["ok"] and not body["checks"]["hub"]["ok"], body
    # The fit goes on without Redis; its remaining events reach the database only.
    done = await api.wait_job(job_id, TERMINAL, within_s=60)
    assert done["status"] == "succeeded", done
    missed_live = [sock.view_of(job_id) for sock in clients]
    await asyncio.to_thread(own_redis.start)
    await api.wait_ready(ready=True)

    status, last_seq, version, seqs = await _database_truth(node.database_url, job_id)
    assert (status, last_seq, version) == (done["status"], done["last_seq"], done["model_version"])
    assert seqs == list(range(1, last_seq + 1))
    assert all(view != (status, last_seq) for view in missed_live), "the end happened while Redis was down"
    # Storage did not need Redis: the model written in the outage is complete, recorded and served.
    body, sha256 = await api.artifact(job_id)
    assert hashlib.sha256(body).hexdigest() == sha256 and body == node.storage.read_model(done["model_artifact_uri"])
    assert len(node.storage.model_files()) == 1 and node.storage.temporary() == []
    for sock in clients:
        await sock.wait_converged(job_id, (status, last_seq))
        await sock.sync("converged")
    stored = await api.events(job_id)
    for sock in (by_pipeline, by_user):
        assert sock.persisted(job_id) == stored, "every event exactly once, in order"
    first = by_job.seqs(job_id)[0]
    assert by_job.persisted(job_id) == stored[first - 1 :]

    late = await open_socket(node.web.url, node.tokens["alice"])
    snapshot = await late.subscribe([{"pipeline_id": pipeline_id}], since={job_id: 0})
    assert [(j["id"], j["status"], j["last_seq"]) for j in snapshot["jobs"]] == [(job_id, status, last_seq)]
    await late.sync("replayed")
    assert late.persisted(job_id) == stored

    # Live delivery is back: the next job's first event (published by the web process) arrives live.
    next_id = (await api.submit(dataset, QUICK_FIT))["id"]
    for sock in (by_pipeline, by_user):
        queued = await sock.wait_for(lambda f: f["type"] == "job.status" and f["job_id"] == next_id)
        assert (queued["seq"], queued["status"]) == (1, "queued")


async def test_a_worker_whose_job_ends_while_redis_is_down_takes_the_next_job_once_redis_is_back(
    node: Node, own_redis: EmbeddedRedis, http: aiohttp.ClientSession, training_csv: Path
) -> None:
    api = Api(http, node.web.url, node.tokens["alice"])
    dataset = await api.upload_dataset(training_csv)
    job_id = (await api.submit(dataset, LONG_FIT))["id"]
    await api.wait_job(job_id, frozenset({"running"}))
    await asyncio.to_thread(own_redis.stop)
    assert (await api.wait_job(job_id, TERMINAL, within_s=60))["status"] == "succeeded"
    await asyncio.sleep(1.0)  # the worker has tried (and failed) to ack the finished task by now
    await asyncio.to_thread(own_redis.start)
    await api.wait_ready(ready=True)

    next_id = (await api.submit(dataset, QUICK_FIT))["id"]
    assert (await api.wait_job(next_id, TERMINAL, within_s=20))["status"] == "succeeded"
