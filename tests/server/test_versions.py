"""Model versions: listing, top-N by metric, comparison, promotion of the active alias."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.schemas.versions import CompareOut, PromoteOut, VersionsOut
from store.settings import Settings
from tests.server.conftest import API, People
from tests.server.seed import add_job, graph, save_pipeline, upload_csv

NODE = "train-1"


@pytest.fixture
async def versions_base(client: TestClient[Any, Any], people: People, settings: Settings) -> str:
    """Alice's node with three versions: accuracy 0.7, 0.9, 0.8 and C 1, 2, 2."""
    dataset_id = await upload_csv(client, people.alice)
    pid = await save_pipeline(client, people.alice, dataset_id, graph())
    for acc, c in ((0.7, 1.0), (0.9, 2.0), (0.8, 2.0)):
        metrics = {"train": {"accuracy": acc + 0.05}, "test": {"accuracy": acc, "log_loss": 1 - acc}}
        await add_job(
            settings,
            people.alice,
            pid,
            NODE,
            dataset_id,
            status="succeeded",
            metrics=metrics,
            hyperparameters={"C": c, "max_iter": 100},
        )
    return f"{API}/pipelines/{pid}/nodes/{NODE}/versions"


async def test_versions_list_newest_first_with_the_hand_off_object(
    client: TestClient[Any, Any], people: People, versions_base: str
) -> None:
    resp = await client.get(versions_base, headers=people.alice.headers)
    assert resp.status == 200
    body = VersionsOut.model_validate(await resp.json())
    assert [v.version for v in body.items] == [3, 2, 1]
    assert body.active_version == 1  # the first version became active by itself
    first = body.items[-1]
    assert first.output.model_dump() == {
        "job_id": first.job_id,
        "model_version": 1,
        "model_artifact_uri": first.artifact_uri,
    }


async def test_top_n_by_a_metric_sorts_in_its_right_direction(
    client: TestClient[Any, Any], people: People, versions_base: str
) -> None:
    async def order(order_by: str, limit: int = 50) -> list[int]:
        params = {"order_by": order_by, "limit": str(limit)}
        resp = await client.get(versions_base, params=params, headers=people.alice.headers)
        assert resp.status == 200, await resp.text()
        return [v["version"] for v in (await resp.json())["items"]]

    assert await order("accuracy", limit=2) == [2, 3]
    assert await order("log_loss") == [2, 3, 1]
    assert await order("train.accuracy") == [2, 3, 1]
    resp = await client.get(versions_base, params={"order_by": "speed"}, headers=people.alice.headers)
    assert resp.status == 422
    assert (await resp.json())["error"]["details"]["field"] == "order_by"


async def test_comparing_two_versions_shows_hyperparameter_and_metric_differences(
    client: TestClient[Any, Any], people: People, versions_base: str
) -> None:
    resp = await client.get(f"{versions_base}/compare", params={"a": "1", "b": "2"}, headers=people.alice.headers)
    assert resp.status == 200
    body = CompareOut.model_validate(await resp.json())
    assert body.hyperparameters["C"].model_dump() == {"a": 1.0, "b": 2.0}
    assert "max_iter" not in body.hyperparameters
    assert body.metrics["test"]["accuracy"].model_dump() == {"a": 0.7, "b": 0.9}
    resp = await client.get(f"{versions_base}/compare", params={"a": "1", "b": "9"}, headers=people.alice.headers)
    assert resp.status == 404
    resp = await client.get(f"{versions_base}/compare", params={"a": "1"}, headers=people.alice.headers)
    assert resp.status == 422
    assert (await resp.json())["error"]["details"]["field"] == "b"


async def test_promotion_moves_the_active_alias_and_remembers_the_previous_version(
    client: TestClient[Any, Any], people: People, versions_base: str
) -> None:
    resp = await client.post(f"{versions_base}/2/promote", headers=people.alice.headers)
    assert resp.status == 200
    first = PromoteOut.model_validate(await resp.json())
    assert (first.version, first.previous_version, first.updated_by) == (2, 1, "alice")

    resp = await client.post(f"{versions_base}/1/promote", headers=people.alice.headers)
    assert (await resp.json())["previous_version"] == 2
    listing = await (await client.get(versions_base, headers=people.alice.headers)).json()
    assert listing["active_version"] == 1
    assert {v["version"]: v["aliases"] for v in listing["items"]} == {3: [], 2: [], 1: ["active"]}


async def test_promoting_a_missing_or_malformed_version_is_404_or_422(
    client: TestClient[Any, Any], people: People, versions_base: str
) -> None:
    resp = await client.post(f"{versions_base}/7/promote", headers=people.alice.headers)
    assert resp.status == 404
    resp = await client.post(f"{versions_base}/first/promote", headers=people.alice.headers)
    assert resp.status == 422
    assert (await resp.json())["error"]["details"]["field"] == "version"


@pytest.mark.parametrize("raw", ["%C2%B2", "%D9%A1", "%EF%BC%91", "+1", "1.0", "01x", "9" * 30])
async def test_a_version_written_other_than_in_ascii_digits_is_422_never_500_nor_read_as_a_number(
    client: TestClient[Any, Any], people: People, versions_base: str, raw: str
) -> None:
    resp = await client.post(f"{versions_base}/{raw}/promote", headers=people.alice.headers)
    assert resp.status == 422, await resp.text()
    error = (await resp.json())["error"]
    assert error["details"] == {"location": "path", "field": "version"}
    listing = await (await client.get(versions_base, headers=people.alice.headers)).json()
    assert listing["active_version"] == 1  # unmoved: the first version, active by itself


async def test_promote_refuses_unknown_body_fields_and_accepts_an_empty_body(
    client: TestClient[Any, Any], people: People, versions_base: str
) -> None:
    resp = await client.post(f"{versions_base}/2/promote", json={"version": 3}, headers=people.alice.headers)
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["error"]["details"]["field"] == "version"
    resp = await client.post(f"{versions_base}/2/promote", data=b"[1]", headers=people.alice.headers)
    assert resp.status == 422
    resp = await client.post(f"{versions_base}/2/promote", data=b"{", headers=people.alice.headers)
    assert resp.status == 400
    listing = await (await client.get(versions_base, headers=people.alice.headers)).json()
    assert listing["active_version"] == 1  # unmoved: the first version, active by itself
    resp = await client.post(f"{versions_base}/2/promote", json={}, headers=people.alice.headers)
    assert resp.status == 200
    resp = await client.post(f"{versions_base}/3/promote", headers=people.alice.headers)
    assert resp.status == 200 and (await resp.json())["previous_version"] == 2


async def test_versions_of_an_unknown_pipeline_are_404(client: TestClient[Any, Any], people: People) -> None:
    resp = await client.get(f"{API}/pipelines/nope/nodes/n/versions", headers=people.alice.headers)
    assert resp.status == 404
