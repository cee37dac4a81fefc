"""Validating a training job without loading data (what the API calls at submission)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from actors.errors import InvalidGraph, InvalidNodeConfig
from actors.ml.families import CLASSIFICATION, get_family, resolve_hyperparameters, task_for_family
from actors.ml.graph import GraphNode, plan_nodes
from actors.ml.node_types import NODE_TYPES, RESAMPLE, SPLIT, TRAIN_MODEL, resolve_node_config
from actors.ml.options import FitOptions
from actors.ml.schema_check import check_schema


@dataclass(frozen=True)
class PlannedNode:
    """A node to execute, with its validated config.

    Attributes:
        id: Node id.
        type: Node type.
        prefix: Dotted path of the node's config in errors.
        config: Config with defaults filled in.
        path: The node's path in the graph JSON (``graph.nodes[i]``).
    """

    id: str
    type: str
    prefix: str
    config: dict[str, Any]
    path: str = ""


@dataclass(frozen=True)
class ValidatedJob:
    """A job that passed every check possible without data.

    Attributes:
        model_type: Model family.
        task: Configured or family-implied task; None when it must be detected from data.
        target: Target column.
        resolved_hyperparameters: Defaults filled in (task-dependent ones stay None while
            the task is unknown).
        execution_order: Node ids in execution order, ending with the training node.
        warnings: ``{code, message, node_id}`` entries (e.g. leakage).
        train_config: The training node's validated config.
        plan: The nodes with their validated configs.
    """

    model_type: str
    task: str | None
    target: str
    resolved_hyperparameters: dict[str, Any]
    execution_order: list[str]
    warnings: list[dict[str, Any]] = field(default_factory=list)
    train_config: dict[str, Any] = field(default_factory=dict)
    plan: list[PlannedNode] = field(default_factory=list)


def _prefix(node: GraphNode) -> str:
    return "config" if node.type == TRAIN_MODEL else f"{node.path}.data.config"


def validate_job(
    graph: Any,
    node_id: Any,
    columns: Sequence[str] | None = None,
    *,
    options: FitOptions | None = None,
    schema: Sequence[Any] | None = None,
) -> ValidatedJob:
    """Check a job's graph, node configs and hyperparameters.

    Args:
        graph: The pipeline graph JSON.
        node_id: Id of the ``train_model`` node to run.
        columns: The dataset's column names; when given, unknown columns are reported.
        options: Engine options (default random_state and thread count).
        schema: The dataset's stored columns ``[{name, dtype, ...}]``; when given, column
            types are followed through the plan (see :mod:`actors.ml.schema_check`).

    Returns:
        The validated job.

    Raises:
        InvalidGraph, InvalidNodeConfig, InvalidHyperparameter: naming the field.
    """
    options = options or FitOptions()
    nodes = plan_nodes(graph, node_id)
    limit = options.max_runtime_limit_s
    plan = [
        PlannedNode(n.id, n.type, _prefix(n), resolve_node_config(n.type, n.config, _prefix(n),
                                                                  max_runtime_limit_s=limit), n.path)
        for n in nodes
    ]
    train = plan[-1].config
    family = get_family(train["model_type"])
    task = task_for_family(family, train["task"])
    target: str = train["target"]
    hyperparameters = resolve_hyperparameters(
        family.model_type, train["hyperparameters"], task, random_state=options.random_state, n_jobs=options.n_jobs
    )
    warnings = _check_plan(plan, target, task)
    if columns is not None:
        check_columns(plan, target, list(columns))
    if schema is not None:
        check_schema(plan, target, task, schema)
    return ValidatedJob(family.model_type, task, target, hyperparameters, [n.id for n in plan], warnings,
                        train, plan)


def _check_plan(plan: list[PlannedNode], target: str, task: str | None) -> list[dict[str, Any]]:
    warnings: list[dict[str, Any]] = []
    split_seen = False
    for node in plan:
        config = node.config
        if node.type == SPLIT:
            split_seen = True
            if config["stratify"] is not False and not config["shuffle"]:
                raise InvalidNodeConfig("stratified splitting needs shuffle=true", field=f"{node.prefix}.stratify")
        if node.type == RESAMPLE and task is not None and task != CLASSIFICATION:
            raise InvalidGraph(f"{RESAMPLE} balances classes and needs a classification task",
                               field=f"{node.prefix}.method", details={"node_id": node.id})
        if node.type == "impute" and config["strategy"] == "constant" and config["fill_value"] is None:
            raise InvalidNodeConfig("is required by the constant strategy", field=f"{node.prefix}.fill_value")
        if node.type in ("drop_columns", "impute", "scale", "encode") and target in (config["columns"] or ()):
            raise InvalidNodeConfig(f"the target column {target!r} cannot be dropped or transformed",
                                    field=f"{node.prefix}.columns", details={"column": target})
        if NODE_TYPES[node.type].stateful and node.type != RESAMPLE and not split_seen:
            warnings.append({
                "code": "leakage",
                "node_id": node.id,
                "message": f"{node.type} node {node.id!r} runs before the train/test split, so it is fitted on "
                           "all rows including the test rows; move it after the split to avoid leakage",
            })
    return warnings


def check_columns(plan: list[PlannedNode], target: str, columns: list[str]) -> None:
    """Follow column names through the plan and reject references to unknown columns.

    Names created by one-hot encoding are only known from data, so after a one-hot
    step names starting with an encoded column's prefix are accepted; after a one-hot
    step without explicit columns, later references are left to run time.

    Raises:
        InvalidNodeConfig: naming the offending ``columns``, ``stratify`` or ``target``.
    """
    # Sets, not lists: a long chain of nodes each listing many columns stays linear.
    known = set(columns)
    prefixes: set[str] = set()
    open_names = False

    def require(name: str, field: str) -> None:
        if open_names or name in known or any(name.startswith(f"{p}_") for p in prefixes):
            return
        raise InvalidNodeConfig(f"unknown column {name!r}", field=field, details={"column": name})

    if target not in known:
        raise InvalidNodeConfig(f"unknown column {target!r}", field="config.target", details={"column": target})
    for node in plan:
        config = node.config
        selected: list[str] = config.get("columns") or []
        for name in selected:
            require(name, f"{node.prefix}.columns")
        if node.type == "drop_columns":
            known.difference_update(selected)
        elif node.type == "select_columns":
            known.intersection_update({*selected, target})
        elif node.type == "encode" and config["method"] == "onehot":
            if not selected:
                open_names = True
            else:
                prefixes.update(selected)
                known.difference_update(selected)
        elif node.type == SPLIT and isinstance(config["stratify"], str):
            require(config["stratify"], f"{node.prefix}.stratify")
