"""Every part of a saved graph is bounded: a node's config, its label and position, the node and edge counts."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp.test_utils import TestClient

from tests.server.conftest import API, People
from tests.server.seed import graph, upload_csv


def _nested(levels: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(levels - 1):
        node["k"] = {}
        node = node["k"]
    return root


async def test_oversized_or_deeply_nested_node_configs_and_other_graph_excesses_are_422_naming_the_field(
    client: TestClient[Any, Any], people: People
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    base = graph()

    def with_change(change: Any) -> dict[str, Any]:
        g = copy.deepcopy(base)
        change(g)
        return g

    cases: list[tuple[str, dict[str, Any]]] = [
        ("graph.nodes.0.data.config", with_change(lambda g: g["nodes"][0]["data"].update(config={"x": "a" * 70_000}))),
        ("graph.nodes.1.data.config", with_change(lambda g: g["nodes"][1]["data"].update(config=_nested(9)))),
        ("graph.nodes.2.data.label", with_change(lambda g: g["nodes"][2]["data"].update(label="L" * 501))),
        ("graph.nodes.0.position.x", with_change(lambda g: g["nodes"][0].update(position={"x": 1e12, "y": 0}))),
        ("graph.nodes", with_change(lambda g: g.update(nodes=[copy.deepcopy(g["nodes"][0]) for _ in range(1001)]))),
    ]
    for field, bad in cases:
        resp = await client.put(
            f"{API}/pipelines", json={"dataset_source_id": dataset_id, "graph": bad}, headers=people.alice.headers
        )
        body = await resp.json()
        assert resp.status == 422, (field, body)
        assert body["error"]["details"]["field"] == field, body
    ok = with_change(lambda g: g["nodes"][0]["data"].update(config={"x": "a" * 60_000, "n": _nested(7)}))
    body = {"dataset_source_id": dataset_id, "graph": ok}
    resp = await client.put(f"{API}/pipelines", json=body, headers=people.alice.headers)
    assert resp.status == 201, await resp.text()
