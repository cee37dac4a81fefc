"""The dashboard in headless Chromium: the job list (filter, live rows) and a job's page."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.steps import LOW_CONTRAST_SCRIPT, build_pipeline, run_training, sign_in, wait_for_status

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
API = "/ml-workflow/api"


def _api(server: LiveServer, token: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        server.url + API + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _submit_again(server: LiveServer, token: str, pipeline_id: str, n_estimators: int) -> str:
    """Run the saved pipeline's training node once more, as another client of the API would."""
    hydrated = _api(server, token, "GET", f"/pipelines/{pipeline_id}")
    graph = hydrated["pipeline"]["graph"]
    config = next(n for n in graph["nodes"] if n["id"] == "train-model-1")["data"]["config"]
    config = {**config, "hyperparameters": {**config.get("hyperparameters", {}), "n_estimators": n_estimators}}
    body = {
        "dataset_source_id": hydrated["pipeline"]["dataset_source_id"],
        "node_id": "train-model-1",
        "graph": graph,
        "config": config,
    }
    return str(_api(server, token, "POST", "/training-jobs", body)["id"])


def test_the_dashboard_lists_jobs_live_and_promotes_an_earlier_version(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    sign_in(page, live_server.url, user_token)
    build_pipeline(page, dataset_csv, n_estimators=20)
    run_training(page)
    wait_for_status(page, "train-model-1", "succeeded")
    pipeline_id = parse_qs(urlparse(page.url).query)["pipeline"][0]

    page.get_by_role("link", name="Training jobs").click()
    rows = page.locator("tr[data-job-id]")
    expect(rows).to_have_count(1)
    second = _submit_again(live_server, user_token, pipeline_id, n_estimators=60)
    expect(rows).to_have_count(2)  # the new job appears without a reload
    newest = page.locator(f'tr[data-job-id="{second}"]')
    expect(newest).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(newest).to_contain_text("v2")

    page.get_by_label("Status").select_option("failed")
    expect(rows).to_have_count(0)
    expect(page.get_by_text("No failed jobs.")).to_be_visible()
    page.get_by_label("Status").select_option("succeeded")
    expect(rows).to_have_count(2)
    page.screenshot(path=str(DOCS / "ui-jobs.png"))

    page.goto(live_server.url + "/user/training-jobs?limit=1")
    expect(rows).to_have_count(1)
    expect(page.locator(f'tr[data-job-id="{second}"]')).to_be_visible()  # newest first
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_text("Page 2")).to_be_visible()
    expect(rows).to_have_count(1)
    expect(page.locator(f'tr[data-job-id="{second}"]')).to_have_count(0)
    page.get_by_role("button", name="Previous page").click()

    newest.get_by_role("link", name="train-model-1").click()
    expect(page.get_by_role("heading", name="Training job · train-model-1")).to_be_visible()
    history = page.locator("table.events tbody tr")
    expect(history.filter(has_text="job.status")).to_have_count(3)  # queued, running, succeeded
    expect(page.locator("table.confusion")).to_be_visible()
    expect(page.locator("table.hyper-table")).to_contain_text("60")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download model (joblib)").click()
    assert download.value.suggested_filename == f"{second}.joblib"

    versions = page.locator("table.versions tbody tr")
    expect(versions).to_have_count(2)
    page.get_by_role("button", name="accuracy (test)").click()
    expect(page.locator('table.versions th[aria-sort="descending"]')).to_contain_text("accuracy")
    page.get_by_role("button", name="Compare", exact=True).click()
    expect(page.locator("table.diff td.changed").first).to_be_visible()
    expect(page.locator(".chart [role=img] canvas")).to_be_visible()

    page.get_by_role("button", name="Promote v1").click()
    expect(page.get_by_text("v1 is now the active version")).to_be_visible()
    expect(page.locator('table.versions tr[data-version="1"]')).to_contain_text("Active")
    assert _api(live_server, user_token, "GET", f"/pipelines/{pipeline_id}/nodes/train-model-1/versions")[
        "active_version"
    ] == 1
    assert page.evaluate(LOW_CONTRAST_SCRIPT) == []
    page.screenshot(path=str(DOCS / "ui-dashboard.png"), full_page=True)
