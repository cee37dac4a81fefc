"""One ownership rule everywhere: another user's object is a 404; admins read everything and write only their own.

Reads (GET) are scoped to the caller's rows except for admins; writes (every other method)
are scoped to the caller's rows for everyone, admins included (docs/security.md section 1).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.app import OPERATIONS
from store.settings import Settings
from tests.server.conftest import API, People, Person
from tests.server.seed import (
    SAMPLE_REPORT,
    add_job,
    add_predictions_job,
    add_validation_job,
    graph,
    save_pipeline,
    upload_csv,
    validation_graph,
)


@dataclasses.dataclass(frozen=True)
class AliceObjects:
    dataset_id: str
    pipeline_id: str
    done_job: str
    queued_job: str
    validation_job: str
    predictions_job: str


@pytest.fixture
async def alices(client: TestClient[Any, Any], people: People, settings: Settings) -> AliceObjects:
    dataset_id = await upload_csv(client, people.alice)
    pipeline_id = await save_pipeline(client, people.alice, dataset_id, graph(("train-1", "train-2")))
    done, _ = await add_job(
        settings,
        people.alice,
        pipeline_id,
        "train-1",
        dataset_id,
        status="succeeded",
        metrics={"test": {"accuracy": 0.8}},
    )
    queued, _ = await add_job(settings, people.alice, pipeline_id, "train-2", dataset_id)
    champion = f"{API}/pipelines/{pipeline_id}/nodes/train-1/aliases/champion"
    assert (await client.post(champion, json={"version": 1}, headers=people.alice.headers)).status == 200
    validation = await add_validation_job(settings, people.alice, pipeline_id, dataset_id, SAMPLE_REPORT)
    predicted = await add_predictions_job(settings, people.alice, pipeline_id, "train-1", dataset_id)
    return AliceObjects(dataset_id, pipeline_id, done, queued, validation, predicted)


def _requests(o: AliceObjects) -> list[tuple[str, str, dict[str, Any] | None, int]]:
    """Every route with an id: (method, path, body, the owner's status)."""
    versions = f"/pipelines/{o.pipeline_id}/nodes/train-1/versions"
    aliases = f"/pipelines/{o.pipeline_id}/nodes/train-1/aliases"
    submit = {"dataset_source_id": o.dataset_id, "node_id": "train-1", "graph": graph(("train-1", "train-2"))}
    validate = {"dataset_source_id": o.dataset_id, "node_id": "val-1",
                "graph": validation_graph(("train-1", "train-2"))}
    return [
        ("GET", f"/training-jobs/{o.validation_job}/report", None, 200),
        ("GET", f"/training-jobs/{o.validation_job}/report.html", None, 200),
        ("POST", "/training-jobs", validate, 202),
        ("GET", f"/training-jobs/{o.done_job}", None, 200),
        ("GET", f"/training-jobs/{o.done_job}/events", None, 200),
        ("GET", f"/training-jobs/{o.done_job}/artifact", None, 200),
        ("GET", f"/training-jobs/{o.done_job}/model-card", None, 200),
        ("GET", f"/training-jobs/{o.done_job}/insights", None, 200),
        ("GET", f"/training-jobs/{o.predictions_job}/predictions", None, 200),
        ("POST", f"{versions}/1/predictions", {"dataset_id": o.dataset_id}, 202),
        ("POST", f"{versions}/champion/predictions", {"dataset_id": o.dataset_id, "format": "parquet"}, 202),
        ("POST", f"/training-jobs/{o.queued_job}/cancel", None, 202),
        ("GET", f"/pipelines/{o.pipeline_id}", None, 200),
        ("PUT", "/pipelines", {"dataset_source_id": o.dataset_id, "graph": graph(("train-1", "train-2"))}, 200),
        ("GET", f"/datasets/{o.dataset_id}", None, 200),
        ("GET", versions, None, 200),
        ("GET", f"{versions}/compare?a=1&b=1", None, 200),
        ("POST", f"{versions}/1/promote", None, 200),
        ("GET", f"{aliases}", None, 200),
        ("GET", f"{aliases}/champion", None, 200),
        ("GET", f"{aliases}/champion/history", None, 200),
        ("POST", f"{aliases}/challenger", {"version": 1}, 200),
        ("POST", f"{aliases}/champion", {"version": "challenger"}, 200),
        ("DELETE", f"{aliases}/challenger", None, 200),
        ("POST", "/training-jobs", submit, 202),
        ("PATCH", f"/pipelines/{o.pipeline_id}", {"name": "renamed"}, 200),
        ("POST", f"/pipelines/{o.pipeline_id}/duplicate", {}, 201),
        # Deletion: the owner gets through to the rules (409: pipelines on the dataset, an alias (`champion`,
        # `active`), a version, an active job).
        ("DELETE", f"/datasets/{o.dataset_id}", None, 409),
        ("DELETE", f"{versions}/1", None, 409),
        ("DELETE", f"/training-jobs/{o.done_job}", None, 409),
        ("DELETE", f"/pipelines/{o.pipeline_id}", None, 409),
    ]


def test_the_matrix_holds_every_route_with_an_id() -> None:
    """A route added later (with a path id) fails here until it has its row in :func:`_requests`."""
    o = AliceObjects("dataset-1", "pipeline-1", "done-1", "queued-1", "validation-1", "predictions-1")
    rows = [(method, path.split("?", 1)[0]) for method, path, _, _ in _requests(o)]
    missing = []
    for op in OPERATIONS:
        if "{" not in op.path or op.path.startswith("/admin/"):
            continue  # no id to guess; /admin/... are the admins' own (docs/security.md section 1)
        pattern = re.compile("^" + re.sub(r"\\{[a-z_]+\\}", "[^/]+", re.escape(op.path)) + "$")
        if not any(method == op.method and pattern.match(path) for method, path in rows):
            missing.append(f"{op.method} {op.path}")
    assert missing == []


def _admin_status(method: str, owner_status: int) -> int:
    return owner_status if method == "GET" else 404


async def _call(client: TestClient[Any, Any], who: Person, method: str, path: str, body: Any) -> int:
    resp = await client.request(method, API + path, json=body, headers=who.headers)
    if resp.status >= 400:
        assert set((await resp.json())["error"]) == {"code", "message", "details"}
    return resp.status


async def test_another_user_gets_404_and_an_admin_reads_but_never_writes_on_every_route_with_an_id(
    client: TestClient[Any, Any], people: People, alices: AliceObjects
) -> None:
    for method, path, body, owner_status in _requests(alices):
        assert await _call(client, people.bob, method, path, body) == 404, (method, path)
        assert await _call(client, people.admin, method, path, body) == _admin_status(method, owner_status), (
            method,
            path,
        )


async def test_an_admin_write_on_another_users_object_creates_nothing_and_says_why(
    client: TestClient[Any, Any], people: People, alices: AliceObjects, settings: Settings
) -> None:
    _, second = await add_job(
        settings, people.alice, alices.pipeline_id, "train-1", alices.dataset_id, status="succeeded"
    )
    assert second == 2
    submit = {"dataset_source_id": alices.dataset_id, "node_id": "train-1", "graph": graph(("train-1", "train-2"))}
    resp = await client.post(f"{API}/training-jobs", json=submit, headers=people.admin.headers)
    assert resp.status == 404
    error = (await resp.json())["error"]
    assert "admins read every user's objects but write only their own" in error["message"]
    assert error["details"]["rule"] == "admins_write_own_objects"
    jobs = await (await client.get(f"{API}/training-jobs", headers=people.admin.headers)).json()
    # alice's two succeeded jobs, her queued one, her validation and her predictions job; no admin's
    assert len(jobs["items"]) == 5
    versions = f"{API}/pipelines/{alices.pipeline_id}/nodes/train-1/versions"
    before = (await (await client.get(versions, headers=people.alice.headers)).json())["active_version"]
    resp = await client.post(f"{versions}/2/promote", headers=people.admin.headers)
    assert resp.status == 404
    after = (await (await client.get(versions, headers=people.alice.headers)).json())["active_version"]
    assert after == before != 2  # the admin's promote did not move alice's alias
    aliases = f"{API}/pipelines/{alices.pipeline_id}/nodes/train-1/aliases"
    history = (await (await client.get(f"{aliases}/champion/history", headers=people.alice.headers)).json())["items"]
    for method, body in (("POST", {"version": 2}), ("DELETE", None)):
        resp = await client.request(method, f"{aliases}/champion", json=body, headers=people.admin.headers)
        assert resp.status == 404
        assert (await resp.json())["error"]["details"]["rule"] == "admins_write_own_objects"
    resp = await client.get(f"{aliases}/champion/history", headers=people.alice.headers)
    assert (await resp.json())["items"] == history  # neither moved nor removed champion, nor wrote history


async def test_the_owner_gets_through_on_every_route_with_an_id(
    client: TestClient[Any, Any], people: People, alices: AliceObjects
) -> None:
    for method, path, body, status in _requests(alices):
        assert await _call(client, people.alice, method, path, body) == status, (method, path)


async def test_listings_never_show_another_users_objects(
    client: TestClient[Any, Any], people: People, alices: AliceObjects
) -> None:
    for path in (
        "/training-jobs",
        f"/training-jobs?pipeline_id={alices.pipeline_id}",
        "/users/me/training-jobs",
        "/datasets",
    ):
        resp = await client.get(API + path, headers=people.bob.headers)
        assert resp.status == 200
        assert (await resp.json())["items"] == [], path
        resp = await client.get(API + path, headers=people.alice.headers)
        assert (await resp.json())["items"], path
    resp = await client.get(f"{API}/training-jobs", headers=people.admin.headers)
    assert {j["id"] for j in (await resp.json())["items"]} == {alices.done_job, alices.queued_job,
                                                               alices.validation_job, alices.predictions_job}


async def test_saving_over_another_users_pipeline_reports_none_of_their_jobs(
    client: TestClient[Any, Any], people: People, alices: AliceObjects
) -> None:
    bobs_dataset = await upload_csv(client, people.bob)
    body = {"dataset_source_id": bobs_dataset, "graph": graph(), "previous_pipeline_id": alices.pipeline_id}
    resp = await client.put(f"{API}/pipelines", json=body, headers=people.bob.headers)
    assert resp.status == 201
    assert (await resp.json())["active_jobs_on_previous"] == []


async def test_a_validation_on_ones_own_model_never_reads_another_users_dataset(
    client: TestClient[Any, Any], people: People, alices: AliceObjects
) -> None:
    bobs = await upload_csv(client, people.bob)
    graph_ = validation_graph(("train-1", "train-2"))
    body = {"dataset_source_id": alices.dataset_id, "node_id": "val-1", "graph": graph_,
            "config": {"versions": "1", "dataset_source_id": bobs}}
    before = (await (await client.get(f"{API}/users/me/training-jobs", headers=people.alice.headers)).json())["items"]
    resp = await client.post(f"{API}/training-jobs", json=body, headers=people.alice.headers)
    assert resp.status == 404, await resp.text()
    error = (await resp.json())["error"]
    assert error["details"]["kind"] == "dataset" and bobs in error["message"]  # bob's dataset looks missing
    after = (await (await client.get(f"{API}/users/me/training-jobs", headers=people.alice.headers)).json())["items"]
    assert after == before
