"""The canvas in headless Chromium against a running ``mlw serve`` and its worker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.steps import (
    BADGE_LOG_SCRIPT,
    LOW_CONTRAST_SCRIPT,
    badge,
    build_pipeline,
    node,
    run_training,
    saved,
    select_node,
    sign_in,
    wait_for_status,
)

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
LONG_RUN_TREES = 5000
"""Enough trees that the fit is still running when the test reloads or cancels."""


def _collapse(entries: list[str]) -> list[str]:
    out: list[str] = []
    for entry in entries:
        if not out or out[-1] != entry:
            out.append(entry)
    return out


def test_a_wrong_token_is_refused_and_sign_out_forgets_the_token(
    page: Page, live_server: LiveServer, user_token: str
) -> None:
    page.goto(live_server.url + "/")
    page.get_by_label("API token").fill("not-a-real-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert").filter(has_text="unknown or revoked")).to_be_visible()
    page.get_by_label("API token").fill(user_token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Pipeline canvas")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Pipeline canvas")).to_be_visible()  # kept for the session
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API token")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('mlw.token')") is None


def test_a_new_user_builds_a_pipeline_runs_it_and_sees_queued_running_succeeded(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    page.add_init_script(BADGE_LOG_SCRIPT)
    sign_in(page, live_server.url, user_token)
    build_pipeline(page, dataset_csv, n_estimators=400)
    run_training(page)
    wait_for_status(page, "train-model-1", "succeeded")
    expect(badge(page, "train-model-1")).to_have_text(re.compile(r"^Succeeded · v1 · accuracy 0\.\d+"))
    seen = _collapse([e.split(":", 1)[1] for e in page.evaluate("window.__badges")])
    assert seen[:3] == ["queued", "running", "succeeded"], seen
    href = badge(page, "train-model-1").get_attribute("href")
    assert href is not None and re.fullmatch(r"/user/training-jobs/[0-9a-f-]{36}", href)
    node(page, "train-model-1").locator(".badge").hover()
    expect(node(page, "train-model-1").get_by_role("link", name="Open in the dashboard →")).to_be_visible()
    page.screenshot(path=str(DOCS / "ui-canvas.png"))


def test_a_bad_hyperparameter_shows_the_api_error_at_its_field(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    sign_in(page, live_server.url, user_token)
    build_pipeline(page, dataset_csv)
    page.get_by_label("max_depth").fill("0")
    with page.expect_response(lambda r: r.url.endswith("/training-jobs") and r.request.method == "POST") as answer:
        run_training(page)
    error = answer.value.json()["error"]
    assert answer.value.status == 422 and error["details"]["field"].endswith("hyperparameters.max_depth")
    field = page.locator('[data-field-path="hyperparameters.max_depth"]')
    expect(field.locator(".field-error")).to_have_text(error["message"])
    expect(page.get_by_label("max_depth")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("max_depth")).to_be_focused()
    expect(badge(page, "train-model-1")).to_have_count(0)


def test_a_reload_mid_run_brings_back_the_graph_and_the_live_badge(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    sign_in(page, live_server.url, user_token)
    build_pipeline(page, dataset_csv, n_estimators=LONG_RUN_TREES)
    run_training(page)
    wait_for_status(page, "train-model-1", "running")
    expect(badge(page, "train-model-1")).to_have_text(re.compile(r"^Running \d+% · \w+$"))  # live progress
    saved(page)
    page.screenshot(path=str(DOCS / "ui-canvas-running.png"))
    before = page.url
    assert "pipeline=" in before
    page.reload()
    for node_id in ("dataset-source-1", "train-test-split-1", "train-model-1"):
        expect(node(page, node_id)).to_be_visible()
    expect(page.locator("svg.edges path.edge:not(.ghost)")).to_have_count(2)
    expect(badge(page, "train-model-1")).to_have_text(re.compile(r"^Running \d+% · \w+$"))
    select_node(page, "train-model-1")
    expect(page.get_by_label("Model family")).to_have_value("random_forest")
    expect(page.get_by_label("n_estimators")).to_have_value(str(LONG_RUN_TREES))
    node(page, "train-model-1").get_by_role("button", name=re.compile("Cancel")).click()
    wait_for_status(page, "train-model-1", "cancelled")

    page.get_by_role("button", name="Delete node").click()
    orphans = page.locator('[data-banner="orphans"]')
    expect(orphans.get_by_role("link", name=re.compile("History of train-model-1"))).to_be_visible()
    saved(page)
    page.reload()
    expect(node(page, "train-test-split-1")).to_be_visible()
    expect(node(page, "train-model-1")).to_have_count(0)
    expect(orphans.get_by_role("link", name=re.compile("History of train-model-1"))).to_have_attribute(
        "href", re.compile(r"^/user/training-jobs/[0-9a-f-]{36}$")
    )
    # Another browser (no session storage) learns of the deleted node's job from the server.
    assert page.context.browser is not None
    elsewhere = page.context.browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        other = elsewhere.new_page()
        sign_in(other, live_server.url, user_token, path=page.url.removeprefix(live_server.url))
        expect(node(other, "train-test-split-1")).to_be_visible()
        expect(other.locator('[data-banner="orphans"]').get_by_role(
            "link", name=re.compile("History of train-model-1 \\(Cancelled"))).to_be_visible()
    finally:
        elsewhere.close()


def test_editing_the_data_path_mid_run_warns_and_cancel_from_the_canvas_ends_cancelled(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    sign_in(page, live_server.url, user_token)
    build_pipeline(page, dataset_csv, n_estimators=LONG_RUN_TREES)
    run_training(page)
    wait_for_status(page, "train-model-1", "running")
    select_node(page, "train-test-split-1")
    page.get_by_label("test_size").fill("0.3")
    warning = page.locator('[data-banner="soft-lock"]')
    expect(warning).to_contain_text("rerunning may produce different results")
    expect(warning.get_by_role("link", name="Job of train-model-1")).to_be_visible()
    node(page, "train-model-1").get_by_role("button", name=re.compile("Cancel")).click()
    expect(badge(page, "train-model-1")).to_have_attribute("data-status", re.compile("cancelling|cancelled"))
    wait_for_status(page, "train-model-1", "cancelled")
    expect(badge(page, "train-model-1")).to_have_text("Cancelled")


def test_every_form_field_on_the_canvas_has_a_label(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    sign_in(page, live_server.url, user_token)
    build_pipeline(page, dataset_csv)
    page.locator("details.advanced > summary").first.click()
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
             .filter((el) => el.type !== 'hidden')
             .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
             .map((el) => el.outerHTML)"""
    )
    assert unlabelled == []
    expect(page.get_by_label("n_estimators")).to_have_attribute("placeholder", "default: 100")
    assert page.evaluate(LOW_CONTRAST_SCRIPT) == []

    page.get_by_role("button", name="Add Scale node").click()
    node(page, "train-test-split-1").locator(".port.out").focus()
    page.keyboard.press("Enter")  # start a connection from the keyboard
    node(page, "scale-1").focus()
    page.keyboard.press("Enter")
    expect(page.locator("svg.edges path.edge:not(.ghost)")).to_have_count(3)
    node(page, "train-test-split-1").focus()
    page.keyboard.press("ArrowRight")
    expect(node(page, "train-test-split-1")).to_be_focused()
    page.keyboard.press("Delete")
    expect(node(page, "train-test-split-1")).to_have_count(0)
    expect(page.locator("svg.edges path.edge:not(.ghost)")).to_have_count(0)


def test_the_graph_model_refuses_loops_and_keeps_one_input_per_node(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/static/css/app.css")  # any same-origin page can import the module
    outcome = page.evaluate(
        """async () => {
             const { Graph } = await import('/static/js/canvas/graph.js');
             const g = new Graph();
             const a = g.addNode('dataset_source').id, b = g.addNode('scale').id, c = g.addNode('train_model').id;
             g.connect(a, b); g.connect(b, c);
             const refused = [];
             for (const [s, t] of [[c, b], [b, b], [c, a]]) {
               try { g.connect(s, t); } catch (e) { refused.push(e.message); }
             }
             g.connect(a, c);  // replaces c's input from b
             return { ids: [a, b, c], refused, edges: g.toJSON().edges.map((e) => `${e.source}>${e.target}`) };
           }"""
    )
    assert outcome["ids"] == ["dataset-source-1", "scale-1", "train-model-1"]
    assert outcome["refused"] == [
        "That connection would make a loop.",
        "A node cannot feed itself.",
        "A dataset node takes no input.",
    ]
    assert outcome["edges"] == ["dataset-source-1>scale-1", "dataset-source-1>train-model-1"]
