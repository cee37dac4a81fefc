"""Reading training jobs: one job, listings with filters, sorts and cursors, events, artifacts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.schemas.jobs import EventsOut, JobOut, JobPage
from store.jobs import create_job
from store.settings import Settings
from tests.server.conftest import API, People, Person
from tests.server.seed import add_job, graph, save_pipeline, upload_csv, writer

NODE = "train-1"


@pytest.fixture
async def pipeline(client: TestClient[Any, Any], people: People) -> tuple[str, str]:
    """Alice's dataset and pipeline ids."""
    dataset_id = await upload_csv(client, people.alice)
    return dataset_id, await save_pipeline(client, people.alice, dataset_id, graph())


async def _job(settings: Settings, who: Person, pipeline: tuple[str, str], **kw: Any) -> str:
    dataset_id, pipeline_id = pipeline
    job_id, _ = await add_job(settings, who, pipeline_id, kw.pop("node_id", NODE), dataset_id, **kw)
    return job_id


async def test_a_job_carries_every_documented_field(
    client: TestClient[Any, Any], people: People, settings: Settings, pipeline: tuple[str, str]
) -> None:
    metrics = {"train": {"accuracy": 0.9}, "test": {"accuracy": 0.8}, "rows": {"train": 30, "test": 10}}
    job_id = await _job(settings, people.alice, pipeline, status="succeeded", metrics=metrics)
    resp = await client.get(f"{API}/training-jobs/{job_id}", headers=people.alice.headers)
    assert resp.status == 200
    body = await resp.json()
    JobOut.model_validate(body)
    for name in (
        "id",
        "status",
        "pipeline_id",
        "node_id",
        "model_type",
        "hyperparameters",
        "resolved_hyperparameters",
        "progress",
        "metrics",
        "warnings",
        "error_code",
        "error_message",
        "model_version",
        "model_artifact_uri",
        "attempt",
        "cancel_requested",
        "created_at",
        "started_at",
        "finished_at",
    ):
        assert name in body, name
    assert body["status"] == "succeeded"
    assert body["metrics"] == metrics
    assert body["model_version"] == 1
    assert body["output"] == {"job_id": job_id, "model_version": 1, "model_artifact_uri": body["model_artifact_uri"]}
    assert body["cancel_requested"] is False
    assert dt.datetime.fromisoformat(body["finished_at"]).tzinfo is not None


@pytest.mark.parametrize(("status", "expected"), [("succeeded", 100), ("failed", None), ("running", 1)])
async def test_a_finished_job_reports_complete_or_no_progress_never_a_stale_count(
    client: TestClient[Any, Any],
    people: People,
    settings: Settings,
    pipeline: tuple[str, str],
    status: str,
    expected: int | None,
) -> None:
    stale = {"stage": "fit", "completed": 1, "total": 100, "unit": "trees"}
    job_id = await _job(settings, people.alice, pipeline, status=status, progress=stale)
    one = await (await client.get(f"{API}/training-jobs/{job_id}", headers=people.alice.headers)).json()
    listed = await (await client.get(f"{API}/users/me/training-jobs", headers=people.alice.headers)).json()
    for body in (one, listed["items"][0]):
        if expected is None:
            assert body["progress"] is None
        else:
            assert body["progress"] == {**stale, "completed": expected}


async def test_an_unknown_job_is_404_in_the_error_shape(client: TestClient[Any, Any], people: People) -> None:
    resp = await client.get(f"{API}/training-jobs/no-such-job", headers=people.alice.headers)
    assert resp.status == 404
    body = await resp.json()
    assert set(body["error"]) == {"code", "message", "details"}


async def test_listings_filter_by_status_node_model_type_and_date(
    client: TestClient[Any, Any], people: People, settings: Settings, pipeline: tuple[str, str]
) -> None:
    queued = await _job(settings, people.alice, pipeline)
    failed = await _job(settings, people.alice, pipeline, status="failed")
    other_node = await _job(settings, people.alice, pipeline, node_id="train-2", model_type="xgboost")

    async def ids(**params: Any) -> list[str]:
        resp = await client.get(f"{API}/training-jobs", params=params, headers=people.alice.headers)
        assert resp.status == 200, await resp.text()
        page = JobPage.model_validate(await resp.json())
        return [job.id for job in page.items]

    assert await ids() == [other_node, failed, queued]
    assert await ids(status="failed") == [failed]
    assert set(await ids(status=["failed", "queued"])) == {failed, queued, other_node}
    assert await ids(status="running") == []
    assert await ids(node_id="train-2") == [other_node]
    assert await ids(model_type="xgboost") == [other_node]
    assert await ids(pipeline_id=pipeline[1], node_id=NODE) == [failed, queued]
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert await ids(created_after=future) == []
    assert len(await ids(created_before=future)) == 3


async def test_both_listings_filter_by_one_or_several_kinds_and_refuse_an_unknown_one(
    client: TestClient[Any, Any], people: People, settings: Settings, pipeline: tuple[str, str]
) -> None:
    training = await _job(settings, people.alice, pipeline, status="failed")
    made: dict[str, str] = {}
    async with writer(settings) as session:
        for kind in ("validation", "predictions"):
            created = await create_job(
                session, pipeline_id=pipeline[1], node_id=f"{kind}-1", dataset_source_id=pipeline[0],
                user_id=people.alice.id, model_type="logistic_regression", hyperparameters={}, kind=kind,
            )
            made[kind] = created.job.id
    validation, predictions = made["validation"], made["predictions"]

    async def ids(path: str, **params: Any) -> set[str]:
        resp = await client.get(f"{API}/{path}", params=params, headers=people.alice.headers)
        assert resp.status == 200, await resp.text()
        page = JobPage.model_validate(await resp.json())
        assert all(job.kind.value in params.get("kind", [job.kind.value]) for job in page.items)
        return {job.id for job in page.items}

    for path in ("training-jobs", "users/me/training-jobs"):
        assert await ids(path) == {training, validation, predictions}
        assert await ids(path, kind="training") == {training}
        assert await ids(path, kind="validation") == {validation}
        assert await ids(path, kind=["predictions", "validation"]) == {validation, predictions}
        assert await ids(path, kind="training", status="queued") == set()
        resp = await client.get(f"{API}/{path}", params={"kind": "serving"}, headers=people.alice.headers)
        assert resp.status == 422
        error = (await resp.json())["error"]
        assert error["details"]["field"] == "kind.0"  # the first (and only) value of the repeatable field
        assert "kind" in error["message"] and "validation" in error["message"]


async def test_sorting_by_a_metric_uses_its_direction_and_pages_with_a_cursor(
    client: TestClient[Any, Any], people: People, settings: Settings, pipeline: tuple[str, str]
) -> None:
    by_rmse = {}
    for rmse in (0.5, 0.1, 0.9, 0.3):
        job_id = await _job(
            settings, people.alice, pipeline, status="succeeded", metrics={"test": {"rmse": rmse, "r2": 1 - rmse}}
        )
        by_rmse[rmse] = job_id
    no_metric = await _job(settings, people.alice, pipeline)

    async def walk(order_by: str) -> list[str]:
        seen: list[str] = []
        cursor = None
        while True:
            params = {"order_by": order_by, "limit": "2", **({"cursor": cursor} if cursor else {})}
            resp = await client.get(f"{API}/users/me/training-jobs", params=params, headers=people.alice.headers)
            assert resp.status == 200, await resp.text()
            page = await resp.json()
            seen += [j["id"] for j in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return seen

    ascending = [by_rmse[v] for v in sorted(by_rmse)]
    assert await walk("rmse") == [*ascending, no_metric]
    assert await walk("r2") == [*ascending, no_metric]  # r2 = 1 - rmse, best (highest) first
    newest = await walk("-created_at")
    assert newest == [no_metric, *reversed(list(by_rmse.values()))]
    assert await walk("created_at") == list(reversed(newest))


async def test_a_cursor_from_another_order_or_garbage_is_422(
    client: TestClient[Any, Any], people: People, settings: Settings, pipeline: tuple[str, str]
) -> None:
    for _ in range(3):
        await _job(settings, people.alice, pipeline)
    resp = await client.get(f"{API}/training-jobs", params={"limit": "1"}, headers=people.alice.headers)
    cursor = (await resp.json())["next_cursor"]
    assert cursor
    for params in ({"cursor": cursor, "order_by": "rmse"}, {"cursor": "@@@"}):
        resp = await client.get(f"{API}/training-jobs", params=params, headers=people.alice.headers)
        assert resp.status == 422
        assert (await resp.json())["error"]["details"]["field"] == "cursor"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "exploded"}, "status.0"),
        ({"limit": "1000"}, "limit"),
        ({"order_by": "speed"}, "order_by"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_after": "2024-01-01T00:00:00"}, "created_after"),
        ({"model_type": "svm"}, "model_type"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_filters_are_422_naming_the_field(
    client: TestClient[Any, Any], people: People, params: dict[str, str], field: str
) -> None:
    resp = await client.get(f"{API}/training-jobs", params=params, headers=people.alice.headers)
    assert resp.status == 422
    assert (await resp.json())["error"]["details"]["field"] == field


async def test_a_repeated_single_valued_parameter_is_400(client: TestClient[Any, Any], people: People) -> None:
    resp = await client.get(f"{API}/training-jobs?limit=1&limit=2", headers=people.alice.headers)
    assert resp.status == 400


async def test_the_dashboard_lists_only_the_callers_jobs_even_for_an_admin(
    client: TestClient[Any, Any], people: People, settings: Settings, pipeline: tuple[str, str]
) -> None:
    await _job(settings, people.alice, pipeline)
    resp = await client.get(f"{API}/users/me/training-jobs", headers=people.admin.headers)
    assert (await resp.json())["items"] == []
    resp = await client.get(f"{API}/training-jobs", headers=people.admin.headers)
    assert len((await resp.json())["items"]) == 1


async def test_events_are_the_audit_trail_after_since(
    client: TestClient[Any, Any], people: People, settings: Settings, pipeline: tuple[str, str]
) -> None:
    job_id = await _job(settings, people.alice, pipeline, status="failed")
    resp = await client.get(f"{API}/training-jobs/{job_id}/events", headers=people.alice.headers)
    assert resp.status == 200
    body = EventsOut.model_validate(await resp.json())
    assert [(e.seq, e.status) for e in body.events] == [(1, "queued"), (2, "running"), (3, "failed")]
    assert body.last_seq == 3
    resp = await client.get(f"{API}/training-jobs/{job_id}/events", params={"since": "2"}, headers=people.alice.headers)
    assert [e["seq"] for e in (await resp.json())["events"]] == [3]
    resp = await client.get(
        f"{API}/training-jobs/{job_id}/events", params={"since": "-1"}, headers=people.alice.headers
    )
    assert resp.status == 422


async def test_the_artifact_downloads_for_a_succeeded_job_only(
    client: TestClient[Any, Any], people: People, settings: Settings, pipeline: tuple[str, str]
) -> None:
    done = await _job(settings, people.alice, pipeline, status="succeeded", metrics={"test": {"accuracy": 1.0}})
    resp = await client.get(f"{API}/training-jobs/{done}/artifact", headers=people.alice.headers)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert await resp.read() == b"model-bytes-" + done.encode()

    queued = await _job(settings, people.alice, pipeline)
    resp = await client.get(f"{API}/training-jobs/{queued}/artifact", headers=people.alice.headers)
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "no_artifact"

    job = await (await client.get(f"{API}/training-jobs/{done}", headers=people.alice.headers)).json()
    (settings.artifacts_root / job["model_artifact_uri"]).unlink()
    resp = await client.get(f"{API}/training-jobs/{done}/artifact", headers=people.alice.headers)
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "artifact_missing"


async def test_the_model_card_downloads_beside_the_artifact_and_its_absence_is_named(
    client: TestClient[Any, Any], people: People, settings: Settings, pipeline: tuple[str, str]
) -> None:
    done = await _job(settings, people.alice, pipeline, status="succeeded", metrics={"test": {"accuracy": 1.0}})
    resp = await client.get(f"{API}/training-jobs/{done}/model-card", headers=people.alice.headers)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json"
    artifact = await client.get(f"{API}/training-jobs/{done}/artifact", headers=people.alice.headers)
    assert (await resp.json())["artifact"]["sha256"] == artifact.headers["X-Artifact-SHA256"]

    job = await (await client.get(f"{API}/training-jobs/{done}", headers=people.alice.headers)).json()
    (settings.artifacts_root / job["model_artifact_uri"]).with_suffix(".card.json").unlink()
    resp = await client.get(f"{API}/training-jobs/{done}/model-card", headers=people.alice.headers)
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "no_model_card"

    queued = await _job(settings, people.alice, pipeline)
    resp = await client.get(f"{API}/training-jobs/{queued}/model-card", headers=people.alice.headers)
    assert (await resp.json())["error"]["code"] == "no_artifact"
