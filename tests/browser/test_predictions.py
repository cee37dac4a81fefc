"""Batch predictions from the job page: a version or an alias, a dataset, CSV or Parquet, live status, download."""

from __future__ import annotations

import io
import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.a11y import axe_violations
from tests.browser.conftest import LiveServer
from tests.browser.steps import API, seed_three_versions, sign_in, upload_csv

pytestmark = pytest.mark.browser


def _call(server: LiveServer, token: str, path: str, body: Any = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(server.url + API + path, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


def _api(server: LiveServer, token: str, path: str, body: Any = None) -> Any:
    return json.loads(_call(server, token, path, body))


def _run(panel: Locator, dataset_id: str, fmt: str) -> str:
    """Choose the dataset and format, run, and return the new job's id (from its link)."""
    link = panel.locator(".predict-status a")
    before = link.get_attribute("href") if link.count() else None
    panel.get_by_label("Dataset", exact=True).select_option(dataset_id)
    panel.get_by_label("Format", exact=True).select_option(fmt)
    panel.get_by_role("button", name="Run predictions").click()
    expect(link).to_be_visible()
    if before is not None:
        expect(link).not_to_have_attribute("href", before)
    href = link.get_attribute("href") or ""
    return href.rsplit("/", 1)[-1]


def _frame(data: bytes, fmt: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data)) if fmt == "csv" else pd.read_parquet(io.BytesIO(data))


@pytest.mark.timeout(240)
@pytest.mark.slow
def test_predictions_run_on_a_version_and_an_alias_download_and_report_missing_columns(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path, tmp_path: Path
) -> None:
    pipeline_id, jobs = seed_three_versions(page, live_server, user_token, dataset_csv)
    node = f"/pipelines/{pipeline_id}/nodes/forest"
    _api(live_server, user_token, f"{node}/aliases/champion", {"version": 2})
    (dataset_id,) = [d["id"] for d in _api(live_server, user_token, "/datasets")["items"]]
    lacking = tmp_path / "no_f2.csv"
    pd.read_csv(dataset_csv).drop(columns=["f2"]).head(50).to_csv(lacking, index=False)
    lacking_id = upload_csv(page, live_server, user_token, "no_f2.csv", lacking)

    sign_in(page, live_server.url, user_token, path=f"/user/training-jobs/{jobs[2]}")
    panel = page.locator("section", has=page.get_by_role("heading", name="Batch predictions"))
    row = lambda version: page.locator(f'table.versions tr[data-version="{version}"]')  # noqa: E731

    # v3 from its row of the versions table: CSV, followed live until the download appears.
    row(3).get_by_role("button", name="Predict with v3").click()
    expect(panel.get_by_label("Model", exact=True)).to_have_value("3")
    expect(panel.get_by_label("Dataset", exact=True)).to_be_focused()
    job_id = _run(panel, dataset_id, "csv")
    expect(panel.locator(".predict-status .pill")).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(panel.locator(".predict-status")).to_contain_text("Predictions of v3")
    with page.expect_download() as caught:
        panel.get_by_role("button", name="Download predictions (CSV)").click()
    download = caught.value
    assert download.suggested_filename == f"{job_id}.predictions.csv"
    downloaded = _frame(Path(download.path()).read_bytes(), "csv")
    served = _frame(_call(live_server, user_token, f"/training-jobs/{job_id}/predictions"), "csv")
    source = pd.read_csv(dataset_csv)
    assert len(downloaded) == len(source)
    pd.testing.assert_frame_equal(downloaded, served)
    assert downloaded["prediction"].tolist() == served["prediction"].tolist()
    pd.testing.assert_frame_equal(downloaded[list(source.columns)], source)
    assert _api(live_server, user_token, f"/training-jobs/{job_id}")["config"]["version"] == 3

    # The champion alias from the alias panel: Parquet, predicted with the version it points at.
    aliases = page.locator("section", has=page.get_by_role("heading", name="Aliases"))
    aliases.get_by_role("button", name="Predict with champion").click()
    expect(panel.get_by_label("Model", exact=True)).to_have_value("champion")
    job_id = _run(panel, dataset_id, "parquet")
    expect(panel.get_by_role("button", name="Download predictions (PARQUET)")).to_be_visible(timeout=60_000)
    expect(panel.locator(".predict-status")).to_contain_text("Predictions of champion (v2)")
    with page.expect_download() as caught:
        panel.get_by_role("button", name="Download predictions (PARQUET)").click()
    downloaded = _frame(Path(caught.value.path()).read_bytes(), "parquet")
    served = _frame(_call(live_server, user_token, f"/training-jobs/{job_id}/predictions"), "parquet")
    pd.testing.assert_frame_equal(downloaded, served)
    assert _api(live_server, user_token, f"/training-jobs/{job_id}")["config"]["version"] == 2
    assert axe_violations(page) == [], "job page with a finished predictions job"

    # A dataset without one of the model's columns: the job fails and the panel says why.
    row(1).get_by_role("button", name="Predict with v1").click()
    _run(panel, lacking_id, "csv")
    failure = panel.get_by_role("alert").filter(has_text="Predictions failed")
    expect(failure).to_be_visible(timeout=60_000)
    expect(failure).to_contain_text("f2")
    expect(panel.get_by_role("button", name=re.compile("Download predictions"))).to_have_count(0)

    # The predictions job's own page offers its download too.
    page.goto(f"{live_server.url}/user/training-jobs/{job_id}")
    expect(page.get_by_role("button", name="Download predictions (PARQUET)")).to_be_visible()

    # The job list filters by kind: the three predictions jobs, then the training jobs alone.
    page.goto(f"{live_server.url}/user/training-jobs?kind=predictions")
    rows = page.locator("tr[data-job-id]")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("predictions")
    page.get_by_label("Kind", exact=True).select_option("training")
    expect(rows).to_have_count(len(jobs))
    assert "kind=training" in page.url
