"""The canvas follows every job of its pipeline's nodes, whoever started it (another tab, the dashboard, the API)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from tests.browser.conftest import LiveServer
from tests.browser.steps import API, BADGE_LOG_SCRIPT, badge, node, seed_pipeline, select_node, sign_in

pytestmark = pytest.mark.browser

NO_VERSION = "Train this node first: predictions need a model version."
TERMINAL = ("succeeded", "failed", "cancelled")


class Api:
    """The REST API as another tab (or a script) of the same user uses it."""

    def __init__(self, page: Page, server: LiveServer, token: str) -> None:
        self.request = page.request
        self.base = server.url + API
        self.auth = {"Authorization": f"Bearer {token}"}

    def post(self, path: str, body: Any) -> Any:
        answer = self.request.post(self.base + path, headers=self.auth, data=body)
        assert answer.ok, answer.text()
        return answer.json()

    def put(self, path: str, body: Any) -> Any:
        answer = self.request.put(self.base + path, headers=self.auth, data=body)
        assert answer.ok, answer.text()
        return answer.json()

    def get(self, path: str) -> Any:
        answer = self.request.get(self.base + path, headers=self.auth)
        assert answer.ok, answer.text()
        return answer.json()

    def upload(self, name: str, csv: Path) -> str:
        answer = self.request.post(
            self.base + "/datasets",
            headers=self.auth,
            multipart={"file": {"name": name, "mimeType": "text/csv", "buffer": csv.read_bytes()}},
        )
        assert answer.status == 201, answer.text()
        return str(answer.json()["id"])

    def train(self, pipeline_id: str, dataset_id: str, graph: dict[str, Any], trees: int) -> str:
        config = {"model_type": "random_forest", "target": "label", "hyperparameters": {"n_estimators": trees}}
        body = {"dataset_source_id": dataset_id, "node_id": "forest", "graph": graph, "config": config,
                "pipeline_id": pipeline_id}
        return str(self.post("/training-jobs", body)["id"])

    def settled(self, page: Page, job_id: str) -> str:
        for _ in range(600):
            status = str(self.get(f"/training-jobs/{job_id}")["status"])
            if status in TERMINAL:
                return status
            page.wait_for_timeout(100)
        raise AssertionError(f"job {job_id} did not finish")


def _badge_job(page: Page) -> str:
    return (badge(page, "forest").get_attribute("href") or "").rsplit("/", 1)[-1]


@pytest.mark.timeout(180)
def test_the_canvas_follows_jobs_started_elsewhere_and_resyncs_after_a_reconnect(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    api = Api(page, live_server, user_token)
    pipeline_id, dataset_id, graph = seed_pipeline(page, live_server, user_token, dataset_csv)
    # The same user's other pipeline, with a training node of the same id.
    other_graph = copy.deepcopy(graph)
    other_graph["nodes"][1]["data"]["config"]["test_size"] = 0.3
    other_id = api.put("/pipelines", {"dataset_source_id": dataset_id, "graph": other_graph})["pipeline"]["pipeline_id"]
    assert other_id != pipeline_id

    # The page's websocket goes through the test, which can cut it (and refuse reconnects) at will.
    link: dict[str, Any] = {"refuse": False, "open": []}

    def relay(ws: WebSocketRoute) -> None:
        if link["refuse"]:
            ws.close(code=1001, reason="refused by the test")
            return
        link["open"].append((ws, ws.connect_to_server()))

    page.route_web_socket(re.compile(r"/ml-workflow/ws$"), relay)
    page.add_init_script(BADGE_LOG_SCRIPT)
    sign_in(page, live_server.url, user_token, path=f"/?pipeline={pipeline_id}")
    expect(page.locator("#live-state")).to_have_text("Live")
    forest = node(page, "forest")
    metric = forest.locator(".node-metric")
    expect(metric).to_have_text("No active version yet")
    select_node(page, "forest")
    panel = page.get_by_role("region", name="Batch predictions")
    expect(panel.get_by_text(NO_VERSION)).to_be_visible()

    # A job of the same node id on another pipeline of the same user never shows here.
    elsewhere = api.train(other_id, dataset_id, other_graph, trees=3)
    assert api.settled(page, elsewhere) == "succeeded"
    page.wait_for_timeout(1_000)
    expect(badge(page, "forest")).to_have_count(0)
    expect(metric).to_have_text("No active version yet")

    # A job started through the API (as another tab would): its badge goes live from the queue to success,
    # then the card's active version and the panel's model list show v1, without a reload.
    first = api.train(pipeline_id, dataset_id, graph, trees=20)
    expect(badge(page, "forest")).to_have_attribute("data-status", "succeeded", timeout=60_000)
    assert _badge_job(page) == first
    statuses = page.evaluate("window.__badges")
    assert statuses[0] in ("forest:queued", "forest:running"), statuses
    assert statuses[-1] == "forest:succeeded", statuses
    expect(badge(page, "forest")).to_contain_text("v1")
    expect(metric).to_contain_text("Active v1")
    model = panel.get_by_label("Model", exact=True)
    expect(model.locator('option[value="1"]')).to_have_text("v1")
    expect(panel.get_by_text(NO_VERSION)).to_be_hidden()

    # Batch predictions of the node's model are not the node's job: the badge stays its training.
    predicted = api.post(f"/pipelines/{pipeline_id}/nodes/forest/versions/1/predictions",
                         {"dataset_id": dataset_id, "format": "csv"})["id"]
    assert api.settled(page, predicted) == "succeeded"
    page.wait_for_timeout(1_000)
    assert _badge_job(page) == first
    expect(badge(page, "forest")).to_have_attribute("data-status", "succeeded")

    # The link drops; a job runs meanwhile; once the page is back it resyncs from the hub's snapshot.
    link["refuse"] = True
    for page_side, server_side in link["open"]:
        server_side.close()
        page_side.close(code=1001, reason="cut by the test")
    link["open"].clear()
    expect(page.locator("#live-state")).to_have_text("Reconnecting…")
    second = api.train(pipeline_id, dataset_id, graph, trees=5)
    assert api.settled(page, second) == "succeeded"
    page.wait_for_timeout(500)
    assert _badge_job(page) == first  # nothing arrives while the link is down
    link["refuse"] = False
    expect(page.locator("#live-state")).to_have_text("Live", timeout=20_000)
    expect(badge(page, "forest")).to_have_attribute("href", f"/user/training-jobs/{second}")
    expect(badge(page, "forest")).to_contain_text("v2")
    expect(model.locator('option[value="2"]')).to_have_text("v2")
    expect(metric).to_contain_text("Active v1")  # the first version stays active until promoted


@pytest.mark.timeout(180)
def test_the_predictions_dataset_list_follows_uploads_and_keeps_the_choice(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path, tmp_path: Path
) -> None:
    api = Api(page, live_server, user_token)
    pipeline_id, dataset_id, graph = seed_pipeline(page, live_server, user_token, dataset_csv)
    assert api.settled(page, api.train(pipeline_id, dataset_id, graph, trees=3)) == "succeeded"
    sign_in(page, live_server.url, user_token, path=f"/?pipeline={pipeline_id}")
    select_node(page, "forest")
    panel = page.get_by_role("region", name="Batch predictions")
    datasets = panel.get_by_label("Dataset", exact=True)
    expect(datasets.locator(f'option[value="{dataset_id}"]')).to_have_count(1)
    datasets.select_option(dataset_id)

    # Uploaded in another tab: opening the list reads it again, and the choice stays.
    elsewhere = tmp_path / "elsewhere.csv"
    pd.read_csv(dataset_csv).head(60).to_csv(elsewhere, index=False)
    other_id = api.upload("elsewhere.csv", elsewhere)
    datasets.focus()
    expect(datasets.locator(f'option[value="{other_id}"]')).to_have_count(1)
    expect(datasets).to_have_value(dataset_id)

    # Uploaded on the canvas: the list follows at once (the upload also becomes the pipeline's dataset,
    # so the canvas moves to that data path; choosing the first dataset again brings the node's versions back).
    canvas_csv = tmp_path / "on_canvas.csv"
    pd.read_csv(dataset_csv).head(40).to_csv(canvas_csv, index=False)
    page.get_by_label("Upload CSV or Parquet").set_input_files(str(canvas_csv))
    expect(datasets.locator("option", has_text="on_canvas")).to_have_count(1)
    expect(datasets).to_have_value(dataset_id)
    expect(panel.get_by_text(NO_VERSION)).to_be_visible()  # saved: the node is on the new data path now
    page.locator(".dataset-bar select").select_option(dataset_id)
    expect(panel.get_by_label("Model", exact=True).locator('option[value="1"]')).to_have_text("v1")
    expect(datasets.locator("option", has_text="on_canvas")).to_have_count(1)
