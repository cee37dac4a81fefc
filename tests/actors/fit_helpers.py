"""Builders for graphs and dataset files for the tests of the ML side (graphs through ``tests.job_fixtures``)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pandas as pd

from actors.ml.options import DatasetRef
from tests.job_fixtures import graph_for, graph_node


def write_dataset(frame: pd.DataFrame, directory: Path, name: str, fmt: str = "csv") -> DatasetRef:
    """Write ``frame`` as CSV or Parquet and return a reference to it."""
    path = directory / f"{name}.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return DatasetRef(str(path), "csv" if fmt == "csv" else "parquet")


def node(node_id: str, node_type: str, **config: Any) -> dict[str, Any]:
    """A graph node in the canvas JSON shape."""
    return graph_node(node_id, node_type, config)


def chain(*nodes: dict[str, Any]) -> dict[str, Any]:
    """A graph whose nodes are connected one after the other."""
    pairs = enumerate(itertools.pairwise(nodes))
    edges = [{"id": f"e{i}", "source": a["id"], "target": b["id"]} for i, (a, b) in pairs]
    return {"nodes": list(nodes), "edges": edges}


def training_graph(model_type: str, target: str = "target", *, middle: tuple[dict[str, Any], ...] = (),
                   split: dict[str, Any] | None = None, **train_config: Any) -> dict[str, Any]:
    """:func:`tests.job_fixtures.graph_for` with the engine tests' split: a quarter held out on the fit's own seed."""
    return graph_for(model_type, target, split=split if split is not None else {"test_size": 0.25}, middle=middle,
                     **train_config)
