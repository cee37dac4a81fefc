"""The pipeline browser: listing (owner-scoped, cursor-paged), rename, duplicate, the example."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from server.schemas.pipelines import PipelinePage, PipelineSaved
from store.settings import Settings
from tests.server.conftest import API, People
from tests.server.seed import add_job, graph, save_pipeline, upload_csv


async def _list(client: TestClient[Any, Any], headers: dict[str, str], **params: str) -> PipelinePage:
    resp = await client.get(f"{API}/pipelines", params=params, headers=headers)
    assert resp.status == 200, await resp.text()
    return PipelinePage.model_validate(await resp.json())


async def test_the_list_is_owner_scoped_newest_change_first_and_pages_with_a_cursor(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    dataset_id = await upload_csv(client, people.alice, name="iris.csv")
    ids = [await save_pipeline(client, people.alice, dataset_id, graph(split_size=s)) for s in (0.2, 0.3, 0.4)]
    await add_job(settings, people.alice, ids[0], "train-1", dataset_id, status="succeeded")
    bob_dataset = await upload_csv(client, people.bob)
    await save_pipeline(client, people.bob, bob_dataset, graph())

    first = await _list(client, people.alice.headers, limit="2")
    assert [p.pipeline_id for p in first.items] == [ids[2], ids[1]]
    assert first.items[0].dataset_name == "iris.csv" and first.items[0].node_count == 3
    assert first.items[0].last_job_status is None and first.next_cursor is not None
    second = await _list(client, people.alice.headers, limit="2", cursor=first.next_cursor)
    assert [p.pipeline_id for p in second.items] == [ids[0]]
    assert second.items[0].last_job_status == "succeeded" and second.next_cursor is None
    assert len((await _list(client, people.bob.headers)).items) == 1

    resp = await client.get(f"{API}/pipelines", params={"cursor": "nonsense"}, headers=people.alice.headers)
    assert resp.status == 422 and (await resp.json())["error"]["details"]["field"] == "cursor"
    resp = await client.get(f"{API}/pipelines", params={"limit": "0"}, headers=people.alice.headers)
    assert resp.status == 422 and (await resp.json())["error"]["details"]["field"] == "limit"


async def test_a_rename_keeps_the_id_survives_a_data_path_change_and_is_searchable(
    client: TestClient[Any, Any], people: People
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    pid = await save_pipeline(client, people.alice, dataset_id, graph())
    resp = await client.patch(f"{API}/pipelines/{pid}", json={"name": "  Churn model  "}, headers=people.alice.headers)
    assert resp.status == 200
    assert PipelineSaved.model_validate(await resp.json()).pipeline.name == "Churn model"
    assert [p.name for p in (await _list(client, people.alice.headers, q="churn")).items] == ["Churn model"]
    assert (await _list(client, people.alice.headers, q="nothing-like-it")).items == []

    body = {"dataset_source_id": dataset_id, "graph": graph(split_size=0.4), "previous_pipeline_id": pid}
    resp = await client.put(f"{API}/pipelines", json=body, headers=people.alice.headers)
    moved = await resp.json()
    assert moved["id_changed"] is True and moved["pipeline"]["name"] == "Churn model"

    for bad in ({"name": "   "}, {"name": "x" * 201}, {"name": "a\u0007b"}, {"title": "x"}, {}):
        resp = await client.patch(f"{API}/pipelines/{pid}", json=bad, headers=people.alice.headers)
        assert resp.status == 422, bad
    resp = await client.patch(f"{API}/pipelines/{pid}", json={"name": "mine"}, headers=people.bob.headers)
    assert resp.status == 404


async def test_a_duplicate_gets_a_new_id_and_name_and_keeps_labels_and_configs(
    client: TestClient[Any, Any], people: People
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    original = graph()
    pid = await save_pipeline(client, people.alice, dataset_id, original)
    await client.patch(f"{API}/pipelines/{pid}", json={"name": "Base"}, headers=people.alice.headers)
    resp = await client.post(f"{API}/pipelines/{pid}/duplicate", json={}, headers=people.alice.headers)
    assert resp.status == 201
    copy = PipelineSaved.model_validate(await resp.json()).pipeline
    assert copy.pipeline_id != pid and copy.name == "Base (copy)"
    labels = [n["data"].get("label") for n in copy.graph["nodes"]]
    assert labels == [n["data"].get("label") for n in original["nodes"]]
    assert [n["data"]["config"] for n in copy.graph["nodes"]] == [n["data"]["config"] for n in original["nodes"]]
    assert all(e["source"] in {n["id"] for n in copy.graph["nodes"]} for e in copy.graph["edges"])
    again = await client.post(f"{API}/pipelines/{pid}/duplicate", json={"name": "Third"}, headers=people.alice.headers)
    third = (await again.json())["pipeline"]
    assert third["pipeline_id"] not in (pid, copy.pipeline_id) and third["name"] == "Third"
    resp = await client.post(f"{API}/pipelines/{pid}/duplicate", json={}, headers=people.bob.headers)
    assert resp.status == 404


async def test_the_example_is_created_once_per_user(client: TestClient[Any, Any], people: People) -> None:
    resp = await client.post(f"{API}/pipelines/example", json={}, headers=people.alice.headers)
    assert resp.status == 200
    example = PipelineSaved.model_validate(await resp.json()).pipeline
    assert example.name and "Example" in example.name
    assert {n["type"] for n in example.graph["nodes"]} >= {"dataset_source", "train_model"}
    again = await (await client.post(f"{API}/pipelines/example", json={}, headers=people.alice.headers)).json()
    assert again["pipeline"]["pipeline_id"] == example.pipeline_id
    bobs = await (await client.post(f"{API}/pipelines/example", json={}, headers=people.bob.headers)).json()
    assert bobs["pipeline"]["pipeline_id"] != example.pipeline_id
    assert len((await _list(client, people.alice.headers)).items) == 1


async def test_users_me_names_the_tokens_owner(client: TestClient[Any, Any], people: People) -> None:
    resp = await client.get(f"{API}/users/me", headers=people.alice.headers)
    assert resp.status == 200
    body = await resp.json()
    assert (body["name"], body["is_admin"], body["id"]) == ("alice", False, people.alice.id)
    assert (await client.get(f"{API}/users/me")).status == 401


async def test_a_draft_replaced_by_a_later_save_is_left_out_unless_it_has_jobs(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    headers = people.alice.headers

    async def put(split: float, previous: str | None) -> str:
        body: dict[str, Any] = {"dataset_source_id": dataset_id, "graph": graph(split_size=split)}
        if previous:
            body["previous_pipeline_id"] = previous
        resp = await client.put(f"{API}/pipelines", json=body, headers=headers)
        return str((await resp.json())["pipeline"]["pipeline_id"])

    draft = await put(0.2, None)
    trained = await put(0.3, draft)
    await add_job(settings, people.alice, trained, "train-1", dataset_id, status="succeeded")
    latest = await put(0.4, trained)
    listed = [p.pipeline_id for p in (await _list(client, headers)).items]
    assert listed == [latest, trained]  # the draft without jobs is gone; the one with a job stays
    everything = [p.pipeline_id for p in (await _list(client, headers, include_replaced="true")).items]
    assert everything == [latest, trained, draft]
