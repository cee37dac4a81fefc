"""graph_hash: layout and model settings keep the hash, data-path changes change it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from store.errors import InvalidInput
from store.graph_hash import graph_hash, pipeline_id_for
from tests.job_fixtures import graph_for, graph_node


def _graph() -> dict[str, Any]:
    impute = graph_node("imp", "impute", {"strategy": "mean", "columns": ["x"]})
    return graph_for("random_forest", split={"test_size": 0.25, "random_state": 0}, before_split=(impute,))


def _node(graph: dict[str, Any], node_id: str) -> dict[str, Any]:
    node: dict[str, Any] = next(n for n in graph["nodes"] if n["id"] == node_id)
    return node


BASE = graph_hash(_graph())


def test_moving_nodes_and_renaming_labels_keeps_the_hash() -> None:
    graph = _graph()
    for i, node in enumerate(graph["nodes"]):
        node["position"] = {"x": 1000 + i, "y": -5}
        node["data"]["label"] = f"renamed {i}"
        node["selected"] = True
    graph["edges"][0]["id"] = "another-edge-id"
    assert graph_hash(graph) == BASE


def test_the_order_of_nodes_edges_and_keys_does_not_matter() -> None:
    graph = _graph()
    graph["nodes"].reverse()
    graph["edges"].reverse()
    _node(graph, "imp")["data"]["config"] = {"columns": ["x"], "strategy": "mean"}
    assert graph_hash(graph) == BASE


def test_train_model_settings_keep_the_hash() -> None:
    graph = _graph()
    _node(graph, "train")["data"]["config"] = {
        "model_type": "xgboost",
        "hyperparameters": {"n_estimators": 500, "learning_rate": 0.05},
        "experiment_tag": "try-2",
    }
    assert graph_hash(graph) == BASE


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda g: _node(g, "imp")["data"]["config"].update(strategy="median"), id="transform-config"),
        pytest.param(lambda g: _node(g, "split")["data"]["config"].update(test_size=0.3), id="split-config"),
        pytest.param(lambda g: g["edges"].pop(0), id="edge-removed"),
        pytest.param(lambda g: g["edges"][1].update(source="src"), id="edge-rewired"),
        pytest.param(lambda g: _node(g, "imp").update(type="scale"), id="node-type"),
        pytest.param(lambda g: g["nodes"].append({"id": "x", "type": "scale", "data": {}}), id="node-added"),
        pytest.param(lambda g: _node(g, "split")["data"]["config"].update(test_size=1), id="int-vs-float"),
    ],
)
def test_a_data_path_change_changes_the_hash(change: Any) -> None:
    graph = _graph()
    change(graph)
    assert graph_hash(graph) != BASE


def test_the_pipeline_id_is_the_dataset_and_twelve_hash_characters() -> None:
    assert pipeline_id_for("ds-1", BASE) == f"ds-1_{BASE[:12]}"
    assert len(BASE) == 64


@pytest.mark.parametrize(
    ("graph", "field"),
    [
        ([], "graph"),
        ({"nodes": "abc"}, "graph.nodes"),
        ({"nodes": [{"type": "scale"}]}, "graph.nodes[0].id"),
        ({"nodes": [{"id": "a"}]}, "graph.nodes[0].type"),
        ({"nodes": [{"id": "a", "type": "scale"}, {"id": "a", "type": "scale"}]}, "graph.nodes"),
        ({"nodes": [], "edges": [{"source": "a"}]}, "graph.edges[0].target"),
        ({"nodes": [{"id": "a", "type": "scale", "data": {"config": {"v": float("nan")}}}]}, "graph"),
    ],
)
def test_a_malformed_graph_is_refused_naming_the_field(graph: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        graph_hash(graph)
    assert err.value.field == field


def test_a_validation_node_and_its_edge_are_off_the_data_path() -> None:
    plain = _graph()
    with_validation = copy.deepcopy(plain)
    with_validation["nodes"].append({"id": "val", "type": "validate_model", "position": {"x": 9, "y": 9},
                                     "data": {"label": "V", "config": {"versions": "1, 2"}}})
    with_validation["edges"].append({"id": "e9", "source": "train", "target": "val"})
    assert graph_hash(with_validation) == graph_hash(plain)
    with_validation["nodes"][-1]["data"]["config"] = {"versions": "champion", "n_bootstrap": 500}
    assert graph_hash(with_validation) == graph_hash(plain), "configuring it keeps the pipeline and its versions"
    plain["nodes"][1]["data"]["config"]["strategy"] = "median"
    assert graph_hash(with_validation) != graph_hash(plain), "the data path still counts"
