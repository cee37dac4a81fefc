"""Named aliases on the job page: chips in the versions table, set, move (asked first), remove, history."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import axe_violations
from tests.browser.conftest import LiveServer
from tests.browser.steps import API, docs_screenshot, seed_three_versions, sign_in

pytestmark = pytest.mark.browser



def _api(server: LiveServer, token: str, path: str, body: Any = None, method: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(server.url + API + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_the_owner_sets_moves_and_removes_an_alias_and_reads_its_history(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    pipeline_id, jobs = seed_three_versions(page, live_server, user_token, dataset_csv)
    me = _api(live_server, user_token, "/users/me")["name"]
    sign_in(page, live_server.url, user_token, path=f"/user/training-jobs/{jobs[2]}")
    row = lambda version: page.locator(f'table.versions tr[data-version="{version}"]')  # noqa: E731
    expect(row(1).locator('.chip[data-alias="active"]')).to_be_visible()  # active by default
    panel = page.locator("section", has=page.get_by_role("heading", name="Aliases"))

    # Set champion on v2 from the panel.
    panel.get_by_label("Alias", exact=True).fill("champion")
    panel.get_by_label("Version", exact=True).select_option("2")
    panel.get_by_role("button", name="Set alias", exact=True).click()
    expect(panel.get_by_text("champion set to v2.")).to_be_visible()
    expect(row(2).locator('.chip[data-alias="champion"]')).to_be_visible()

    # Move it to v3 from v3's row: asked first; cancelling changes nothing.
    row(3).get_by_role("button", name="Set alias on v3").click()
    expect(panel.get_by_label("Version", exact=True)).to_have_value("3")
    expect(panel.get_by_label("Alias", exact=True)).to_be_focused()
    page.keyboard.type("champion")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Move champion to v3?")
    expect(dialog).to_contain_text("from v2 to v3")
    dialog.get_by_role("button", name="Cancel").click()
    expect(row(2).locator('.chip[data-alias="champion"]')).to_be_visible()
    panel.get_by_role("button", name="Set alias", exact=True).click()
    page.get_by_role("dialog", name="Move champion to v3?").get_by_role("button", name="Move champion").click()
    expect(panel.get_by_text("champion moved from v2 to v3.")).to_be_visible()
    expect(row(3).locator('.chip[data-alias="champion"]')).to_be_visible()
    expect(row(2).locator(".chip")).to_have_count(0)

    # A second alias, then its removal, asked first.
    panel.get_by_label("Alias", exact=True).fill("staging")
    panel.get_by_label("Version", exact=True).select_option("1")
    panel.get_by_role("button", name="Set alias", exact=True).click()
    expect(row(1).locator('.chip[data-alias="staging"]')).to_be_visible()
    panel.get_by_role("button", name="Remove staging").click()
    page.get_by_role("dialog", name="Remove staging?").get_by_role("button", name="Remove staging").click()
    expect(row(1).locator('.chip[data-alias="staging"]')).to_have_count(0)

    # champion's history: who moved it, from which version to which, newest first.
    panel.get_by_role("button", name="History of champion").click()
    history = panel.locator("table.alias-history-table tbody tr")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("moved v2 → v3")
    expect(history.first).to_contain_text(me)
    expect(history.nth(1)).to_contain_text("set to v2")
    assert axe_violations(page) == [], "job page with the alias panel and a history open"
    docs_screenshot(panel, "ui-aliases.png")

    # Moving active (what the service uses by default) asks too, and the API agrees with the page.
    panel.get_by_label("Alias", exact=True).fill("active")
    panel.get_by_label("Version", exact=True).select_option("3")
    panel.get_by_role("button", name="Set alias", exact=True).click()
    page.get_by_role("dialog", name="Move active to v3?").get_by_role("button", name="Move active").click()
    expect(row(3).locator('.chip[data-alias="active"]')).to_be_visible()
    node = f"/pipelines/{pipeline_id}/nodes/forest"
    assert _api(live_server, user_token, f"{node}/versions")["active_version"] == 3
    changes = _api(live_server, user_token, f"{node}/aliases/staging/history")["items"]
    assert [(c["action"], c["from_version"], c["to_version"]) for c in changes] == [
        ("remove", 1, None),
        ("set", None, 1),
    ]

    # A change made elsewhere (the API, another tab) reaches the open page over the websocket: no reload.
    _api(live_server, user_token, f"{node}/aliases/canary", {"version": 2})
    expect(row(2).locator('.chip[data-alias="canary"]')).to_be_visible()
    expect(panel.locator('tr[data-alias="canary"]')).to_contain_text("v2")
    _api(live_server, user_token, f"{node}/versions/1/promote", {})
    expect(row(1).locator('.chip[data-alias="active"]')).to_be_visible()
    expect(row(3).locator('.chip[data-alias="active"]')).to_have_count(0)

    # A long history pages: the newest 20 first, then the older ones on request.
    for version in (1, 2) * 10:
        _api(live_server, user_token, f"{node}/aliases/champion", {"version": version})
    page.reload()
    panel.get_by_role("button", name="History of champion").click()
    expect(history).to_have_count(20)
    panel.get_by_role("button", name="Older changes").click()
    expect(history).to_have_count(22)  # 2 + 20 changes of champion
    expect(history.last).to_contain_text("set to v2")
    expect(panel.get_by_role("button", name="Older changes")).to_have_count(0)


def test_the_canvas_node_card_follows_a_promotion_made_elsewhere_without_a_reload(
    page: Page, live_server: LiveServer, user_token: str, dataset_csv: Path
) -> None:
    pipeline_id, _ = seed_three_versions(page, live_server, user_token, dataset_csv)
    sign_in(page, live_server.url, user_token, path=f"/?pipeline={pipeline_id}")
    metric = page.locator('.node[data-node-id="forest"] .node-metric')
    expect(metric).to_contain_text("Active v1")
    _api(live_server, user_token, f"/pipelines/{pipeline_id}/nodes/forest/versions/3/promote", {})
    expect(metric).to_contain_text("Active v3")  # the alias.changed event, over the websocket
    _api(live_server, user_token, f"/pipelines/{pipeline_id}/nodes/forest/aliases/active", None, method="DELETE")
    expect(metric).to_contain_text("Active v1")
