"""Named aliases over HTTP: list, set/move, remove, history with paging; deleted versions; `active` compatibility."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.schemas.aliases import AliasDetailOut, AliasesOut, AliasHistoryOut, AliasWriteOut
from store.settings import Settings
from tests.server.conftest import API, People
from tests.server.seed import add_job, graph, save_pipeline, upload_csv

NODE = "train-1"


@pytest.fixture
async def node(client: TestClient[Any, Any], people: People, settings: Settings) -> str:
    """Alice's node with three versions; the URL of the node."""
    dataset_id = await upload_csv(client, people.alice)
    pid = await save_pipeline(client, people.alice, dataset_id, graph())
    for _ in range(3):
        await add_job(settings, people.alice, pid, NODE, dataset_id, status="succeeded", metrics={"test": {}})
    return f"{API}/pipelines/{pid}/nodes/{NODE}"


async def _json(resp: Any, status: int = 200) -> Any:
    assert resp.status == status, await resp.text()
    return await resp.json()


async def test_setting_moving_and_removing_aliases_is_listed_and_recorded_with_who_from_to_and_when(
    client: TestClient[Any, Any], people: People, node: str
) -> None:
    alice = people.alice.headers
    listed = AliasesOut.model_validate(await _json(await client.get(f"{node}/aliases", headers=alice)))
    assert [(a.alias, a.version, a.implicit) for a in listed.items] == [("active", 1, True)]

    first = AliasWriteOut.model_validate(
        await _json(await client.post(f"{node}/aliases/champion", json={"version": 2}, headers=alice))
    )
    assert (first.action, first.from_version, first.to_version, first.changed) == ("set", None, 2, True)
    assert first.changed_by == "alice"
    moved = await _json(await client.post(f"{node}/aliases/champion", json={"version": "3"}, headers=alice))
    assert (moved["action"], moved["from_version"], moved["to_version"]) == ("move", 2, 3)
    copied = await _json(await client.post(f"{node}/aliases/challenger", json={"version": "champion"}, headers=alice))
    assert copied["to_version"] == 3  # pointed where champion points
    again = await _json(await client.post(f"{node}/aliases/challenger", json={"version": 3}, headers=alice))
    assert again["changed"] is False and again["id"] == copied["id"]
    removed = await _json(await client.delete(f"{node}/aliases/challenger", headers=alice))
    assert (removed["action"], removed["from_version"], removed["to_version"]) == ("remove", 3, None)

    listed = AliasesOut.model_validate(await _json(await client.get(f"{node}/aliases", headers=alice)))
    assert [(a.alias, a.version, a.implicit) for a in listed.items] == [("active", 1, True), ("champion", 3, False)]
    versions = await _json(await client.get(f"{node}/versions", headers=alice))
    assert {v["version"]: v["aliases"] for v in versions["items"]} == {3: ["champion"], 2: [], 1: ["active"]}
    detail = AliasDetailOut.model_validate(await _json(await client.get(f"{node}/aliases/champion", headers=alice)))
    assert detail.version == detail.target.version == 3 and detail.target.aliases == ["champion"]

    history = AliasHistoryOut.model_validate(
        await _json(await client.get(f"{node}/aliases/champion/history", headers=alice))
    )
    assert [(h.action, h.from_version, h.to_version, h.changed_by) for h in history.items] == [
        ("move", 2, 3, "alice"),
        ("set", None, 2, "alice"),
    ]
    assert history.next_cursor is None
    gone = await _json(await client.get(f"{node}/aliases/challenger/history", headers=alice))
    assert [h["action"] for h in gone["items"]] == ["remove", "set"]  # a removed alias keeps its history
    assert (await client.get(f"{node}/aliases/challenger", headers=alice)).status == 404


async def test_setting_active_is_a_promotion_and_removing_it_returns_to_the_first_version(
    client: TestClient[Any, Any], people: People, node: str
) -> None:
    alice = people.alice.headers
    await _json(await client.post(f"{node}/aliases/active", json={"version": 3}, headers=alice))
    versions = await _json(await client.get(f"{node}/versions", headers=alice))
    assert versions["active_version"] == 3
    promoted = await _json(await client.post(f"{node}/versions/2/promote", headers=alice))
    assert promoted["previous_version"] == 3
    history = await _json(await client.get(f"{node}/aliases/active/history", headers=alice))
    assert [(h["from_version"], h["to_version"]) for h in history["items"]] == [(3, 2), (None, 3)]
    await _json(await client.delete(f"{node}/aliases/active", headers=alice))
    assert (await _json(await client.get(f"{node}/versions", headers=alice)))["active_version"] == 1
    error = (await _json(await client.delete(f"{node}/aliases/active", headers=alice), 404))["error"]
    assert error["details"]["kind"] == "alias"


async def test_a_deleted_version_cannot_be_aliased_and_an_aliased_version_cannot_be_deleted(
    client: TestClient[Any, Any], people: People, node: str
) -> None:
    alice = people.alice.headers
    await _json(await client.post(f"{node}/aliases/staging", json={"version": 2}, headers=alice))
    refused = (await _json(await client.delete(f"{node}/versions/2", headers=alice), 409))["error"]
    assert refused["code"] == "alias_points_here" and refused["details"]["aliases"] == ["staging"]
    assert "staging" in refused["message"]
    await _json(await client.delete(f"{node}/versions/3", headers=alice))
    error = (await _json(await client.post(f"{node}/aliases/staging", json={"version": 3}, headers=alice), 409))[
        "error"
    ]
    assert error["code"] == "version_deleted" and error["details"] == {"field": "version", "version": 3}
    assert (await _json(await client.get(f"{node}/aliases/staging", headers=alice)))["version"] == 2


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("aliases/Champion", {"version": 1}, "alias"),
        ("aliases/7up", {"version": 1}, "alias"),
        ("aliases/v3", {"version": 1}, "alias"),
        ("aliases/" + "a" * 65, {"version": 1}, "alias"),
        ("aliases/champion", {"version": 0}, "version"),
        ("aliases/champion", {"version": "Not an alias"}, "version"),
        ("aliases/champion", {"version": 1, "extra": True}, "extra"),
        ("aliases/champion", {}, "version"),
    ],
)
async def test_malformed_alias_writes_get_a_422_naming_the_field(
    client: TestClient[Any, Any], people: People, node: str, path: str, body: dict[str, Any], field: str
) -> None:
    resp = await client.post(f"{node}/{path}", json=body, headers=people.alice.headers)
    error = (await _json(resp, 422))["error"]
    assert error["details"]["field"] == field, error


async def test_unknown_targets_and_nodes_are_404s(client: TestClient[Any, Any], people: People, node: str) -> None:
    alice = people.alice.headers
    assert (await client.post(f"{node}/aliases/champion", json={"version": 9}, headers=alice)).status == 404
    resp = await client.post(f"{node}/aliases/champion", json={"version": "nobody"}, headers=alice)
    assert (await _json(resp, 404))["error"]["details"]["kind"] == "alias"
    assert (await client.get(f"{node}/aliases/nobody/history", headers=alice)).status == 404
    other = node.rsplit("/", 1)[0] + "/no-such-node"
    assert (await client.get(f"{other}/aliases", headers=alice)).status == 404


async def test_a_long_history_is_paged_newest_first_without_gaps_or_repeats(
    client: TestClient[Any, Any], people: People, node: str
) -> None:
    alice = people.alice.headers
    for version in (1, 2, 3, 1, 2, 3, 1):
        await _json(await client.post(f"{node}/aliases/champion", json={"version": version}, headers=alice))
    seen: list[tuple[int | None, int | None]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = await _json(await client.get(f"{node}/aliases/champion/history", params=params, headers=alice))
        seen += [(h["from_version"], h["to_version"]) for h in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [(3, 1), (2, 3), (1, 2), (3, 1), (2, 3), (1, 2), (None, 1)]
    resp = await client.get(f"{node}/aliases/champion/history", params={"cursor": "x1"}, headers=alice)
    assert (await _json(resp, 422))["error"]["details"]["field"] == "cursor"


async def test_versions_compare_by_alias_name_as_well_as_by_number(
    client: TestClient[Any, Any], people: People, node: str
) -> None:
    alice = people.alice.headers
    await _json(await client.post(f"{node}/aliases/champion", json={"version": 3}, headers=alice))
    by_name = await _json(await client.get(f"{node}/versions/compare?a=active&b=champion", headers=alice))
    assert (by_name["a"]["version"], by_name["b"]["version"]) == (1, 3)
    assert by_name == await _json(await client.get(f"{node}/versions/compare?a=1&b=3", headers=alice))
    assert by_name == await _json(await client.get(f"{node}/versions/compare?a=v1&b=v3", headers=alice))
    missing = await _json(await client.get(f"{node}/versions/compare?a=1&b=challenger", headers=alice), 404)
    assert missing["error"]["details"]["kind"] == "alias"
    for bad, field in (("a=0&b=1", "a"), ("a=1&b=Champion", "b")):
        error = (await _json(await client.get(f"{node}/versions/compare?{bad}", headers=alice), 422))["error"]
        assert error["details"]["field"] == field, error
