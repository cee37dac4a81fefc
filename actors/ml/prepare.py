"""Running the planned nodes on the dataset: transforms, the split and resampling."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from actors.errors import InvalidGraph, ModelError, TrainingError
from actors.ml.checkpoints import Checkpoint
from actors.ml.node_types import DATASET_SOURCE, RESAMPLE, SPLIT, TRAIN_MODEL
from actors.ml.options import FitOptions
from actors.ml.splitting import resample_frame, split_frame
from actors.ml.steps import DropColumns, Encode, Impute, Scale, SelectColumns, Step
from actors.ml.validation import PlannedNode


@dataclass
class Partitions:
    """The rows that reach the training node.

    Attributes:
        train: Train rows (after resampling).
        test: Test rows.
        steps: Fitted row-preserving steps, in order, for the artifact.
        warnings: ``{code, message, node_id}`` entries raised while executing.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    steps: list[Step] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


def build_step(node: PlannedNode, target: str) -> Step:
    """The unfitted step for a transform node."""
    config = node.config
    where = f"{node.prefix}.columns"
    columns = config["columns"]
    if node.type == "drop_columns":
        return DropColumns(node.id, where, target, columns)
    if node.type == "select_columns":
        return SelectColumns(node.id, where, target, columns)
    if node.type == "impute":
        return Impute(node.id, where, target, columns, strategy=config["strategy"], fill_value=config["fill_value"])
    if node.type == "scale":
        return Scale(node.id, where, target, columns, method=config["method"])
    if node.type == "encode":
        return Encode(node.id, where, target, columns, method=config["method"])
    raise ValueError(f"{node.type} is not a transform")


def _drop_missing_target(
    frame: pd.DataFrame, target: str, node_id: str, warnings: list[dict[str, Any]]
) -> pd.DataFrame:
    missing = frame[target].isna()
    if not missing.any():
        return frame
    warnings.append({"code": "missing_target_dropped", "node_id": node_id,
                     "message": f"{int(missing.sum())} row(s) without a value in target {target!r} were dropped "
                                "before the split"})
    return frame.loc[~missing]


def execute_plan(
    plan: list[PlannedNode], frame: pd.DataFrame, target: str, options: FitOptions, checkpoint: Checkpoint
) -> Partitions:
    """Apply every node before the training node and return the partitions.

    Before the split, stateful steps fit on all rows; after it, on train rows only and
    are then applied to both partitions. Resampling changes train rows only.

    Raises:
        InvalidNodeConfig: a node's config does not fit the data (unknown column...).
        JobStopped: the checkpoint fired between nodes.
    """
    warnings: list[dict[str, Any]] = []
    steps: list[Step] = []
    train: pd.DataFrame | None = None
    test: pd.DataFrame | None = None
    total = len(plan) - 1
    for position, node in enumerate(plan):
        checkpoint.check(f"before node {node.id!r}")
        checkpoint.progress("transform", position, total, "nodes")
        if node.type in (DATASET_SOURCE, TRAIN_MODEL):
            continue
        if node.type == SPLIT:
            frame = _drop_missing_target(frame, target, node.id, warnings)
            seed = node.config["random_state"]
            train, test = split_frame(frame, target, node.config,
                                      options.random_state if seed is None else seed, node.prefix)
        elif node.type == RESAMPLE:
            assert train is not None  # the graph guarantees the split runs first
            seed = node.config["random_state"]
            train = resample_frame(train, target, node.config["method"],
                                   options.random_state if seed is None else seed)
        else:
            step = build_step(node, target)
            try:
                if train is None or test is None:
                    step.fit(frame)
                    frame = step.transform(frame)
                else:
                    step.fit(train)
                    train, test = step.transform(train), step.transform(test)
            except ModelError as exc:
                exc.details.setdefault("node_id", node.id)
                raise
            except Exception as exc:  # a library's error, told with the node that met it
                raise TrainingError(f"{node.type} node {node.id!r}: {type(exc).__name__}: {exc}",
                                    field=node.prefix, details={"node_id": node.id,
                                                                "exception": type(exc).__name__}) from exc
            steps.append(step)
    if train is None or test is None:
        raise InvalidGraph(f"no {SPLIT} upstream of the training node", field="graph.nodes")
    checkpoint.progress("transform", total, total, "nodes")
    return Partitions(train, test, steps, warnings)
