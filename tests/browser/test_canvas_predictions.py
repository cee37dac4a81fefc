"""Batch predictions from the training node's panel on the canvas: the job page's panel, kept live there."""

from __future__ import annotations

import io
import json
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser.a11y import axe_violations
from tests.browser.conftest import LiveServer
from tests.browser.steps import (
    API,
    add_node,
    node,
    seed_pipeline,
    seed_three_versions,
    select_node,
    sign_in,
    upload_csv,
    wait_for_status,
)

pytestmark = pytest.mark.browser

NO_VERSION = "Train this node first: predictions need a model version."


def _call(server: LiveServer, token: str, path: str, body: Any = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(server.url + API + path, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


def _api(server: LiveServer, token: str, path: str, body: Any = None) -> Any:
    return json.loads(_call(server, token, path, body))


@pytest.mark.timeout(240)
def test_the_training_panel_predicts_follows_the_job_downloads_and_keeps_its_model_list_live(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path, tmp_path: Path
) -> None:
    pipeline_id, jobs = seed_three_versions(page, live_server, user_token, dataset_csv)
    forest = f"/pipelines/{pipeline_id}/nodes/forest"
    (dataset_id,) = [d["id"] for d in _api(live_server, user_token, "/datasets")["items"]]
    lacking = tmp_path / "no_f2.csv"
    pd.read_csv(dataset_csv).drop(columns=["f2"]).head(50).to_csv(lacking, index=False)
    lacking_id = upload_csv(page, live_server, user_token, "no_f2.csv", lacking)

    sign_in(page, live_server.url, user_token, path=f"/?pipeline={pipeline_id}")
    select_node(page, "forest")
    panel = page.get_by_role("region", name="Batch predictions")
    model = panel.get_by_label("Model", exact=True)
    expect(model.locator("option")).to_have_text(["v3", "v2", "v1", "active (v1)"])
    expect(panel.get_by_text(NO_VERSION)).to_be_hidden()

    # An alias set elsewhere (here: the API) joins the model list without a reload.
    _api(live_server, user_token, f"{forest}/aliases/champion", {"version": 2})
    expect(model.locator('option[value="champion"]')).to_have_text("champion (v2)")

    # Predict with the alias: followed live to success, then downloaded; the rows are the service's own.
    model.select_option("champion")
    panel.get_by_label("Dataset", exact=True).select_option(dataset_id)
    panel.get_by_label("Format", exact=True).select_option("csv")
    panel.get_by_role("button", name="Run predictions").click()
    expect(panel.locator(".predict-status .pill")).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(panel.locator(".predict-status")).to_contain_text("Predictions of champion (v2)")
    job_id = (panel.locator(".predict-status a").get_attribute("href") or "").rsplit("/", 1)[-1]
    with page.expect_download() as caught:
        panel.get_by_role("button", name="Download predictions (CSV)").click()
    download = caught.value
    assert download.suggested_filename == f"{job_id}.predictions.csv"
    expect(panel.get_by_text(f"Downloaded {job_id}.predictions.csv")).to_be_visible()
    downloaded = pd.read_csv(Path(download.path()))
    served = pd.read_csv(io.BytesIO(_call(live_server, user_token, f"/training-jobs/{job_id}/predictions")))
    source = pd.read_csv(dataset_csv)
    assert len(downloaded) == len(source)
    assert downloaded["prediction"].tolist() == served["prediction"].tolist()
    pd.testing.assert_frame_equal(downloaded, served)
    pd.testing.assert_frame_equal(downloaded[list(source.columns)], source)
    assert _api(live_server, user_token, f"/training-jobs/{job_id}")["config"]["version"] == 2
    assert axe_violations(page) == [], "canvas with the training panel's finished predictions job"

    # A dataset without one of the model's columns: the failure names it, and there is nothing to download.
    model.select_option("3")
    panel.get_by_label("Dataset", exact=True).select_option(lacking_id)
    panel.get_by_role("button", name="Run predictions").click()
    failure = panel.get_by_role("alert").filter(has_text="Predictions failed")
    expect(failure).to_be_visible(timeout=60_000)
    expect(failure).to_contain_text("f2")
    expect(panel.get_by_role("button", name="Download predictions (CSV)")).to_have_count(0)

    # Back on the canvas later, the node's badge is still its last training, not a predictions job.
    hydrated = _api(live_server, user_token, f"/pipelines/{pipeline_id}")["jobs"]
    assert [(j["node_id"], j["id"]) for j in hydrated] == [("forest", jobs[2])]
    page.reload()
    expect(node(page, "forest").locator(".badge")).to_contain_text("v3")
    select_node(page, "forest")
    expect(model.locator('option[value="champion"]')).to_have_text("champion (v2)")

    # Training from the same panel adds v4 to the model list while it stays open.
    page.get_by_role("button", name="Run training").click()
    wait_for_status(page, "forest", "succeeded")
    expect(model.locator('option[value="4"]')).to_have_text("v4", timeout=30_000)

    # Another node's panel stops the section's listeners: an alias move then asks nothing about this node;
    # back on the node, one fresh section loads it once.
    alias_reads: list[str] = []

    def note(request: Request) -> None:
        if request.method == "GET" and request.url.endswith(f"{forest}/aliases"):
            alias_reads.append(request.url)

    page.on("request", note)
    select_node(page, "split")
    expect(page.get_by_role("region", name="Batch predictions")).to_have_count(0)
    _api(live_server, user_token, f"{forest}/aliases/champion", {"version": 3})
    page.wait_for_timeout(1_500)
    assert alias_reads == []
    select_node(page, "forest")
    expect(model.locator('option[value="champion"]')).to_have_text("champion (v3)")
    page.wait_for_timeout(1_000)
    assert len(alias_reads) == 1
    expect(page.get_by_role("region", name="Batch predictions")).to_have_count(1)


def test_a_training_node_without_versions_explains_why_there_is_no_predictions_form(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    pipeline_id, _dataset_id, _graph = seed_pipeline(page, live_server, user_token, dataset_csv)
    sign_in(page, live_server.url, user_token, path=f"/?pipeline={pipeline_id}")
    select_node(page, "forest")
    panel = page.get_by_role("region", name="Batch predictions")
    expect(panel.get_by_text(NO_VERSION)).to_be_visible()
    expect(panel.get_by_role("form")).to_have_count(0)
    expect(panel.get_by_role("button", name="Run predictions")).to_have_count(0)
    assert axe_violations(page) == [], "canvas with a training panel without versions"

    # A training node added since the last save (not in the saved graph yet) says the same.
    add_node(page, "Train model")
    expect(page.locator("#panel-title")).to_have_text("Train model")
    expect(panel.get_by_text(NO_VERSION)).to_be_visible()
    expect(panel.get_by_role("button", name="Run predictions")).to_have_count(0)
