"""Builders for graphs and dataset files used across the tests of the ML side (actors/ml)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pandas as pd

from actors.ml.options import DatasetRef


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
    return {"id": node_id, "type": node_type, "position": {"x": 0, "y": 0},
            "data": {"label": node_id, "config": config}}


def chain(*nodes: dict[str, Any]) -> dict[str, Any]:
    """A graph whose nodes are connected one after the other."""
    pairs = enumerate(itertools.pairwise(nodes))
    edges = [{"id": f"e{i}", "source": a["id"], "target": b["id"]} for i, (a, b) in pairs]
    return {"nodes": list(nodes), "edges": edges}


def training_graph(model_type: str, target: str = "target", *, middle: tuple[dict[str, Any], ...] = (),
                   split: dict[str, Any] | None = None, **train_config: Any) -> dict[str, Any]:
    """dataset_source -> train_test_split -> middle... -> train_model."""
    return chain(
        node("src", "dataset_source"),
        node("split", "train_test_split", **(split if split is not None else {"test_size": 0.25})),
        *middle,
        node("train", "train_model", model_type=model_type, target=target, **train_config),
    )
