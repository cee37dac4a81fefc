"""Saving pipelines (id derived from dataset and graph hash) and hydrating the canvas."""

from __future__ import annotations

import copy
import io
from typing import Any

from aiohttp.test_utils import TestClient

from server.schemas.pipelines import PipelineHydrated, PipelineSaved
from store.graph_hash import graph_hash, pipeline_id_for
from store.settings import Settings
from tests.server.conftest import API, People
from tests.server.seed import add_job, graph, upload_csv


async def _put(client: TestClient[Any, Any], headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
    resp = await client.put(f"{API}/pipelines", json=body, headers=headers)
    return resp.status, await resp.json()


async def test_a_first_save_is_201_and_the_id_is_dataset_plus_graph_hash(
    client: TestClient[Any, Any], people: People
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    g = graph()
    status, body = await _put(client, people.alice.headers, {"dataset_source_id": dataset_id, "graph": g})
    assert status == 201
    saved = PipelineSaved.model_validate(body)
    assert saved.created is True
    assert saved.pipeline.pipeline_id == pipeline_id_for(dataset_id, graph_hash(g))
    assert saved.pipeline.graph == g

    moved = copy.deepcopy(g)
    moved["nodes"][2]["position"] = {"x": 999, "y": 1}
    moved["nodes"][2]["data"]["config"]["hyperparameters"] = {"C": 0.5}
    status, body = await _put(
        client,
        people.alice.headers,
        {"dataset_source_id": dataset_id, "graph": moved, "previous_pipeline_id": saved.pipeline.pipeline_id},
    )
    assert status == 200
    assert body["created"] is False
    assert body["id_changed"] is False
    assert body["pipeline"]["graph"]["nodes"][2]["position"] == {"x": 999, "y": 1}


async def test_a_data_path_change_reports_the_new_id_and_the_jobs_left_on_the_old_one(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    _, first = await _put(client, people.alice.headers, {"dataset_source_id": dataset_id, "graph": graph()})
    old_id = first["pipeline"]["pipeline_id"]
    running, _ = await add_job(settings, people.alice, old_id, "train-1", dataset_id, status="running")
    await add_job(settings, people.alice, old_id, "train-1", dataset_id, status="failed")

    status, body = await _put(
        client,
        people.alice.headers,
        {"dataset_source_id": dataset_id, "graph": graph(split_size=0.4), "previous_pipeline_id": old_id},
    )
    assert status == 201
    assert body["id_changed"] is True
    assert body["previous_pipeline_id"] == old_id
    assert body["pipeline"]["pipeline_id"] != old_id
    assert [j["id"] for j in body["active_jobs_on_previous"]] == [running]


async def test_hydration_returns_the_latest_job_per_training_node_and_orphans_apart(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    g = graph(("train-1", "train-2"))
    _, saved = await _put(client, people.alice.headers, {"dataset_source_id": dataset_id, "graph": g})
    pid = saved["pipeline"]["pipeline_id"]
    await add_job(settings, people.alice, pid, "train-1", dataset_id, status="failed")
    latest_1, _ = await add_job(settings, people.alice, pid, "train-1", dataset_id, status="running")
    latest_2, _ = await add_job(settings, people.alice, pid, "train-2", dataset_id)
    orphan, _ = await add_job(settings, people.alice, pid, "train-gone", dataset_id, status="cancelled")

    resp = await client.get(f"{API}/pipelines/{pid}", headers=people.alice.headers)
    assert resp.status == 200
    body = PipelineHydrated.model_validate(await resp.json())
    assert body.pipeline.graph == g
    assert {(j.node_id, j.id) for j in body.jobs} == {("train-1", latest_1), ("train-2", latest_2)}
    assert [j.id for j in body.orphan_jobs] == [orphan]


async def test_jobs_of_a_deleted_training_node_are_orphans_of_the_pipeline_that_replaced_it(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    _, first = await _put(client, people.alice.headers, {"dataset_source_id": dataset_id, "graph": graph(("t1", "t2"))})
    first_id = first["pipeline"]["pipeline_id"]
    await add_job(settings, people.alice, first_id, "t2", dataset_id, status="failed")
    gone, _ = await add_job(settings, people.alice, first_id, "t2", dataset_id, status="succeeded")
    kept, _ = await add_job(settings, people.alice, first_id, "t1", dataset_id, status="succeeded")
    # The canvas deletes t2 (a new id), then changes the split (another one).
    _, second = await _put(
        client,
        people.alice.headers,
        {"dataset_source_id": dataset_id, "graph": graph(("t1",)), "previous_pipeline_id": first_id},
    )
    second_id = second["pipeline"]["pipeline_id"]
    _, third = await _put(
        client,
        people.alice.headers,
        {"dataset_source_id": dataset_id, "graph": graph(("t1",), split_size=0.3), "previous_pipeline_id": second_id},
    )
    third_id = third["pipeline"]["pipeline_id"]
    assert len({first_id, second_id, third_id}) == 3
    for pid in (second_id, third_id):
        body = await (await client.get(f"{API}/pipelines/{pid}", headers=people.alice.headers)).json()
        assert [(j["node_id"], j["id"]) for j in body["orphan_jobs"]] == [("t2", gone)]
        assert kept not in [j["id"] for j in body["orphan_jobs"]]
    # Going back to the first graph: it lists its own nodes' jobs, and no orphans.
    _, back = await _put(
        client,
        people.alice.headers,
        {"dataset_source_id": dataset_id, "graph": graph(("t1", "t2")), "previous_pipeline_id": third_id},
    )
    assert back["pipeline"]["pipeline_id"] == first_id
    body = await (await client.get(f"{API}/pipelines/{first_id}", headers=people.alice.headers)).json()
    assert body["orphan_jobs"] == [] and {j["id"] for j in body["jobs"]} == {gone, kept}


async def test_a_previous_pipeline_of_another_user_never_lends_its_jobs(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    bob_dataset = await upload_csv(client, people.bob)
    _, bobs = await _put(client, people.bob.headers, {"dataset_source_id": bob_dataset, "graph": graph(("t9",))})
    await add_job(settings, people.bob, bobs["pipeline"]["pipeline_id"], "t9", bob_dataset, status="succeeded")
    dataset_id = await upload_csv(client, people.alice)
    body = {"dataset_source_id": dataset_id, "graph": graph(), "previous_pipeline_id": bobs["pipeline"]["pipeline_id"]}
    _, saved = await _put(client, people.alice.headers, body)
    hydrated = await (
        await client.get(f"{API}/pipelines/{saved['pipeline']['pipeline_id']}", headers=people.alice.headers)
    ).json()
    assert hydrated["orphan_jobs"] == []


async def test_a_submission_from_a_stale_pipeline_id_links_the_new_pipeline_to_it(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    _, first = await _put(client, people.alice.headers, {"dataset_source_id": dataset_id, "graph": graph(("t1", "t2"))})
    first_id = first["pipeline"]["pipeline_id"]
    gone, _ = await add_job(settings, people.alice, first_id, "t2", dataset_id, status="failed")
    submit = {"dataset_source_id": dataset_id, "node_id": "t1", "graph": graph(("t1",)), "pipeline_id": first_id}
    resp = await client.post(f"{API}/training-jobs", json=submit, headers=people.alice.headers)
    assert resp.status == 202, await resp.text()
    new_id = (await resp.json())["pipeline_id"]
    body = await (await client.get(f"{API}/pipelines/{new_id}", headers=people.alice.headers)).json()
    assert [j["id"] for j in body["orphan_jobs"]] == [gone]


async def test_saving_needs_a_visible_dataset_and_a_well_formed_body(
    client: TestClient[Any, Any], people: People
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    status, body = await _put(client, people.bob.headers, {"dataset_source_id": dataset_id, "graph": graph()})
    assert status == 404
    status, body = await _put(client, people.alice.headers, {"dataset_source_id": dataset_id, "graph": graph(), "x": 1})
    assert status == 422
    assert body["error"]["details"]["field"] == "x"
    bad = graph()
    bad["nodes"][0]["colour"] = "red"
    status, body = await _put(client, people.alice.headers, {"dataset_source_id": dataset_id, "graph": bad})
    assert status == 422
    assert body["error"]["details"]["field"] == "graph.nodes.0.colour"
    dup = graph()
    dup["nodes"].append(copy.deepcopy(dup["nodes"][0]))
    status, body = await _put(client, people.alice.headers, {"dataset_source_id": dataset_id, "graph": dup})
    assert status == 422
    assert body["error"]["details"]["field"] == "graph.nodes[3].id"


async def test_a_body_that_is_not_json_is_400_and_one_over_the_limit_is_413(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    headers = {**people.alice.headers, "Content-Type": "application/json"}
    resp = await client.put(f"{API}/pipelines", data=b"{not json", headers=headers)
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "bad_request"
    resp = await client.put(f"{API}/pipelines", data=b"", headers=headers)
    assert resp.status == 400
    huge = io.BytesIO(b'{"graph": "' + b"x" * (settings.server.max_body_mb * 1024 * 1024 + 10) + b'"}')
    resp = await client.put(f"{API}/pipelines", data=huge, headers=headers)
    assert resp.status == 413
    assert (await resp.json())["error"]["code"] == "payload_too_large"


async def test_an_unknown_pipeline_is_404(client: TestClient[Any, Any], people: People) -> None:
    resp = await client.get(f"{API}/pipelines/nope_123", headers=people.alice.headers)
    assert resp.status == 404
