"""The validation node in the browser: add it after a trained node, run it on two versions, open the report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.steps import (
    add_node,
    docs_screenshot,
    drag_connect,
    node,
    seed_three_versions,
    select_node,
    sign_in,
    wait_for_status,
)

pytestmark = pytest.mark.browser



def test_a_validation_node_after_a_trained_node_compares_two_versions_and_opens_its_report(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    pipeline_id, _jobs = seed_three_versions(page, live_server, user_token, dataset_csv)
    sign_in(page, live_server.url, user_token, path=f"/?pipeline={pipeline_id}")
    expect(node(page, "forest")).to_be_visible()
    add_node(page, "Validate model")
    expect(node(page, "validate-model-1")).to_contain_text("No report yet")
    drag_connect(page, "forest", "validate-model-1")
    expect(page.locator("svg.edges path.edge:not(.ghost)")).to_have_count(3)
    select_node(page, "validate-model-1")
    page.get_by_label("Versions").fill("1, 3")
    page.get_by_role("button", name="Run validation").click()
    wait_for_status(page, "validate-model-1", "succeeded", timeout_ms=120_000)
    expect(node(page, "validate-model-1").locator(".node-metric")).to_have_text(
        re.compile(r"^accuracy: v1 0\.\d{3} · v3 0\.\d{3}$"))
    # Adding the validation node kept the pipeline: its versions are still there.
    expect(page).to_have_url(re.compile(re.escape(pipeline_id)))

    page.get_by_role("link", name="Open the validation report").click()
    expect(page.get_by_role("heading", name="Validation report")).to_be_visible()
    metrics = page.locator("table.report-metrics")
    expect(metrics.locator("thead th")).to_have_text(["Metric", "v1 (1)", "v3 (3)"])
    expect(metrics.locator("tbody tr")).to_have_count(6)  # accuracy, f1, precision, recall, roc_auc, log_loss
    expect(page.locator("table.report-comparison caption")).to_have_text("v3 against v1")
    interval = re.compile(r"\[-?\d\.\d+, -?\d\.\d+\]")
    expect(page.locator("table.report-comparison tbody tr").first).to_contain_text(interval)
    expect(page.get_by_role("heading", name="Version 3")).to_be_visible()  # its ROC/PR/calibration curves
    with page.expect_download() as html:
        page.get_by_role("button", name="Download HTML").click()
    saved = html.value.path()
    assert html.value.suggested_filename.endswith(".html") and saved is not None
    text = Path(saved).read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and "<script" not in text and "v3 against v1" in text
    with page.expect_download() as data:
        page.get_by_role("button", name="Download JSON").click()
    assert data.value.suggested_filename.endswith(".json")
    docs_screenshot(page, "ui-validation-report.png", full_page=True)
