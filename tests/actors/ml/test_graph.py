"""Graph validation errors and the execution order."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from actors.errors import InvalidGraph
from actors.ml.graph import check_structure, execution_order
from tests.actors.fit_helpers import chain, node, training_graph


def _graph() -> dict[str, Any]:
    return training_graph("xgboost", middle=(node("scale", "scale"),))


def _error(graph: Any, node_id: Any = "train") -> InvalidGraph:
    with pytest.raises(InvalidGraph) as caught:
        execution_order(graph, node_id)
    assert caught.value.code == "invalid_pipeline"
    return caught.value


def test_the_execution_order_is_the_topological_order_of_the_ancestors() -> None:
    graph = _graph()
    graph["nodes"].append(node("unrelated", "scale"))
    graph["nodes"].append(node("other", "train_model", model_type="xgboost", target="target"))
    graph["edges"].append({"id": "x", "source": "split", "target": "unrelated"})
    graph["edges"].append({"id": "y", "source": "unrelated", "target": "other"})
    graph["nodes"].reverse()

    assert execution_order(graph, "train") == ["src", "split", "scale", "train"]
    assert execution_order(graph, "other") == ["src", "split", "unrelated", "other"]


def test_a_node_with_two_inputs_is_refused_naming_it_not_merged() -> None:
    graph = chain(node("src", "dataset_source"), node("split", "train_test_split"))
    graph["nodes"] += [node("b", "scale"), node("a", "impute"), node("train", "train_model")]
    graph["edges"] += [{"id": "1", "source": "split", "target": "a"}, {"id": "2", "source": "split", "target": "b"},
                       {"id": "3", "source": "a", "target": "train"}, {"id": "4", "source": "b", "target": "train"}]

    error = _error(graph)
    assert error.field == "graph.nodes[4]"
    assert error.details == {"node_id": "train", "inputs": ["a", "b"]}
    assert "'train' has 2 inputs" in error.message
    with pytest.raises(InvalidGraph) as caught:
        check_structure(graph)
    assert caught.value.details["node_id"] == "train"


def test_a_saved_graph_is_checked_for_the_canvas_rules_without_a_training_node() -> None:
    check_structure({"nodes": [], "edges": []})
    check_structure(chain(node("src", "dataset_source"), node("scale", "scale")))
    looped = chain(node("src", "dataset_source"), node("scale", "scale"))
    looped["edges"].append({"id": "self", "source": "scale", "target": "scale"})
    with pytest.raises(InvalidGraph) as caught:
        check_structure(looped)
    assert caught.value.details == {"node_id": "scale"}


def test_an_unknown_node_type_is_named() -> None:
    graph = _graph()
    graph["nodes"][2]["type"] = "pca"

    error = _error(graph)
    assert error.field == "graph.nodes[2].type"
    assert "pca" in error.message


def test_an_unknown_node_id_is_named() -> None:
    assert _error(_graph(), "nope").field == "node_id"


def test_a_node_id_that_is_not_a_training_node_is_rejected() -> None:
    assert "not a train_model" in _error(_graph(), "scale").message


def test_a_cycle_is_reported_with_its_nodes() -> None:
    graph = _graph()
    graph["nodes"] += [node("x", "scale"), node("y", "impute")]
    graph["edges"] += [{"id": "xy", "source": "x", "target": "y"}, {"id": "yx", "source": "y", "target": "x"}]

    error = _error(graph)
    assert error.field == "graph.edges"
    assert set(error.details["nodes"]) == {"x", "y"}


def test_a_dangling_edge_is_named() -> None:
    graph = _graph()
    graph["edges"][1]["target"] = "ghost"

    error = _error(graph)
    assert error.field == "graph.edges[1].target"
    assert "dangling" in error.message


def test_a_missing_dataset_source_is_reported() -> None:
    graph = chain(node("split", "train_test_split"), node("train", "train_model"))

    error = _error(graph)
    assert "no dataset_source" in error.message


def test_several_dataset_sources_are_reported() -> None:
    graph = _graph()
    graph["nodes"].insert(0, node("src2", "dataset_source"))
    graph["edges"].append({"id": "z", "source": "src2", "target": "split"})

    error = _error(graph)
    assert error.field == "graph.nodes[2]"
    assert error.details == {"node_id": "split", "inputs": ["src", "src2"]}


def test_a_training_node_without_a_split_upstream_is_rejected() -> None:
    graph = chain(node("src", "dataset_source"), node("scale", "scale"), node("train", "train_model"))

    assert "no train_test_split upstream" in _error(graph).message


def test_a_resample_before_the_split_is_rejected() -> None:
    graph = chain(node("src", "dataset_source"), node("bal", "resample"), node("split", "train_test_split"),
                  node("train", "train_model"))

    error = _error(graph)
    assert error.field == "graph.nodes[1].type"


def test_duplicate_ids_and_malformed_nodes_are_named() -> None:
    graph = _graph()
    duplicate = copy.deepcopy(graph)
    duplicate["nodes"][2]["id"] = "split"
    assert _error(duplicate).field == "graph.nodes[2].id"
    assert _error({"nodes": [], "edges": []}).field == "graph.nodes"
    assert _error("graph").field == "graph"
    graph["nodes"][1]["data"] = "x"
    assert _error(graph).field == "graph.nodes[1].data"


def test_an_edge_into_the_dataset_source_is_rejected() -> None:
    graph = _graph()
    graph["nodes"].append(node("orphan", "scale"))
    graph["edges"].append({"id": "in", "source": "orphan", "target": "src"})

    assert _error(graph).field == f"graph.edges[{len(graph['edges']) - 1}].target"
