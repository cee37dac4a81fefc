"""The node catalogue of the pipeline graph (DESIGN 8) and each type's config schema."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from actors.errors import InvalidNodeConfig
from actors.ml.families import MODEL_TYPES, TASKS
from actors.ml.params import Param, resolve_values

DATASET_SOURCE = "dataset_source"
SPLIT = "train_test_split"
RESAMPLE = "resample"
TRAIN_MODEL = "train_model"
VALIDATE_MODEL = "validate_model"
MAX_BOOTSTRAP = 10000
MAX_RUNTIME_LIMIT_S = 86400.0
"""The default of the service setting ``jobs.max_runtime_limit_s``; callers pass the setting."""


@dataclass(frozen=True)
class NodeType:
    """One kind of node on the canvas.

    Attributes:
        type: Identifier used in the graph JSON.
        label: Display name.
        params: Config schema.
        stateful: The step learns from data (fit on train rows when after the split).
        description: One sentence for the palette.
    """

    type: str
    label: str
    params: tuple[Param, ...]
    stateful: bool
    description: str

    def to_json(self) -> dict[str, Any]:
        """The node type as JSON-ready data for ``GET /node-types``."""
        return {
            "type": self.type,
            "label": self.label,
            "stateful": self.stateful,
            "description": self.description,
            "config": [param.to_json() for param in self.params],
        }


def _columns(description: str, *, required: bool = False) -> Param:
    return Param("columns", "columns", description, required=required, minimum=1)


def _runtime_param(limit_s: float) -> Param:
    limit: float = int(limit_s) if float(limit_s).is_integer() else limit_s
    return Param("max_runtime_s", "int", f"Deadline for the job in seconds, from 1 to {limit:g}; blank uses the "
                 "service default.", minimum=1, maximum=limit)


def _seed(description: str) -> Param:
    return Param("random_state", "int", description, minimum=0, maximum=2**32 - 1, advanced=True)


NODE_TYPES: Mapping[str, NodeType] = MappingProxyType({
    node.type: node
    for node in (
        NodeType(DATASET_SOURCE, "Dataset", (
            Param("dataset_source_id", "id", "The uploaded dataset this pipeline reads."),
        ), False, "Reads the job's dataset (CSV or Parquet)."),
        NodeType("drop_columns", "Drop columns", (
            _columns("Columns to remove.", required=True),
        ), False, "Removes columns."),
        NodeType("select_columns", "Select columns", (
            _columns("Columns to keep; the target is always kept.", required=True),
        ), False, "Keeps only the listed columns (and the target)."),
        NodeType("impute", "Impute missing values", (
            Param("strategy", "choice", "How missing values are filled.", default="mean",
                  choices=("mean", "median", "most_frequent", "constant")),
            Param("fill_value", "scalar", "Value used by the constant strategy."),
            _columns("Columns to impute; blank means every numeric column (every column for "
                     "most_frequent and constant)."),
        ), True, "Fills missing values with statistics learned from the data."),
        NodeType("scale", "Scale", (
            Param("method", "choice", "Scaler.", default="standard", choices=("standard", "minmax", "robust")),
            _columns("Numeric columns to scale; blank means every numeric column."),
        ), True, "Rescales numeric columns."),
        NodeType("encode", "Encode categories", (
            Param("method", "choice", "One indicator column per category, or one integer code per category.",
                  default="onehot", choices=("onehot", "ordinal")),
            _columns("Columns to encode; blank means every non-numeric column."),
        ), True, "Turns categorical columns into numbers; unseen categories are handled at prediction."),
        NodeType(SPLIT, "Train/test split", (
            Param("test_size", "float", "Fraction of rows held out for testing.", default=0.2,
                  minimum=0.0, maximum=1.0, exclusive_minimum=True, exclusive_maximum=True),
            _seed("Seed of the shuffle; blank uses the service default."),
            Param("shuffle", "bool", "Shuffle rows before splitting.", default=True, advanced=True),
            Param("stratify", "column_or_bool", "Keep class proportions: true for the target, or a column name.",
                  default=False, advanced=True),
        ), False, "Partitions rows into train and test exactly like scikit-learn's train_test_split."),
        NodeType(RESAMPLE, "Resample", (
            Param("method", "choice", "Randomly repeat minority rows or drop majority rows until classes balance.",
                  default="oversample", choices=("oversample", "undersample")),
            _seed("Seed of the sampling; blank uses the service default."),
        ), True, "Balances classes in the train partition only."),
        NodeType(TRAIN_MODEL, "Train model", (
            Param("model_type", "choice", "Model family.", choices=MODEL_TYPES, required=True),
            Param("task", "choice", "Learning task; blank detects it from the target.", choices=TASKS),
            Param("target", "column", "Column to predict.", required=True),
            Param("hyperparameters", "object", "Family hyperparameters; blank values use defaults."),
            Param("experiment_tag", "string", "Free label for grouping runs.", maximum=100),
            Param("description", "string", "Notes about this run.", maximum=2000),
            _runtime_param(MAX_RUNTIME_LIMIT_S),
            Param("run_now", "bool", "Start training as soon as the node is saved.", default=True),
        ), False, "Fits a model on the train partition and evaluates it on the test partition."),
        NodeType(VALIDATE_MODEL, "Validate model", (
            Param("versions", "string", "Versions of the connected training node to compare: blank for the active "
                  "version, else version numbers and alias names separated by commas (e.g. '1, 3' or "
                  "'champion, challenger'); the first is the baseline.", maximum=500),
            Param("dataset_source_id", "id", "Another uploaded dataset with the same feature columns and the target; "
                  "blank evaluates on the pipeline's test partition."),
            Param("n_bootstrap", "int", "Paired bootstrap resamples for the confidence interval of each metric "
                  "difference.", default=1000, minimum=50, maximum=MAX_BOOTSTRAP, advanced=True),
            Param("random_state", "int", "Seed of the bootstrap.", default=0, minimum=0, maximum=2**32 - 1,
                  advanced=True),
            _runtime_param(MAX_RUNTIME_LIMIT_S),
        ), False, "Evaluates versions of the connected trained model side by side on the same rows."),
    )
})


def node_type(node_type: str, max_runtime_limit_s: float | None = None) -> NodeType:
    """The node type ``node_type``; for ``train_model``, ``max_runtime_s`` bounded by the service's limit.

    One limit for the field: the setting ``jobs.max_runtime_limit_s`` is the schema's
    maximum, so the form, the API's check and the worker agree.
    """
    node = NODE_TYPES[node_type]
    if node_type not in (TRAIN_MODEL, VALIDATE_MODEL) or max_runtime_limit_s is None:
        return node
    params = tuple(
        _runtime_param(max_runtime_limit_s) if param.name == "max_runtime_s" else param for param in node.params
    )
    return dataclasses.replace(node, params=params)


def resolve_node_config(
    node_type_name: str, raw: Any, prefix: str, *, max_runtime_limit_s: float | None = None
) -> dict[str, Any]:
    """Validate a node's config and fill defaults; errors name ``prefix.<key>``."""
    return resolve_values(node_type(node_type_name, max_runtime_limit_s).params, raw, prefix, InvalidNodeConfig)


def node_type_schemas(max_runtime_limit_s: float | None = None) -> list[dict[str, Any]]:
    """Every node type with its config schema, JSON-ready (``GET /node-types``)."""
    return [node_type(name, max_runtime_limit_s).to_json() for name in NODE_TYPES]
