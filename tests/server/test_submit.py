"""POST /training-jobs and POST /training-jobs/{id}/cancel through the real job service.

The only stand-in is the message sender: it records the message instead of reaching a
broker. Events reach the real Redis publisher.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from server.keys import JOBS
from server.schemas.jobs import JobOut
from store.graph_hash import graph_hash, pipeline_id_for
from store.jobs import create_job
from store.settings import Settings
from tests.job_fixtures import graph_for
from tests.server.conftest import API, People, RecordingSender
from tests.server.seed import add_job, graph, upload_csv, writer


def _body(dataset_id: str, **extra: Any) -> dict[str, Any]:
    return {"dataset_source_id": dataset_id, "node_id": "train-1", "graph": graph(), **extra}


@pytest.fixture
async def dataset_id(client: TestClient[Any, Any], people: People) -> str:
    return await upload_csv(client, people.alice)


async def test_a_valid_submission_is_202_queued_autosaved_and_sent(
    client: TestClient[Any, Any], people: People, dataset_id: str, sender: RecordingSender, redis_url: str
) -> None:
    listener = aioredis.Redis.from_url(redis_url)
    pubsub = listener.pubsub()
    await pubsub.subscribe(f"mlw:events:{people.alice.id}")
    try:
        resp = await client.post(f"{API}/training-jobs", json=_body(dataset_id), headers=people.alice.headers)
        assert resp.status == 202, await resp.text()
        job = JobOut.model_validate(await resp.json())
        assert job.status == "queued"
        assert job.kind == "training"
        assert sender.kinds == {job.id: "training"}, "the message goes to the actor of the job's kind"
        assert job.pipeline_id == pipeline_id_for(dataset_id, graph_hash(graph()))
        assert job.model_type == "logistic_regression"
        assert job.resolved_hyperparameters
        assert [job_id for job_id, _ in sender.sent] == [job.id]

        saved = await client.get(f"{API}/pipelines/{job.pipeline_id}", headers=people.alice.headers)
        assert saved.status == 200
        assert [j["id"] for j in (await saved.json())["jobs"]] == [job.id]

        message = None
        for _ in range(50):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message is not None:
                break
        assert message is not None
        event = json.loads(message["data"])
        assert (event["job_id"], event["kind"], event["status"], event["seq"]) == (job.id, "training", "queued", 1)
        trail = await client.get(f"{API}/training-jobs/{job.id}/events", headers=people.alice.headers)
        assert [e["kind"] for e in (await trail.json())["events"]] == ["training"]
    finally:
        await pubsub.aclose()
        await listener.aclose()


async def test_the_config_overrides_the_node_and_a_bad_hyperparameter_is_422_naming_it(
    client: TestClient[Any, Any], people: People, dataset_id: str, sender: RecordingSender
) -> None:
    config = {
        "model_type": "random_forest",
        "task": "classification",
        "target": "label",
        "hyperparameters": {"n_estimators": 5},
    }
    resp = await client.post(
        f"{API}/training-jobs", json=_body(dataset_id, config=config), headers=people.alice.headers
    )
    assert resp.status == 202, await resp.text()
    assert (await resp.json())["model_type"] == "random_forest"

    config["hyperparameters"] = {"n_estimators": -3}
    other = _body(dataset_id, config=config)
    resp = await client.post(f"{API}/training-jobs", json=other, headers=people.alice.headers)
    assert resp.status == 422
    error = (await resp.json())["error"]
    assert error["code"] == "invalid_hyperparameter"
    assert "n_estimators" in error["details"]["field"]
    assert len(sender.sent) == 1


async def test_a_graph_without_a_split_is_422_invalid_pipeline(
    client: TestClient[Any, Any], people: People, dataset_id: str
) -> None:
    g = graph()
    g["nodes"] = [n for n in g["nodes"] if n["id"] != "split"]
    g["edges"] = [{"id": "e", "source": "src", "target": "train-1"}]
    body = {"dataset_source_id": dataset_id, "node_id": "train-1", "graph": g}
    resp = await client.post(f"{API}/training-jobs", json=body, headers=people.alice.headers)
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "invalid_pipeline"


async def test_unknown_fields_and_another_users_dataset_are_refused(
    client: TestClient[Any, Any], people: People, dataset_id: str
) -> None:
    resp = await client.post(f"{API}/training-jobs", json=_body(dataset_id, priority=1), headers=people.alice.headers)
    assert resp.status == 422
    assert (await resp.json())["error"]["details"]["field"] == "priority"
    bad_config = _body(dataset_id, config={"model_type": "xgboost", "colour": "red"})
    resp = await client.post(f"{API}/training-jobs", json=bad_config, headers=people.alice.headers)
    assert resp.status == 422
    assert (await resp.json())["error"]["details"]["field"] == "config.colour"
    resp = await client.post(f"{API}/training-jobs", json=_body(dataset_id), headers=people.bob.headers)
    assert resp.status == 404


async def test_a_second_active_job_on_the_node_is_409_naming_the_active_one(
    client: TestClient[Any, Any], people: People, dataset_id: str
) -> None:
    first = await client.post(f"{API}/training-jobs", json=_body(dataset_id), headers=people.alice.headers)
    first_id = (await first.json())["id"]
    resp = await client.post(f"{API}/training-jobs", json=_body(dataset_id), headers=people.alice.headers)
    assert resp.status == 409
    error = (await resp.json())["error"]
    assert error["code"] == "active_job_exists"
    assert error["details"]["active_job_id"] == first_id


async def test_an_idempotency_key_returns_the_first_job(
    client: TestClient[Any, Any], people: People, dataset_id: str, sender: RecordingSender
) -> None:
    body = _body(dataset_id, idempotency_key="click-1")
    first = await (await client.post(f"{API}/training-jobs", json=body, headers=people.alice.headers)).json()
    resp = await client.post(f"{API}/training-jobs", json=copy.deepcopy(body), headers=people.alice.headers)
    assert resp.status == 202
    assert (await resp.json())["id"] == first["id"]
    assert len(sender.sent) == 1


async def test_an_idempotency_key_reused_with_a_different_body_is_422_and_creates_nothing(
    client: TestClient[Any, Any], people: People, dataset_id: str, sender: RecordingSender
) -> None:
    body = _body(dataset_id, idempotency_key="click-2")
    first = await (await client.post(f"{API}/training-jobs", json=body, headers=people.alice.headers)).json()
    other = copy.deepcopy(body)
    other["config"] = {"model_type": "random_forest", "task": "classification", "target": "label"}
    resp = await client.post(f"{API}/training-jobs", json=other, headers=people.alice.headers)
    assert resp.status == 422, await resp.text()
    error = (await resp.json())["error"]
    assert error["code"] == "idempotency_key_reused"
    assert error["details"] == {"field": "idempotency_key", "job_id": first["id"]}
    assert len(sender.sent) == 1
    # The same document with its keys in another order and other whitespace is the same body.
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    headers = {**people.alice.headers, "Content-Type": "application/json"}
    resp = await client.post(f"{API}/training-jobs", data=reordered, headers=headers)
    assert resp.status == 202 and (await resp.json())["id"] == first["id"]
    # The key is per user: bob may use it for his own job.
    bob_dataset = await upload_csv(client, people.bob)
    resp = await client.post(
        f"{API}/training-jobs", json=_body(bob_dataset, idempotency_key="click-2"), headers=people.bob.headers
    )
    assert resp.status == 202 and (await resp.json())["id"] != first["id"]


async def test_a_broker_outage_is_503_and_the_job_is_failed(
    client: TestClient[Any, Any], people: People, dataset_id: str, sender: RecordingSender
) -> None:
    sender.fail_with = ConnectionError("broker down")
    resp = await client.post(f"{API}/training-jobs", json=_body(dataset_id), headers=people.alice.headers)
    assert resp.status == 503
    error = (await resp.json())["error"]
    assert error["code"] == "broker_unavailable"
    job = await (
        await client.get(f"{API}/training-jobs/{error['details']['job_id']}", headers=people.alice.headers)
    ).json()
    assert (job["status"], job["error_code"]) == ("failed", "broker_unavailable")


async def test_cancel_is_202_and_idempotent(
    client: TestClient[Any, Any], people: People, dataset_id: str, settings: Settings
) -> None:
    created = await (
        await client.post(f"{API}/training-jobs", json=_body(dataset_id), headers=people.alice.headers)
    ).json()
    url = f"{API}/training-jobs/{created['id']}/cancel"
    first = await client.post(url, headers=people.alice.headers)
    assert first.status == 202
    assert (await first.json())["status"] == "cancelled"
    again = await client.post(url, headers=people.alice.headers)
    assert again.status == 202
    body = await again.json()
    assert (body["status"], body["cancel_requested"]) == ("cancelled", True)

    running, _ = await add_job(settings, people.alice, created["pipeline_id"], "train-1", dataset_id, status="running")
    resp = await client.post(f"{API}/training-jobs/{running}/cancel", headers=people.alice.headers)
    assert resp.status == 202
    assert (await resp.json())["status"] == "cancelling"


async def test_cancelling_a_job_with_thousands_of_warnings_answers_all_of_them(
    client: TestClient[Any, Any], people: People, dataset_id: str, settings: Settings
) -> None:
    created = await (
        await client.post(f"{API}/training-jobs", json=_body(dataset_id), headers=people.alice.headers)
    ).json()
    warnings = [{"code": "leakage", "message": f"column c{i} may leak the target"} for i in range(3000)]
    async with writer(settings) as session:
        job = await create_job(
            session, pipeline_id=created["pipeline_id"], node_id="train-1", dataset_source_id=dataset_id,
            user_id=people.alice.id, model_type="logistic_regression", hyperparameters={}, warnings=warnings,
        )

    resp = await client.post(f"{API}/training-jobs/{job.job.id}/cancel", headers=people.alice.headers)

    assert resp.status == 202
    body = await resp.json()
    assert (body["status"], body["warnings"]) == ("cancelled", warnings)


async def test_a_dataset_deleted_after_a_submission_read_it_is_404_for_the_next(
    client: TestClient[Any, Any], people: People, dataset_id: str
) -> None:
    """The service keeps a dataset's columns once read; the database still refuses a deleted one."""
    invalid = _body(dataset_id, node_id="no-such-node")
    refused = await client.post(f"{API}/training-jobs", json=invalid, headers=people.alice.headers)
    assert refused.status == 422, "the dataset was read (and kept) to validate the graph"
    deleted = await client.delete(f"{API}/datasets/{dataset_id}", headers=people.alice.headers)
    assert deleted.status == 204

    resp = await client.post(f"{API}/training-jobs", json=_body(dataset_id), headers=people.alice.headers)

    assert resp.status == 404
    error = (await resp.json())["error"]
    assert error["code"] == "not_found"
    assert dataset_id in error["message"]


async def test_cancelling_an_unknown_job_is_404(client: TestClient[Any, Any], people: People) -> None:
    resp = await client.post(f"{API}/training-jobs/nope/cancel", headers=people.alice.headers)
    assert resp.status == 404


async def test_max_runtime_has_one_limit_the_setting_in_schema_openapi_and_error(
    client: TestClient[Any, Any], people: People, dataset_id: str, settings: Settings, sender: RecordingSender
) -> None:
    limit = settings.jobs.max_runtime_limit_s
    types = await (await client.get(f"{API}/node-types", headers=people.alice.headers)).json()
    train = next(t for t in types["node_types"] if t["type"] == "train_model")
    field = next(p for p in train["config"] if p["name"] == "max_runtime_s")
    assert field["maximum"] == limit and f"{limit:g}" in field["description"]
    document = await (await client.get(f"{API}/openapi.json", headers=people.alice.headers)).json()
    documented = document["components"]["schemas"]["TrainConfigIn"]["properties"]["max_runtime_s"]
    number = next(v for v in documented["anyOf"] if v.get("type") == "number")
    assert number["maximum"] == limit and f"{limit:g}" in documented["description"]

    config = {"model_type": "logistic_regression", "target": "label", "max_runtime_s": limit + 1}
    resp = await client.post(
        f"{API}/training-jobs", json=_body(dataset_id, config=config), headers=people.alice.headers
    )
    assert resp.status == 422
    error = (await resp.json())["error"]
    assert error["details"]["field"] == "config.max_runtime_s"
    assert error["message"].startswith("config.max_runtime_s: ") and f"{limit:g}" in error["message"]
    config["max_runtime_s"] = limit
    resp = await client.post(
        f"{API}/training-jobs", json=_body(dataset_id, config=config), headers=people.alice.headers
    )
    assert resp.status == 202, await resp.text()
    assert (await resp.json())["config"]["max_runtime_s"] == limit


async def test_a_training_node_with_two_inputs_is_refused_at_submit_and_at_save_naming_it(
    client: TestClient[Any, Any], people: People, dataset_id: str, sender: RecordingSender
) -> None:
    g = graph()  # a second input into the train node: a shape no builder makes
    g["nodes"].append({"id": "side", "type": "scale", "data": {"config": {}}})
    g["edges"] += [
        {"id": "e-src-side", "source": "src", "target": "side"},
        {"id": "e-side-train", "source": "side", "target": "train-1"},
    ]
    resp = await client.post(
        f"{API}/training-jobs", json={**_body(dataset_id), "graph": g}, headers=people.alice.headers
    )
    assert resp.status == 422, await resp.text()
    error = (await resp.json())["error"]
    assert error["code"] == "invalid_pipeline"
    assert error["details"]["node_id"] == "train-1"
    assert error["details"]["field"] == "graph.nodes[2]"
    assert "train-1" in error["message"]
    resp = await client.put(
        f"{API}/pipelines", json={"dataset_source_id": dataset_id, "graph": g}, headers=people.alice.headers
    )
    assert resp.status == 422
    assert (await resp.json())["error"]["details"]["node_id"] == "train-1"
    assert sender.sent == []


MIXED_CSV = "size,color,price,grade,label\n" + "".join(
    f"{i * 0.5},{'red' if i % 3 else 'blue'},{i * 1.37:.2f},{i % 3}.0,{'ab'[i % 2]}\n" for i in range(40)
)


def _mixed(train_config: dict[str, Any], middle: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    config = dict(train_config)
    return graph_for(config.pop("model_type"), config.pop("target"), split={"test_size": 0.25, "random_state": 0},
                     middle=middle, train_ids=("train-1",), **config)


async def test_a_text_column_without_an_encode_step_is_422_at_submit_naming_node_field_and_column(
    client: TestClient[Any, Any], people: People, sender: RecordingSender
) -> None:
    dataset_id = await upload_csv(client, people.alice, MIXED_CSV)
    g = _mixed({"model_type": "random_forest", "target": "label"})
    resp = await client.post(
        f"{API}/training-jobs", json={**_body(dataset_id), "graph": g}, headers=people.alice.headers
    )
    assert resp.status == 422, await resp.text()
    error = (await resp.json())["error"]
    assert error["code"] == "invalid_pipeline"
    assert error["details"]["node_id"] == "train-1"
    assert error["details"]["field"] == "graph.nodes[2]"
    assert error["details"]["column"] == "color"
    assert "'color'" in error["message"] and "encode" in error["message"]
    assert sender.sent == []
    encode = {"id": "enc", "type": "encode", "data": {"config": {"method": "onehot"}}}
    resp = await client.post(
        f"{API}/training-jobs",
        json={**_body(dataset_id), "graph": _mixed({"model_type": "random_forest", "target": "label"}, (encode,))},
        headers=people.alice.headers,
    )
    assert resp.status == 202, await resp.text()


async def test_scaling_a_text_column_is_422_naming_the_scale_node_and_column(
    client: TestClient[Any, Any], people: People
) -> None:
    dataset_id = await upload_csv(client, people.alice, MIXED_CSV)
    scale = {"id": "sc", "type": "scale", "data": {"config": {"columns": ["color"]}}}
    g = _mixed({"model_type": "random_forest", "target": "label"}, (scale,))
    resp = await client.post(
        f"{API}/training-jobs", json={**_body(dataset_id), "graph": g}, headers=people.alice.headers
    )
    assert resp.status == 422, await resp.text()
    details = (await resp.json())["error"]["details"]
    assert (details["node_id"], details["column"]) == ("sc", "color")
    assert details["field"] == "graph.nodes[2].data.config.columns"


async def test_classification_of_a_continuous_target_is_422_at_submit_not_a_worker_failure(
    client: TestClient[Any, Any], people: People, sender: RecordingSender
) -> None:
    dataset_id = await upload_csv(client, people.alice, MIXED_CSV)
    encode = {"id": "enc", "type": "encode", "data": {"config": {}}}
    config = {"model_type": "random_forest", "task": "classification", "target": "price"}
    resp = await client.post(
        f"{API}/training-jobs",
        json={**_body(dataset_id), "graph": _mixed(config, (encode,))},
        headers=people.alice.headers,
    )
    assert resp.status == 422, await resp.text()
    error = (await resp.json())["error"]
    assert error["details"]["field"] == "config.task"
    assert (error["details"]["node_id"], error["details"]["column"]) == ("train-1", "price")
    assert sender.sent == []
    # A float column of whole numbers holds classes: classification is allowed on it.
    config["target"] = "grade"
    resp = await client.post(
        f"{API}/training-jobs",
        json={**_body(dataset_id), "graph": _mixed(config, (encode,))},
        headers=people.alice.headers,
    )
    assert resp.status == 202, await resp.text()


async def test_concurrent_submissions_of_two_users_keep_each_quota_and_each_node_to_one_job(
    client: TestClient[Any, Any], people: People, dataset_id: str, sender: RecordingSender
) -> None:
    # Through the real app on SQLite, where concurrent submissions share write transactions.
    ctx = client.app[JOBS]
    ctx.settings = dataclasses.replace(
        ctx.settings, jobs=dataclasses.replace(ctx.settings.jobs, max_active_per_user=3, one_active_per_node=False)
    )
    bob_dataset = await upload_csv(client, people.bob)
    posts = [(people.alice, _body(dataset_id)) for _ in range(5)] + [(people.bob, _body(bob_dataset)) for _ in range(5)]
    responses = await asyncio.gather(
        *(client.post(f"{API}/training-jobs", json=body, headers=who.headers) for who, body in posts)
    )
    outcomes = [r.status if r.status == 202 else (await r.json())["error"]["code"] for r in responses]
    refused = ["too_many_active_jobs"] * 2
    assert sorted(map(str, outcomes[:5])) == sorted(map(str, outcomes[5:])) == ["202"] * 3 + refused
    created = [await r.json() for r in responses if r.status == 202]
    assert len({job["id"] for job in created}) == 6
    for who in (people.alice, people.bob):
        listing = await (await client.get(f"{API}/users/me/training-jobs", headers=who.headers)).json()
        mine = {job["id"] for job in created if job["user_id"] == who.id}
        assert {job["id"] for job in listing["items"]} == mine
        for job_id in mine:
            trail = await (await client.get(f"{API}/training-jobs/{job_id}/events", headers=who.headers)).json()
            assert [e["status"] for e in trail["events"]] == ["queued"]

    # One node, one active job: of three concurrent submissions to a fresh node, one wins.
    ctx.settings = dataclasses.replace(
        ctx.settings, jobs=dataclasses.replace(ctx.settings.jobs, max_active_per_user=20, one_active_per_node=True)
    )
    fresh = _body(dataset_id, graph=graph(("train-2",)), node_id="train-2")
    responses = await asyncio.gather(
        *(client.post(f"{API}/training-jobs", json=fresh, headers=people.alice.headers) for _ in range(3))
    )
    assert sorted(r.status for r in responses) == [202, 409, 409]
    (winner,) = [await r.json() for r in responses if r.status == 202]
    for r in responses:
        if r.status == 409:
            assert (await r.json())["error"]["details"]["active_job_id"] == winner["id"]
