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
from tests.browser.steps import (
    LOW_CONTRAST_SCRIPT,
    build_pipeline,
    docs_screenshot,
    run_training,
    seed_three_versions,
    sign_in,
    wait_for_status,
)

pytestmark = pytest.mark.browser

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
    expect(page.get_by_text("No training jobs match these filters.")).to_be_visible()
    page.get_by_label("Status").select_option("succeeded")
    expect(rows).to_have_count(2)

    page.goto(live_server.url + "/user/training-jobs?limit=1")
    expect(rows).to_have_count(1)
    expect(page.locator(f'tr[data-job-id="{second}"]')).to_be_visible()  # newest first
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_text("Page 2")).to_be_visible()
    expect(rows).to_have_count(1)
    expect(page.locator(f'tr[data-job-id="{second}"]')).to_have_count(0)
    page.get_by_role("button", name="Previous page").click()

    newest.get_by_role("link", name="Train model").click()
    expect(page.get_by_role("heading", name="Training job · Train model")).to_be_visible()
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
    expect(page.locator("table.compare td.changed").first).to_be_visible()  # v1 and v2 side by side
    expect(page.locator(".chart [role=img] canvas")).to_be_visible()

    # The first version became active by itself; promoting another asks first.
    expect(page.locator('table.versions tr[data-version="1"]')).to_contain_text("Active")
    page.locator("table.versions").get_by_role("button", name="Promote v2").click()
    dialog = page.get_by_role("dialog", name="Promote v2?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(page.locator('table.versions tr[data-version="1"]')).to_contain_text("Active")
    page.locator("table.versions").get_by_role("button", name="Promote v2").click()
    page.get_by_role("dialog", name="Promote v2?").get_by_role("button", name="Promote v2").click()
    expect(page.get_by_text("v2 is now the active version (was v1)")).to_be_visible()
    expect(page.locator('table.versions tr[data-version="2"]')).to_contain_text("Active")
    assert _api(live_server, user_token, "GET", f"/pipelines/{pipeline_id}/nodes/train-model-1/versions")[
        "active_version"
    ] == 2
    assert page.evaluate(LOW_CONTRAST_SCRIPT) == []


def test_the_dashboard_view_lives_in_the_url_and_compares_three_versions(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    _pipeline_id, jobs = seed_three_versions(page, live_server, user_token, dataset_csv)
    accuracy = {
        j: _api(live_server, user_token, "GET", f"/training-jobs/{j}")["metrics"]["test"]["accuracy"] for j in jobs
    }
    sign_in(page, live_server.url, user_token, path="/user/training-jobs?limit=2")
    expect(page.get_by_text("Signed in as")).to_be_visible()
    rows = page.locator("tr[data-job-id]")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Churn study")  # the pipeline's name, not its id
    expect(rows.first).to_contain_text("Churn forest")  # the node's label
    expect(rows.first).to_contain_text("Random Forest")
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_text("Page 2")).to_be_visible()
    expect(rows).to_have_count(1)
    expect(page.locator(f'tr[data-job-id="{jobs[0]}"]')).to_be_visible()
    assert "cursor=" in page.url
    page.reload()  # the same page after a reload
    expect(page.get_by_text("Page 2")).to_be_visible()
    expect(page.locator(f'tr[data-job-id="{jobs[0]}"]')).to_be_visible()
    page.go_back()  # and back to page 1
    expect(page.get_by_text("Page 1")).to_be_visible()
    expect(page.locator(f'tr[data-job-id="{jobs[2]}"]')).to_be_visible()

    page.get_by_label("Page size").select_option("10")
    expect(rows).to_have_count(3)
    page.get_by_label("Experiment tag").fill("b")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(2)
    page.get_by_label("Sort by").select_option("accuracy")
    best_first = sorted(jobs[1:], key=lambda j: -accuracy[j])
    expect(rows.first).to_have_attribute("data-job-id", best_first[0])
    expect(rows.nth(1)).to_have_attribute("data-job-id", best_first[1])
    expect(rows.first).to_contain_text(f"accuracy {accuracy[best_first[0]]:.3f}".rstrip("0").rstrip("."))
    page.reload()
    expect(page.get_by_label("Experiment tag")).to_have_value("b")
    expect(page.get_by_label("Sort by")).to_have_value("accuracy")
    expect(rows).to_have_count(2)
    page.get_by_label("Search").fill("no such job")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(0)
    page.go_back()
    expect(rows).to_have_count(2)
    docs_screenshot(page, "ui-jobs.png")

    page.locator(f'tr[data-job-id="{jobs[2]}"]').get_by_role("link", name="Churn forest").click()
    expect(page.get_by_role("heading", name="Training job · Churn forest")).to_be_visible()
    top = page.locator(".job-top")
    expect(top).to_contain_text("Model v3")
    expect(top.locator(".stat").first).to_contain_text("accuracy (test)")
    expect(top.get_by_role("button", name="Promote v3")).to_be_visible()  # v1 became active by itself
    page.get_by_label("v1 (active)").check()  # v2 and v3 are chosen already
    compare = page.locator("table.compare")
    expect(compare.locator("thead th")).to_have_count(4)
    expect(compare.locator("tr.changed").filter(has_text="n_estimators")).to_have_count(1)
    expect(compare.locator("td.best")).not_to_have_count(0)
    top.get_by_role("button", name="Promote v3").click()
    page.get_by_role("dialog").get_by_role("button", name="Promote v3").click()
    expect(top.get_by_text("Active")).to_be_visible()
    expect(page.locator('table.versions tr[data-version="3"]')).to_contain_text("Active")
    docs_screenshot(page, "ui-dashboard.png", full_page=True)

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server.url, user_token, path="/user/training-jobs")
    expect(page.get_by_text("Signed in as")).to_be_visible()
    expect(rows).to_have_count(3)


def test_the_job_page_patches_progress_in_place_and_a_human_click_cancels(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    sign_in(page, live_server.url, user_token)
    build_pipeline(page, dataset_csv, n_estimators=5000)
    run_training(page)
    wait_for_status(page, "train-model-1", "running")
    page.locator('.node[data-node-id="train-model-1"] .badge').click()
    cancel = page.get_by_role("button", name="Cancel job")
    expect(cancel).to_be_visible()
    pill = page.locator(".job-top .pill")
    page.evaluate(
        """() => {
          window.__removed = 0;
          new MutationObserver((records) => {
            for (const r of records) for (const n of r.removedNodes) {
              if (n.nodeType === 1 && (n.matches('button') || n.querySelector('button'))) window.__removed += 1;
            }
          }).observe(document.querySelector('.job-top').parentElement, {subtree: true, childList: true});
        }"""
    )
    first = pill.text_content()
    expect(pill).not_to_have_text(first or "", timeout=30_000)  # progress arrives and is shown
    second = pill.text_content()
    expect(pill).not_to_have_text(second or "", timeout=30_000)
    assert page.evaluate("window.__removed") == 0  # no button was rebuilt by progress
    box = cancel.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.wait_for_timeout(150)
    page.mouse.up()
    expect(pill).to_have_text("Cancelled", timeout=60_000)


def test_the_dashboard_view_round_trips_through_its_url_with_whole_day_date_bounds(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(live_server.url + "/static/css/app.css")  # any same-origin page can import the module
    out = page.evaluate(
        """async () => {
             const f = await import('/static/js/dashboard/list_filters.js');
             const href = 'http://x/user/training-jobs?status=failed&kind=predictions&model=xgboost&tag=b&pipeline=p1'
               + '&from=2026-11-02&to=2026-11-03&q=churn&order=rmse&limit=50&cursor=c2&trail=%5B%22%22%2C%22c1%22%5D';
             const view = f.readView(href);
             const again = f.readView(f.viewUrl(view, 'http://x/user/training-jobs').href);
             const q = f.apiQuery(view);
             const bad = f.readView('http://x/?order=drop&limit=9999&trail=nonsense');
             return {
               same: JSON.stringify(view) === JSON.stringify(again),
               trail: view.trail,
               query: q,
               hours: (Date.parse(q.created_before) - Date.parse(q.created_after)) / 3600000,
               fromLocal: new Date(q.created_after).getHours(),
               bad: [bad.order, bad.limit, bad.trail],
               plain: f.viewUrl(f.readView('http://x/user/training-jobs'), 'http://x/user/training-jobs').search,
             };
           }"""
    )
    assert out["same"] and out["trail"] == ["", "c1"]
    query = out["query"]
    keys = ("status", "kind", "model_type", "tag", "pipeline_id", "q", "order_by", "limit", "cursor")
    assert {k: query[k] for k in keys} == {
        "status": "failed", "kind": "predictions", "model_type": "xgboost", "tag": "b", "pipeline_id": "p1",
        "q": "churn", "order_by": "rmse", "limit": 50, "cursor": "c2",
    }
    assert out["hours"] == 48 and out["fromLocal"] == 0  # both days whole, in local time
    assert out["bad"] == ["-created_at", 20, []]
    assert out["plain"] == ""  # defaults leave the URL plain
