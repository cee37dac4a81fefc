"""What a person does on the canvas and the dashboard, as reusable steps for the browser tests."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import LiveServer
from tests.job_fixtures import graph_node

API = "/ml-workflow/api"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def docs_screenshot(target: Page | Locator, name: str, *, full_page: bool = False) -> None:
    """Take the screenshot ``docs/<name>`` shows; write it there only with ``UPDATE_DOCS_SCREENSHOTS=1``.

    The page is rendered to an image either way; a test run leaves the tracked images alone
    unless asked to refresh them.
    """
    path = str(DOCS / name) if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1" else None
    if isinstance(target, Page):
        image = target.screenshot(path=path, full_page=full_page)
    else:
        image = target.screenshot(path=path)
    assert image.startswith(b"\x89PNG"), name

BADGE_LOG_SCRIPT = """
window.__badges = [];
new MutationObserver(() => {
  for (const badge of document.querySelectorAll('.node .badge[data-status]')) {
    const entry = badge.closest('.node').dataset.nodeId + ':' + badge.dataset.status;
    if (window.__badges[window.__badges.length - 1] !== entry) window.__badges.push(entry);
  }
}).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""
"""Records every status a node badge shows, in order (a status may last only milliseconds)."""


def sign_in(page: Page, base_url: str, token: str, path: str = "/") -> None:
    page.goto(base_url + path)
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def node(page: Page, node_id: str) -> Locator:
    return page.locator(f'.node[data-node-id="{node_id}"]')


def badge(page: Page, node_id: str) -> Locator:
    return node(page, node_id).locator(".badge")


def upload_dataset(page: Page, csv: Path) -> None:
    page.get_by_label("Upload CSV or Parquet").set_input_files(str(csv))
    expect(node(page, "dataset-source-1")).to_be_visible()


def add_node(page: Page, label: str) -> None:
    page.get_by_role("button", name=f"Add {label} node").click()


def drag_connect(page: Page, source: str, target: str) -> None:
    """Drag from the source node's output port and drop on the target node."""
    port = node(page, source).locator(".port.out").bounding_box()
    box = node(page, target).bounding_box()
    assert port is not None and box is not None
    page.mouse.move(port["x"] + port["width"] / 2, port["y"] + port["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=10)
    page.mouse.up()


def select_node(page: Page, node_id: str) -> None:
    node(page, node_id).locator(".node-title").click()
    expect(page.locator("#panel-title")).to_be_visible()


def build_pipeline(page: Page, csv: Path, *, n_estimators: int | None = None) -> None:
    """Dataset → split → train (random forest on ``label``), connected by dragging ports."""
    upload_dataset(page, csv)
    add_node(page, "Train/test split")
    add_node(page, "Train model")
    drag_connect(page, "dataset-source-1", "train-test-split-1")
    drag_connect(page, "train-test-split-1", "train-model-1")
    expect(page.locator("svg.edges path.edge:not(.ghost)")).to_have_count(2)
    select_node(page, "train-model-1")
    page.get_by_label("Model family").select_option("random_forest")
    page.get_by_label("Target column").select_option("label")
    if n_estimators is not None:
        page.get_by_label("n_estimators").fill(str(n_estimators))


def run_training(page: Page) -> None:
    page.get_by_role("button", name="Run training").click()


def wait_for_status(page: Page, node_id: str, status: str, timeout_ms: int = 60_000) -> None:
    expect(badge(page, node_id)).to_have_attribute("data-status", status, timeout=timeout_ms)


def saved(page: Page) -> None:
    expect(page.locator(".save-state")).to_have_text(re.compile(r"^(Saved|All changes saved)"))


LOW_CONTRAST_SCRIPT = """() => {
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (el) => {
    for (let at = el; at; at = at.parentElement) {
      const bg = rgb(getComputedStyle(at).backgroundColor);
      if (bg.length === 3 || (bg.length === 4 && bg[3] === 1)) return bg.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest('[disabled], .sr-only, .tip, option') || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || Number(style.opacity) < 1) continue;
    const [a, b] = [lum(rgb(style.color).slice(0, 3)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const what = `${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}"`;
    if (ratio < 4.5) low.push(`${what}: ${ratio.toFixed(2)}`);
  }
  return low;
}"""
"""Text elements whose colour has less than WCAG AA contrast (4.5:1) with their background."""


def upload_csv(page: Page, server: LiveServer, token: str, name: str, csv: Path) -> str:
    """Upload ``csv`` as ``name`` through ``POST /datasets`` (as the canvas does); the new dataset's id."""
    answer = page.request.post(
        server.url + API + "/datasets",
        headers={"Authorization": f"Bearer {token}"},
        multipart={"file": {"name": name, "mimeType": "text/csv", "buffer": csv.read_bytes()}},
    )
    assert answer.status == 201, answer.text()
    return str(answer.json()["id"])


def seed_pipeline(page: Page, server: LiveServer, token: str, csv: Path) -> tuple[str, str, dict[str, Any]]:
    """Upload ``csv`` and save the pipeline "Churn study" (source → split → train node ``forest``) through the API.

    Returns the pipeline id, the dataset id and the graph.
    """
    auth = {"Authorization": f"Bearer {token}"}
    api = server.url + API
    dataset_id = upload_csv(page, server, token, "churn.csv", csv)

    # Built by hand: the canvas shows this graph as saved, so its positions, labels and the source's dataset id
    # are what the browser tests see and drag from (graph_for lays nodes out for machines, not for a viewport).
    graph = {
        "nodes": [
            graph_node("source", "dataset_source", {"dataset_source_id": dataset_id}, x=40, y=40, label="Churn data"),
            graph_node("split", "train_test_split", {"test_size": 0.25, "random_state": 1}, x=340, y=40,
                       label="Split"),
            graph_node("forest", "train_model", {"model_type": "random_forest", "target": "label"}, x=640, y=40,
                       label="Churn forest"),
        ],
        "edges": [
            {"id": "e1", "source": "source", "target": "split"},
            {"id": "e2", "source": "split", "target": "forest"},
        ],
    }
    saved = page.request.put(
        f"{api}/pipelines", headers=auth, data={"dataset_source_id": dataset_id, "graph": graph, "name": "Churn study"}
    )
    assert saved.ok, saved.text()
    return saved.json()["pipeline"]["pipeline_id"], dataset_id, graph


def seed_three_versions(page: Page, server: LiveServer, token: str, csv: Path) -> tuple[str, list[str]]:
    """One named pipeline and three succeeded jobs (tags a, b, b) made through the API."""
    auth = {"Authorization": f"Bearer {token}"}
    api = server.url + API
    pipeline_id, dataset_id, graph = seed_pipeline(page, server, token, csv)
    jobs = []
    for trees, depth, tag in ((3, 1, "a"), (15, 2, "b"), (40, 6, "b")):
        config = {
            "model_type": "random_forest",
            "target": "label",
            "experiment_tag": tag,
            "hyperparameters": {"n_estimators": trees, "max_depth": depth},
        }
        body = {"dataset_source_id": dataset_id, "node_id": "forest", "graph": graph, "config": config,
                "pipeline_id": pipeline_id}
        answer = page.request.post(f"{api}/training-jobs", headers=auth, data=body)
        assert answer.status == 202, answer.text()
        jobs.append(answer.json()["id"])
        for _ in range(300):  # one at a time: one active job per node
            status = page.request.get(f"{api}/training-jobs/{jobs[-1]}", headers=auth).json()["status"]
            if status in ("succeeded", "failed", "cancelled"):
                break
            page.wait_for_timeout(200)
        assert status == "succeeded"
    return pipeline_id, jobs
