"""Batch predictions over REST: submitting for a version or an alias, refusals, the download."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from store.settings import Settings
from tests.server.conftest import API, People
from tests.server.seed import add_job, add_predictions_job, graph, save_pipeline, upload_csv


@pytest.fixture
async def trained(client: TestClient[Any, Any], people: People, settings: Settings) -> tuple[str, str, str]:
    """alice's dataset, pipeline and the done training job that made version 1 of ``train-1``."""
    dataset_id = await upload_csv(client, people.alice)
    pipeline_id = await save_pipeline(client, people.alice, dataset_id, graph(("train-1",)))
    done, _ = await add_job(settings, people.alice, pipeline_id, "train-1", dataset_id, status="succeeded")
    return dataset_id, pipeline_id, done


def _url(pipeline_id: str, version: str) -> str:
    return f"{API}/pipelines/{pipeline_id}/nodes/train-1/versions/{version}/predictions"


async def test_a_submission_by_number_or_alias_answers_a_queued_predictions_job_pinned_to_the_version(
    client: TestClient[Any, Any], people: People, trained: tuple[str, str, str]
) -> None:
    dataset_id, pipeline_id, _ = trained
    for version in ("1", "active"):
        resp = await client.post(_url(pipeline_id, version), json={"dataset_id": dataset_id, "format": "parquet"},
                                 headers=people.alice.headers)
        assert resp.status == 202, await resp.text()
        job = await resp.json()
        assert (job["kind"], job["status"], job["node_id"]) == ("predictions", "queued", "train-1")
        assert job["config"]["version"] == 1 and job["config"]["format"] == "parquet"


@pytest.mark.parametrize(("version", "body", "status", "code_or_field"), [
    ("0", {}, 422, "version"),
    ("1", {"format": "xlsx"}, 422, "format"),
    ("1", {"dataset_id": ""}, 422, "dataset_id"),
    ("1", {"extra": 1}, 422, "extra"),
    ("9", {}, 404, "not_found"),
    ("champion", {}, 404, "not_found"),
])
async def test_bad_submissions_are_refused_naming_the_field(
    client: TestClient[Any, Any], people: People, trained: tuple[str, str, str], version: str,
    body: dict[str, Any], status: int, code_or_field: str,
) -> None:
    dataset_id, pipeline_id, _ = trained
    resp = await client.post(_url(pipeline_id, version), json={"dataset_id": dataset_id, **body},
                             headers=people.alice.headers)
    assert resp.status == status
    error = (await resp.json())["error"]
    assert code_or_field in (error["code"], error["details"].get("field"), *error["message"].split(":"))


async def test_another_users_dataset_is_not_found_for_a_submission(
    client: TestClient[Any, Any], people: People, trained: tuple[str, str, str]
) -> None:
    _, pipeline_id, _ = trained
    bobs = await upload_csv(client, people.bob)
    resp = await client.post(_url(pipeline_id, "1"), json={"dataset_id": bobs}, headers=people.alice.headers)
    assert resp.status == 404


async def test_the_output_downloads_for_a_predictions_job_only(
    client: TestClient[Any, Any], people: People, settings: Settings, trained: tuple[str, str, str]
) -> None:
    dataset_id, pipeline_id, done = trained
    job = await add_predictions_job(settings, people.alice, pipeline_id, "train-1", dataset_id)

    resp = await client.get(f"{API}/training-jobs/{job}/predictions", headers=people.alice.headers)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert f'filename="{job}.predictions.csv"' in resp.headers["Content-Disposition"]
    assert (await resp.text()).startswith("sepal,petal,prediction")

    resp = await client.get(f"{API}/training-jobs/{done}/predictions", headers=people.alice.headers)
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "no_predictions"
    for route in ("artifact", "model-card"):
        resp = await client.get(f"{API}/training-jobs/{job}/{route}", headers=people.alice.headers)
        assert resp.status == 404 and (await resp.json())["error"]["code"] == "no_artifact", route
