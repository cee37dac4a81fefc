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
    docs_screenshot,
    node,
    run_training,
    saved,
    select_node,
    sign_in,
    wait_for_status,
)

pytestmark = pytest.mark.browser

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
    docs_screenshot(page, "ui-canvas.png")


def test_an_out_of_bounds_value_is_refused_in_the_browser_with_the_servers_message_and_never_saved(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    sign_in(page, live_server.url, user_token)
    build_pipeline(page, dataset_csv)
    saved(page)
    max_depth = page.get_by_label("max_depth")
    expect(max_depth).to_have_attribute("min", "1")
    expect(max_depth).to_have_attribute("step", "1")
    puts: list[str] = []
    page.on("request", lambda r: puts.append(r.post_data or "") if r.method in ("PUT", "POST") else None)
    max_depth.fill("0")
    field = page.locator('[data-field-path="hyperparameters.max_depth"]')
    expect(field.locator(".field-error")).to_have_text("must be >= 1, got 0")
    run_training(page)
    expect(max_depth).to_have_attribute("aria-invalid", "true")
    expect(max_depth).to_be_focused()
    page.wait_for_timeout(1200)  # longer than the autosave's debounce
    assert not [body for body in puts if '"max_depth": 0' in body or '"max_depth":0' in body], puts
    expect(badge(page, "train-model-1")).to_have_count(0)

    # The API gives the very same message for the same value.
    pipeline_id = page.url.split("pipeline=")[1]
    graph = page.evaluate(f"fetch('/ml-workflow/api/pipelines/{pipeline_id}', {{headers: {{Authorization: "
                          f"'Bearer ' + sessionStorage.getItem('mlw.token')}}}}).then((r) => r.json())")
    config = next(n for n in graph["pipeline"]["graph"]["nodes"] if n["id"] == "train-model-1")["data"]["config"]
    assert "max_depth" not in config.get("hyperparameters", {})
    answer = page.request.post(
        live_server.url + "/ml-workflow/api/training-jobs",
        headers={"Authorization": f"Bearer {user_token}"},
        data={
            "dataset_source_id": graph["pipeline"]["dataset_source_id"],
            "node_id": "train-model-1",
            "graph": graph["pipeline"]["graph"],
            "config": {**config, "hyperparameters": {"max_depth": 0}},
        },
    )
    assert answer.status == 422
    error = answer.json()["error"]
    assert error["details"]["field"].endswith("hyperparameters.max_depth")
    assert error["message"].endswith("must be >= 1, got 0")  # the server may name the field first

    # Switching the family starts from the new family's defaults.
    page.get_by_label("n_estimators").fill("33")
    page.get_by_label("Model family").select_option("xgboost")
    expect(page.get_by_label("n_estimators")).to_have_value("")
    expect(page.get_by_label("max_depth")).to_have_value("")


def test_a_reload_mid_run_brings_back_the_graph_and_the_live_badge(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    sign_in(page, live_server.url, user_token)
    build_pipeline(page, dataset_csv, n_estimators=LONG_RUN_TREES)
    run_training(page)
    wait_for_status(page, "train-model-1", "running")
    expect(badge(page, "train-model-1")).to_have_text(re.compile(r"^Running \d+% · \w+$"))  # live progress
    saved(page)
    docs_screenshot(page, "ui-canvas-running.png")
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


REMOVED_CONTROLS_SCRIPT = """() => {
  window.__removedControls = 0;
  window.__progressChanges = 0;
  const status = document.querySelector('.node[data-node-id="train-model-1"] .node-status');
  new MutationObserver((records) => {
    for (const r of records) {
      for (const n of r.removedNodes) {
        if (n.nodeType === 1 && (n.matches('button, a') || n.querySelector('button, a'))) window.__removedControls += 1;
      }
      if (r.type === 'attributes' && r.target.tagName === 'PROGRESS') window.__progressChanges += 1;
    }
  }).observe(status, {subtree: true, childList: true, attributes: true});
  window.__cancel = status.querySelector('button.cancel');
}"""


def test_a_human_click_on_cancel_lands_while_progress_keeps_arriving(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    sign_in(page, live_server.url, user_token)
    build_pipeline(page, dataset_csv, n_estimators=LONG_RUN_TREES)
    panel = page.locator("aside.panel")
    panel.evaluate("(el) => { el.scrollTop = 250; }")
    assert panel.evaluate("(el) => el.scrollTop") > 0
    in_view = """(el) => {
      const box = el.getBoundingClientRect();
      const at = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 3);
      window.__inView = window.__inView || at.closest('.field, fieldset');
      return window.__inView.getBoundingClientRect().top;
    }"""
    top = panel.evaluate(in_view)
    run_training(page)
    wait_for_status(page, "train-model-1", "running")
    assert abs(panel.evaluate(in_view) - top) <= 1  # what the reader was looking at stays in place
    run_button = page.get_by_role("button", name="Run training")
    expect(run_button).to_be_disabled()
    expect(page.locator(".run-blocked")).to_have_text("Disabled while this node's job is active.")
    page.evaluate(REMOVED_CONTROLS_SCRIPT)
    cancel = node(page, "train-model-1").get_by_role("button", name=re.compile("Cancel"))
    before = cancel.bounding_box()
    for _ in range(150):  # progress is arriving (polled: the page's CSP forbids eval)
        if page.evaluate("window.__progressChanges") >= 3:
            break
        page.wait_for_timeout(200)
    assert page.evaluate("window.__progressChanges") >= 3
    box = cancel.bounding_box()
    assert before is not None and box is not None and box == before  # no layout shift
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.wait_for_timeout(150)
    page.mouse.up()
    wait_for_status(page, "train-model-1", "cancelled")
    expect(badge(page, "train-model-1")).to_have_text("Cancelled")
    assert page.evaluate("window.__removedControls") == 0
    assert page.evaluate("window.__cancel.isConnected")
    expect(run_button).to_be_enabled()


def test_the_board_pans_zooms_fits_arranges_and_undoes(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    sign_in(page, live_server.url, user_token)
    build_pipeline(page, dataset_csv)
    board = page.locator(".board")
    scale = lambda: float(board.get_attribute("data-scale") or "0")  # noqa: E731
    pan = lambda: (int(board.get_attribute("data-pan-x") or 0), int(board.get_attribute("data-pan-y") or 0))  # noqa: E731
    area = board.bounding_box()
    assert area is not None
    empty = (area["x"] + area["width"] - 30, area["y"] + area["height"] - 30)

    page.mouse.move(*empty)
    start_scale = scale()
    page.mouse.wheel(0, -300)
    expect(board).not_to_have_attribute("data-scale", f"{start_scale:.3f}")
    assert scale() > start_scale
    before = pan()
    page.mouse.down()
    page.mouse.move(empty[0] - 120, empty[1] - 60, steps=8)
    page.mouse.up()
    assert pan() == (before[0] - 120, before[1] - 60)
    board.focus()
    page.keyboard.press("-")
    page.keyboard.press("ArrowLeft")
    page.get_by_role("button", name="Fit to view").click()
    for node_id in ("dataset-source-1", "train-test-split-1", "train-model-1"):
        box = node(page, node_id).bounding_box()
        assert box is not None
        assert area["x"] <= box["x"] and box["x"] + box["width"] <= area["x"] + area["width"], node_id
    edges = page.locator("svg.edges path.edge:not(.ghost)")
    expect(edges.first).to_have_attribute("marker-end", "url(#arrow)")
    assert " C " in (edges.first.get_attribute("d") or "")  # a curve, not a stub

    # Arrange left to right, then undo it; labels are edited in place.
    positions = lambda: page.evaluate(  # noqa: E731
        "[...document.querySelectorAll('.node')].map((n) => [n.dataset.nodeId, n.style.left, n.style.top])"
    )
    node(page, "train-model-1").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    moved = positions()
    page.get_by_role("button", name="Arrange left to right").click()
    arranged = positions()
    assert arranged != moved and len({top for _, _, top in arranged}) == 1  # one row, left to right
    assert [left for _, left, _ in sorted(arranged, key=lambda p: float(p[1][:-2]))] == [p[1] for p in sorted(
        arranged, key=lambda p: ["dataset-source-1", "train-test-split-1", "train-model-1"].index(p[0]))]
    page.get_by_role("button", name="Undo").click()
    assert positions() == moved
    page.get_by_role("button", name="Redo").click()
    assert positions() == arranged

    node(page, "train-model-1").locator(".node-title").dblclick()
    editor = page.get_by_role("textbox", name="Node label")
    editor.first.fill("Churn forest")
    editor.first.press("Enter")
    expect(node(page, "train-model-1").locator(".node-title")).to_have_text("Churn forest")
    expect(node(page, "train-model-1")).to_have_attribute("title", re.compile("id train-model-1"))
    saved(page)

    # Multi-select and delete, then undo brings both back with their edge.
    node(page, "train-test-split-1").locator(".node-title").click()
    node(page, "train-model-1").locator(".node-title").click(modifiers=["Shift"])
    expect(page.locator(".node.selected")).to_have_count(2)
    page.get_by_role("button", name="Delete selected nodes").click()
    expect(page.locator(".node")).to_have_count(1)
    page.keyboard.press("Control+z")
    expect(page.locator(".node")).to_have_count(3)
    expect(edges).to_have_count(2)


def test_a_fresh_user_opens_the_example_in_one_click_and_finds_it_in_the_pipeline_list(
    page: Page, live_server: LiveServer, user_token: str
) -> None:
    sign_in(page, live_server.url, user_token)
    page.get_by_role("button", name="Open example").click()
    expect(page).to_have_url(re.compile(r"/\?pipeline="))
    expect(page.locator(".node")).to_have_count(4)
    expect(page.get_by_label("Pipeline name")).to_have_value(re.compile("^Example"))
    run = page.get_by_role("button", name=re.compile("Run training|Save configuration"))
    node(page, "train").locator(".node-title").click()
    box = run.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 900  # visible without scrolling at 1440x900
    page.get_by_label("Pipeline name").fill("My first pipeline")
    page.get_by_label("Pipeline name").press("Enter")
    url = page.url
    page.get_by_role("link", name="Pipelines", exact=True).click()
    row = page.locator("tr[data-pipeline-id]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("My first pipeline")
    expect(row).to_contain_text("4")
    row.get_by_role("button", name=re.compile("^Duplicate")).click()
    expect(row).to_have_count(2)
    expect(page.get_by_role("link", name="My first pipeline (copy)", exact=True)).to_be_visible()
    page.get_by_role("button", name="Rename My first pipeline (copy)").click()
    page.get_by_label("New name").fill("Second try")
    page.get_by_label("New name").press("Enter")
    expect(page.get_by_role("link", name="Second try", exact=True)).to_be_visible()
    docs_screenshot(page, "ui-pipelines.png")
    page.get_by_role("button", name="Delete Second try").click()
    dialog = page.get_by_role("dialog", name="Delete Second try?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(row).to_have_count(2)
    page.get_by_role("button", name="Delete Second try").click()
    dialog.get_by_role("button", name="Delete pipeline").click()
    expect(row).to_have_count(1)
    expect(page.get_by_text("Deleted Second try.")).to_be_visible()
    page.get_by_role("link", name="My first pipeline", exact=True).click()
    expect(page).to_have_url(url)
    expect(page.locator(".node")).to_have_count(4)
    page.reload()  # the URL names the pipeline: a reload opens it again
    expect(page.get_by_label("Pipeline name")).to_have_value("My first pipeline")
    docs_screenshot(page, "ui-example.png")
