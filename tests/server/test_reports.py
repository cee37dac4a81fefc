"""GET /training-jobs/{id}/report and /report.html: the validation report as JSON and as a standalone file."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from server.schemas.reports import ValidationReportOut
from store.settings import Settings
from tests.server.conftest import API, People
from tests.server.seed import (
    HOSTILE,
    SAMPLE_REPORT,
    add_job,
    add_validation_job,
    graph,
    save_pipeline,
    upload_csv,
    validation_graph,
)


async def _world(client: TestClient[Any, Any], people: People, settings: Settings) -> tuple[str, str, str]:
    dataset_id = await upload_csv(client, people.alice)
    pipeline_id = await save_pipeline(client, people.alice, dataset_id, validation_graph())
    assert pipeline_id == await save_pipeline(client, people.alice, dataset_id, graph()), \
        "a validation node is off the data path: the pipeline keeps its id"
    trained, _ = await add_job(settings, people.alice, pipeline_id, "train-1", dataset_id, status="succeeded")
    validation = await add_validation_job(settings, people.alice, pipeline_id, dataset_id, SAMPLE_REPORT)
    return dataset_id, trained, validation


async def test_the_report_is_json_of_its_schema_with_the_jobs_identity(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    _, _, validation = await _world(client, people, settings)
    resp = await client.get(f"{API}/training-jobs/{validation}/report", headers=people.alice.headers)
    assert resp.status == 200
    report = ValidationReportOut.model_validate(await resp.json())
    assert (report.job_id, report.node_id, report.train_node_id) == (validation, "val-1", "train-1")
    assert [v.version for v in report.versions] == [1, 2]
    assert report.comparisons[0].metrics["accuracy"].significant is True
    job = await (await client.get(f"{API}/training-jobs/{validation}", headers=people.alice.headers)).json()
    assert job["kind"] == "validation"


async def test_the_html_file_stands_alone_runs_no_script_and_escapes_the_data(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    _, _, validation = await _world(client, people, settings)
    resp = await client.get(f"{API}/training-jobs/{validation}/report.html", headers=people.alice.headers)
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert resp.headers["Content-Disposition"] == f'attachment; filename="validation-{validation}.html"'
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    text = await resp.text()
    assert text.startswith("<!doctype html>")
    assert "<script" not in text.lower() and HOSTILE not in text
    assert "&lt;script&gt;" in text
    assert "src=" not in text and "href=" not in text and "@import" not in text, "no external asset"
    assert "0.8000" in text and "0.9000" in text and "[0.0200, 0.1800]" in text
    assert "<svg" in text  # the ROC curve


async def test_a_training_job_has_no_report_and_a_running_validation_has_none_yet(
    client: TestClient[Any, Any], people: People, settings: Settings, sender: Any
) -> None:
    dataset_id, trained, _ = await _world(client, people, settings)
    resp = await client.get(f"{API}/training-jobs/{trained}/report", headers=people.alice.headers)
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_a_validation_job"
    body = {"dataset_source_id": dataset_id, "node_id": "val-1", "graph": validation_graph(),
            "config": {"versions": [1], "n_bootstrap": 200}}
    submitted = await client.post(f"{API}/training-jobs", json=body, headers=people.alice.headers)
    assert submitted.status == 202, await submitted.text()
    job = await submitted.json()
    assert (job["kind"], job["config"]["versions"], sender.kinds[job["id"]]) == (
        "validation", [{"ref": "1", "version": 1}], "validation")
    resp = await client.get(f"{API}/training-jobs/{job['id']}/report.html", headers=people.alice.headers)
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "report_not_ready"


async def test_a_bad_validation_config_is_422_naming_the_field(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    dataset_id, _, _ = await _world(client, people, settings)
    cases = [
        ({"versions": "1", "n_bootstrap": 5}, "config.n_bootstrap"),
        ({"versions": "1", "bogus": 1}, "config.bogus"),
    ]
    for config, field in cases:
        body = {"dataset_source_id": dataset_id, "node_id": "val-1", "graph": validation_graph(), "config": config}
        resp = await client.post(f"{API}/training-jobs", json=body, headers=people.alice.headers)
        assert resp.status == 422, (config, await resp.text())
        assert field in (await resp.text()), field
    unfed = validation_graph(fed_by="split")
    body = {"dataset_source_id": dataset_id, "node_id": "val-1", "graph": unfed}
    resp = await client.post(f"{API}/training-jobs", json=body, headers=people.alice.headers)
    assert resp.status == 422
    assert (await resp.json())["error"]["details"]["field"] == "graph.edges"
    missing = {"dataset_source_id": dataset_id, "node_id": "val-1", "graph": validation_graph(),
               "config": {"versions": "9"}}
    assert (await client.post(f"{API}/training-jobs", json=missing, headers=people.alice.headers)).status == 404
