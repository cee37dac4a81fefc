"""Checks decidable from a dataset's stored schema, before any row is read (at submission).

The schema is what ``POST /datasets`` recorded: ``[{name, dtype, ...}]`` with pandas dtype
names, and for float columns ``integral`` (every value is a whole number) when known. The
columns are followed through the plan as the engine would transform them, so a text column
reaching the model, a scaler or a mean imputer, or a task the target cannot serve, is
refused with the node, the field and the column, instead of failing in the worker.
A schema without dtypes (older rows) is skipped, and the worker checks the data itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from actors.errors import InvalidGraph, InvalidNodeConfig
from actors.ml.families import CLASSIFICATION, REGRESSION

Kind = Literal["number", "bool", "text"]

_NUMBER_PREFIXES = ("int", "uint", "float", "Int", "UInt", "Float")


def kind_of(dtype: str) -> Kind:
    """How a pandas dtype name reaches a model: a number, a boolean, or text (needs encoding)."""
    if dtype.startswith(("bool", "boolean")):
        return "bool"
    if dtype.startswith(_NUMBER_PREFIXES):
        return "number"
    return "text"


def _columns(schema: Sequence[Any]) -> dict[str, Mapping[str, Any]] | None:
    out: dict[str, Mapping[str, Any]] = {}
    for column in schema:
        if not isinstance(column, Mapping) or not isinstance(column.get("dtype"), str):
            return None
        out[str(column.get("name"))] = column
    return out


def check_schema(plan: Sequence[Any], target: str, task: str | None, schema: Sequence[Any]) -> None:
    """Refuse a plan whose columns cannot work with the dataset's column types.

    Args:
        plan: The validated nodes (``actors.ml.validation.PlannedNode``), ending with the training node.
        target: The target column.
        task: The configured task, or None when it is detected from the data.
        schema: The dataset's stored columns ``[{name, dtype, integral?}]``.

    Raises:
        InvalidNodeConfig: a step needs numbers from a text column, or the task does not fit
            the target (naming ``config.task`` and the column).
        InvalidGraph: text columns reach the training node without an encode step.
    """
    columns = _columns(schema)
    if columns is None or target not in columns:
        return
    train = plan[-1]
    _check_task(train, target, task, columns[target])
    kinds: dict[str, Kind] = {name: kind_of(str(info["dtype"])) for name, info in columns.items()}
    for node in plan[:-1]:
        kinds = _after(node, target, kinds)
    text = [name for name, kind in kinds.items() if kind == "text" and name != target]
    if text:
        shown = ", ".join(f"{name!r} ({columns[name]['dtype']})" for name in text[:5])
        raise InvalidGraph(
            f"column(s) {shown}{' ...' if len(text) > 5 else ''} reach training node {train.id!r} as text; "
            "add an encode node before it, or drop them",
            field=getattr(train, "path", None) or "graph.nodes",
            details={"node_id": train.id, "column": text[0], "columns": text},
        )


def _check_task(train: Any, target: str, task: str | None, info: Mapping[str, Any]) -> None:
    kind = kind_of(str(info["dtype"]))
    details = {"node_id": train.id, "column": target}
    if task == REGRESSION and kind == "text":
        raise InvalidNodeConfig(
            f"regression needs a numeric target; column {target!r} is {info['dtype']}", field="config.task",
            details=details,
        )
    if task == CLASSIFICATION and kind == "number" and info.get("integral") is False:
        raise InvalidNodeConfig(
            f"classification needs classes, but target column {target!r} holds non-integer numbers "
            f"({info['dtype']}); choose regression or leave the task blank",
            field="config.task", details=details,
        )


def _after(node: Any, target: str, kinds: dict[str, Kind]) -> dict[str, Kind]:
    """The column kinds after ``node`` (columns it creates by one-hot encoding are numbers, untracked)."""
    config = node.config
    selected: list[str] = list(config.get("columns") or [])
    field = f"{node.prefix}.columns"
    chosen = set(selected)  # membership in a set: linear in the columns, not quadratic
    if node.type == "drop_columns":
        return {name: kind for name, kind in kinds.items() if name not in chosen}
    if node.type == "select_columns":
        return {name: kind for name, kind in kinds.items() if name in chosen or name == target}
    if node.type == "impute" and config.get("strategy") in ("mean", "median"):
        _require_numbers(node, selected, kinds, f"{config['strategy']} imputation needs numbers", field)
    elif node.type == "scale":
        _require_numbers(node, selected, kinds, "it cannot be scaled", field)
    elif node.type == "encode":
        encoded = selected or [name for name, kind in kinds.items() if kind == "text" and name != target]
        if config.get("method") == "onehot":
            return {name: kind for name, kind in kinds.items() if name not in encoded}
        return {name: ("number" if name in encoded else kind) for name, kind in kinds.items()}
    return kinds


def _require_numbers(node: Any, selected: list[str], kinds: Mapping[str, Kind], why: str, field: str) -> None:
    for name in selected:
        if kinds.get(name, "number") != "number":
            raise InvalidNodeConfig(
                f"column {name!r} is not numeric ({kinds[name]}); {why}", field=field,
                details={"node_id": node.id, "column": name},
            )
