"""The live client holds only the topics the page still needs: bounded over many runs, and after a reconnect."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from tests.browser.conftest import LiveServer
from tests.browser.steps import BADGE_LOG_SCRIPT, badge, node, run_training, seed_pipeline, select_node, sign_in
from tests.browser.test_canvas_live import Api

pytestmark = pytest.mark.browser


class Link:
    """The page's websockets, relayed by the test: every frame the page sends is recorded, and cut at will."""

    def __init__(self, page: Page) -> None:
        self.sockets: list[dict[str, Any]] = []
        page.route_web_socket(re.compile(r"/ml-workflow/ws$"), self.relay)

    def relay(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        sock: dict[str, Any] = {"page": ws, "server": server, "sent": []}
        self.sockets.append(sock)

        def from_page(message: str | bytes) -> None:
            sock["sent"].append(json.loads(message))
            server.send(message)

        ws.on_message(from_page)

    def frames(self, op: str, index: int = -1) -> list[dict[str, Any]]:
        return [f for f in self.sockets[index]["sent"] if f.get("op") == op]

    def held(self, index: int = -1) -> set[str]:
        """The topics the socket holds on the hub: its subscribes minus its unsubscribes, in order."""
        held: set[str] = set()
        for frame in self.sockets[index]["sent"]:
            keys = {f"{kind}:{value}" for topic in frame.get("topics", []) for kind, value in topic.items()}
            if frame.get("op") == "subscribe":
                held |= keys
            elif frame.get("op") == "unsubscribe":
                held -= keys
        return held

    def cut(self) -> None:
        for sock in self.sockets:
            if sock.get("cut"):
                continue
            sock["cut"] = True
            sock["server"].close()
            sock["page"].close(code=1001, reason="cut by the test")


def _badge_job(page: Page) -> str:
    return (badge(page, "forest").get_attribute("href") or "").rsplit("/", 1)[-1]


def _run(page: Page, api: Api, trees: int) -> str:
    """Run the node from its panel; the new job's id once its badge shows success."""
    before = _badge_job(page) if badge(page, "forest").count() else ""
    page.get_by_label("n_estimators").fill(str(trees))
    run_training(page)
    for _ in range(200):
        job_id = _badge_job(page) if badge(page, "forest").count() else ""
        if job_id and job_id != before:
            break
        page.wait_for_timeout(50)
    assert job_id and job_id != before
    expect(badge(page, "forest")).to_have_attribute("data-status", "succeeded", timeout=60_000)
    assert api.settled(page, job_id) == "succeeded"
    return job_id


@pytest.mark.timeout(240)
def test_the_canvas_holds_bounded_topics_over_runs_and_resubscribes_only_them_after_a_reconnect(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path, tmp_path: Path
) -> None:
    api = Api(page, live_server, user_token)
    pipeline_id, _, _ = seed_pipeline(page, live_server, user_token, dataset_csv)
    other_csv = tmp_path / "other.csv"
    pd.read_csv(dataset_csv).head(80).to_csv(other_csv, index=False)
    other_dataset = api.upload("other.csv", other_csv)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    link = Link(page)
    page.add_init_script(BADGE_LOG_SCRIPT)
    sign_in(page, live_server.url, user_token, path=f"/?pipeline={pipeline_id}")
    expect(page.locator("#live-state")).to_have_text("Live")
    select_node(page, "forest")
    pipeline_topic = f"pipeline_id:{pipeline_id}"

    # Several runs from the canvas: the pipeline topic brings their events, so the topics held stay the same.
    jobs = []
    held_after = []
    for trees in (3, 4, 5):
        jobs.append(_run(page, api, trees))
        page.wait_for_timeout(300)  # an unsubscribe that follows the final event has gone out
        held_after.append(link.held())
    assert len(set(jobs)) == 3
    assert held_after == [{pipeline_topic}] * 3, held_after
    assert all(len(f["topics"]) <= 100 for f in link.sockets[-1]["sent"] if "topics" in f)

    # The link drops and comes back: the one re-subscribe carries only the wanted topic, with the seqs seen.
    sockets_before = len(link.sockets)
    link.cut()
    expect(page.locator("#live-state")).to_have_text("Live", timeout=20_000)
    assert len(link.sockets) > sockets_before
    for _ in range(50):
        if link.frames("subscribe"):
            break
        page.wait_for_timeout(100)
    resubscribe = link.frames("subscribe")
    assert [f["topics"] for f in resubscribe] == [[{"pipeline_id": pipeline_id}]], resubscribe
    assert set(jobs) <= set(resubscribe[0]["since"]), resubscribe[0]["since"]

    # Live updates keep coming: a run started after the reconnect shows live on the canvas.
    page.evaluate("window.__badges = []")
    fourth = _run(page, api, 6)
    assert fourth not in jobs
    statuses = page.evaluate("window.__badges")
    # (the first entry may be the previous job's success, patched once more before the new job shows)
    assert {"forest:queued", "forest:running"} & set(statuses), statuses
    assert statuses[-1] == "forest:succeeded", statuses
    page.wait_for_timeout(300)
    assert link.held() == {pipeline_topic}

    # Another data path is another pipeline: its topic replaces the old one.
    page.locator(".dataset-bar select").select_option(other_dataset)
    for _ in range(100):
        held = link.held()
        if held != {pipeline_topic}:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1 and next(iter(held)).startswith("pipeline_id:") and held != {pipeline_topic}, held
    assert not [e for e in errors if "live:" in e], errors


@pytest.mark.timeout(120)
def test_the_live_client_chunks_frames_and_surfaces_a_refused_subscription(
    page: Page, live_server: LiveServer, user_token: str
) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    link = Link(page)
    sign_in(page, live_server.url, user_token, path="/user/training-jobs")
    expect(page.locator("#live-state")).to_have_text("Live")
    # A client of its own, driven against the real hub: 150 topics are more than one socket may hold.
    page.evaluate("""async () => {
      const { LiveClient } = await import("/static/js/live.js");
      const client = new LiveClient().start();
      window.__client = client;
      await new Promise((ok) => client.onState((s) => s === "live" && ok()));
      const topics = Array.from({ length: 150 }, (_, i) => ({ job_id: `job-${i}` }));
      client.subscribe(...topics.slice(0, 60));
      client.unsubscribe(...topics.slice(0, 30));
      client.subscribe(...topics.slice(60));
    }""")
    for _ in range(50):
        if any("too_many_topics" in e for e in errors):
            break
        page.wait_for_timeout(100)
    assert any("too_many_topics" in e for e in errors), errors
    sent = [f for f in _client_socket(link)["sent"] if f["op"] != "auth"]
    assert [(f["op"], len(f["topics"])) for f in sent] == [("subscribe", 60), ("unsubscribe", 30), ("subscribe", 90)]

    # 150 held: after a reconnect they go in frames of at most 100 (the hub takes the first, refuses the rest),
    # and the refusal is reported.
    errors.clear()
    page.evaluate("() => window.__client.subscribe(...Array.from({ length: 30 }, (_, i) => ({ job_id: `job-${i}` })))")
    before = _client_socket(link)
    link.cut()
    for _ in range(100):
        if _client_socket(link) is not before and any("too_many_topics" in e for e in errors):
            break
        page.wait_for_timeout(100)
    frames = [f for f in _client_socket(link)["sent"] if f["op"] == "subscribe"]
    assert [len(f["topics"]) for f in frames] == [100, 50], frames
    assert any("too_many_topics" in e for e in errors), errors
    page.evaluate("() => window.__client.stop()")


@pytest.mark.timeout(120)
def test_the_since_map_a_subscribe_sends_stays_bounded_and_keeps_the_jobs_seen_last(
    page: Page, live_server: LiveServer, user_token: str
) -> None:
    link = Link(page)
    sign_in(page, live_server.url, user_token, path="/user/training-jobs")
    expect(page.locator("#live-state")).to_have_text("Live")
    # 3,000 jobs seen over a long session (snapshots list up to 200 per pipeline topic), then one subscribe.
    limit = page.evaluate("""async () => {
      const { LiveClient, MAX_REMEMBERED_SEQS } = await import("/static/js/live.js");
      const client = new LiveClient().start();
      window.__client = client;
      await new Promise((ok) => client.onState((s) => s === "live" && ok()));
      for (let i = 0; i < 3000; i++) client.noteSeq(`job-${String(i).padStart(32, "0")}`, 7);
      client.noteSeq(`job-${String(5).padStart(32, "0")}`, 8);  // an old job that moved on is kept
      client.subscribe({ job_id: "job-x" });
      return MAX_REMEMBERED_SEQS;
    }""")
    for _ in range(50):
        frames = [f for f in _client_socket(link)["sent"] if f["op"] == "subscribe"] if any(
            t.get("job_id") == "job-x" for s in link.sockets for f in s["sent"] for t in f.get("topics", [])) else []
        if frames:
            break
        page.wait_for_timeout(100)
    since = frames[-1]["since"]
    assert len(since) == limit == 1000
    assert len(json.dumps(frames[-1])) < 64 * 1024
    assert since[f"job-{5:032d}"] == 8
    assert f"job-{2999:032d}" in since and f"job-{1000:032d}" not in since
    page.evaluate("() => window.__client.stop()")


def _client_socket(link: Link) -> dict[str, Any]:
    """The newest socket of the test's own client (the one that subscribes `job-N` topics)."""
    ours = [s for s in link.sockets if any(t.get("job_id", "").startswith("job-") for f in s["sent"]
                                           for t in f.get("topics", []))]
    return ours[-1]


@pytest.mark.timeout(180)
def test_a_job_left_running_on_the_previous_pipeline_id_keeps_a_topic_until_it_ends(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    pipeline_id, _, _ = seed_pipeline(page, live_server, user_token, dataset_csv)
    link = Link(page)
    sign_in(page, live_server.url, user_token, path=f"/?pipeline={pipeline_id}")
    expect(page.locator("#live-state")).to_have_text("Live")
    select_node(page, "forest")
    page.get_by_label("n_estimators").fill("5000")  # still running when the data path changes
    run_training(page)
    expect(badge(page, "forest")).to_have_attribute("data-status", "running", timeout=60_000)
    job_id = _badge_job(page)
    assert link.held() == {f"pipeline_id:{pipeline_id}"}

    # Editing the data path saves a new pipeline id: its topic replaces the old one, and the job still running
    # on the old id gets a topic of its own (subscribed before the old pipeline's topic goes).
    select_node(page, "split")
    page.get_by_label("test_size").fill("0.3")
    expect(page.locator('[data-banner="soft-lock"]')).to_contain_text("rerunning may produce different results")
    for _ in range(100):
        held = link.held()
        if f"pipeline_id:{pipeline_id}" not in held:
            break
        page.wait_for_timeout(100)
    new_pipeline = [t for t in held if t.startswith("pipeline_id:")]
    assert len(new_pipeline) == 1 and new_pipeline[0] != f"pipeline_id:{pipeline_id}", held
    assert held == {new_pipeline[0], f"job_id:{job_id}"}, held
    sent = [(f["op"], t) for f in link.sockets[-1]["sent"] for t in f.get("topics", [])]
    assert sent.index(("subscribe", {"job_id": job_id})) < sent.index(("unsubscribe", {"pipeline_id": pipeline_id}))

    # Cancelled from the canvas: the end arrives live on the job topic, which then goes.
    node(page, "forest").get_by_role("button", name=re.compile("Cancel")).click()
    expect(badge(page, "forest")).to_have_attribute("data-status", "cancelled", timeout=60_000)
    page.wait_for_timeout(300)
    assert link.held() == {new_pipeline[0]}
