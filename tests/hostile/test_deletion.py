"""DELETE of pipelines, training jobs and model versions: owner-scoped, refused while in use, files removed."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from store.settings import Settings
from tests.server.conftest import API, People, Person
from tests.server.seed import add_job, graph, save_pipeline, upload_csv


async def _pipeline(client: TestClient[Any, Any], who: Person) -> tuple[str, str]:
    dataset_id = await upload_csv(client, who)
    return dataset_id, await save_pipeline(client, who, dataset_id, graph(("train-1", "train-2")))


async def _json(client: TestClient[Any, Any], method: str, path: str, who: Person, status: int) -> Any:
    resp = await client.request(method, API + path, headers=who.headers)
    body = await resp.json()
    assert resp.status == status, (method, path, body)
    return body


async def test_a_deleted_version_stays_in_the_history_loses_its_artifact_and_its_number_is_never_reused(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    alice = people.alice
    dataset_id, pid = await _pipeline(client, alice)
    done = "succeeded"
    job1, v1 = await add_job(settings, alice, pid, "train-1", dataset_id, status=done, metrics={"test": {"f1": 0.9}})
    _, v2 = await add_job(settings, alice, pid, "train-1", dataset_id, status=done, metrics={"test": {"f1": 0.5}})
    assert (v1, v2) == (1, 2)
    versions = f"/pipelines/{pid}/nodes/train-1/versions"
    artifact = settings.artifacts_root / f"uploads/models/{pid}/{job1}.joblib"
    assert artifact.is_file() and artifact.with_suffix(".card.json").is_file()
    await _json(client, "POST", f"{versions}/1/promote", alice, 200)

    refused = await _json(client, "DELETE", f"{versions}/1", alice, 409)
    assert refused["error"]["code"] == "alias_points_here" and refused["error"]["details"]["aliases"] == ["active"]
    await _json(client, "POST", f"{versions}/2/promote", alice, 200)
    done = await _json(client, "DELETE", f"{versions}/1", alice, 200)
    assert done == {"deleted": "model_version", "id": f"{pid}/train-1/v1", "artifacts_removed": 1}
    assert not artifact.exists() and not artifact.with_suffix(".card.json").exists()

    listing = await _json(client, "GET", versions, alice, 200)
    assert [(v["version"], v["deleted_at"] is not None) for v in listing["items"]] == [(2, False), (1, True)]
    best = await _json(client, "GET", f"{versions}?order_by=f1", alice, 200)
    assert [v["version"] for v in best["items"]] == [2]  # the deleted v1 (f1 0.9) is never the best model
    promote = await _json(client, "POST", f"{versions}/1/promote", alice, 409)
    assert promote["error"]["code"] == "version_deleted"
    await _json(client, "DELETE", f"{versions}/1", alice, 404)
    assert (await _json(client, "GET", f"/training-jobs/{job1}/artifact", alice, 404))["error"]["code"]
    await _json(client, "GET", f"{versions}/compare?a=1&b=2", alice, 200)  # the history stays readable

    _, v3 = await add_job(settings, alice, pid, "train-1", dataset_id, status="succeeded")
    assert v3 == 3


async def test_a_job_is_deleted_with_its_events_and_files_unless_it_is_active_or_made_a_version(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    alice = people.alice
    dataset_id, pid = await _pipeline(client, alice)
    failed, _ = await add_job(settings, alice, pid, "train-1", dataset_id, status="failed")
    queued, _ = await add_job(settings, alice, pid, "train-2", dataset_id)
    succeeded, _ = await add_job(settings, alice, pid, "train-1", dataset_id, status="succeeded")
    leftover = settings.artifacts_root / f"uploads/models/{pid}/{failed}.attempt2.joblib"
    leftover.write_bytes(b"a lost attempt's model")

    assert (await _json(client, "DELETE", f"/training-jobs/{queued}", alice, 409))["error"]["code"] == "active_job"
    made = await _json(client, "DELETE", f"/training-jobs/{succeeded}", alice, 409)
    assert made["error"]["code"] == "job_has_version" and made["error"]["details"]["version"] == 1
    await _json(client, "DELETE", f"/training-jobs/{failed}", people.bob, 404)
    done = await _json(client, "DELETE", f"/training-jobs/{failed}", alice, 200)
    assert done == {"deleted": "training_job", "id": failed, "artifacts_removed": 1}
    assert not leftover.exists()
    await _json(client, "GET", f"/training-jobs/{failed}", alice, 404)
    await _json(client, "GET", f"/training-jobs/{failed}/events", alice, 404)
    await _json(client, "DELETE", f"/training-jobs/{failed}", alice, 404)
    await _json(client, "GET", f"/training-jobs/{succeeded}", alice, 200)


async def test_a_pipeline_is_deleted_with_everything_under_it_once_no_job_is_active(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    alice = people.alice
    dataset_id, pid = await _pipeline(client, alice)
    other_dataset, other_pid = await _pipeline(client, alice)
    done, _ = await add_job(settings, alice, pid, "train-1", dataset_id, status="succeeded")
    queued, _ = await add_job(settings, alice, pid, "train-2", dataset_id)
    kept, _ = await add_job(settings, alice, other_pid, "train-1", other_dataset, status="succeeded")
    folder = settings.artifacts_root / f"uploads/models/{pid}"
    await _json(client, "POST", f"/pipelines/{pid}/nodes/train-1/versions/1/promote", alice, 200)

    refused = await _json(client, "DELETE", f"/pipelines/{pid}", alice, 409)
    assert refused["error"]["code"] == "active_job" and refused["error"]["details"]["active_jobs"] == 1
    await _json(client, "DELETE", f"/pipelines/{pid}", people.bob, 404)
    await _json(client, "DELETE", f"/pipelines/{pid}", people.admin, 404)
    await _json(client, "POST", f"/training-jobs/{queued}/cancel", alice, 202)
    deleted = await _json(client, "DELETE", f"/pipelines/{pid}", alice, 200)
    assert deleted == {"deleted": "pipeline", "id": pid, "artifacts_removed": 1}
    assert not folder.exists()
    for path in (f"/pipelines/{pid}", f"/training-jobs/{done}", f"/training-jobs/{queued}",
                 f"/pipelines/{pid}/nodes/train-1/versions"):
        await _json(client, "GET", path, alice, 404)
    kept_artifact = await client.get(f"{API}/training-jobs/{kept}/artifact", headers=alice.headers)
    assert kept_artifact.status == 200  # another pipeline is untouched
    await _json(client, "GET", f"/datasets/{dataset_id}", alice, 200)


async def test_the_openapi_document_lists_the_delete_routes(client: TestClient[Any, Any], people: People) -> None:
    doc = await _json(client, "GET", "/openapi.json", people.alice, 200)
    for path in ("/pipelines/{pipeline_id}", "/training-jobs/{job_id}",
                 "/pipelines/{pipeline_id}/nodes/{node_id}/versions/{version}"):
        operation = doc["paths"][f"{API}{path}"]["delete"]
        assert {"200", "404", "409"} <= set(operation["responses"]), path
