"""Every page passes axe-core with no serious or critical violation, as a person would see it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import axe_violations
from tests.browser.conftest import LiveServer
from tests.browser.steps import build_pipeline, node, run_training, select_node, sign_in, wait_for_status

pytestmark = pytest.mark.browser


def test_every_page_has_no_serious_or_critical_accessibility_violation(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    page.goto(live_server.url + "/")
    expect(page.get_by_label("API token")).to_be_visible()
    assert axe_violations(page) == [], "sign-in page"

    sign_in(page, live_server.url, user_token)
    expect(page.get_by_role("button", name="Open example")).to_be_visible()
    assert axe_violations(page) == [], "empty canvas"

    build_pipeline(page, dataset_csv, n_estimators=10)
    page.locator("details.advanced > summary").first.click()
    assert axe_violations(page) == [], "canvas with the training panel"
    run_training(page)
    wait_for_status(page, "train-model-1", "succeeded")
    select_node(page, "train-test-split-1")
    assert axe_violations(page) == [], "canvas after a run, another node's panel"

    page.get_by_role("link", name="Pipelines", exact=True).click()
    expect(page.locator("tr[data-pipeline-id]")).to_have_count(1)
    assert axe_violations(page) == [], "pipeline browser"

    page.get_by_role("link", name="Training jobs").click()
    expect(page.locator("tr[data-job-id]")).to_have_count(1)
    assert axe_violations(page) == [], "dashboard"

    page.locator("tr[data-job-id]").get_by_role("link", name="Train model").click()
    expect(page.get_by_role("heading", name=re.compile("^Training job"))).to_be_visible()
    expect(page.locator("table.versions")).to_be_visible()
    assert axe_violations(page) == [], "job page"

    page.get_by_role("link", name="Canvas").click()
    expect(node(page, "train-model-1")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API token")).to_be_visible()
    assert axe_violations(page) == [], "sign-in page after sign-out"


def test_the_admin_workers_page_has_no_serious_or_critical_accessibility_violation(
    page: Page, live_server: LiveServer
) -> None:
    token = (live_server.data_dir / "admin-token").read_text().strip()
    sign_in(page, live_server.url, token, path="/admin/workers")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.wait_for_timeout(500)
    assert axe_violations(page) == [], "workers page"
