"""Model families: hyperparameter schemas, the ``MODEL_DEFAULTS`` registry and resolution.

Hyperparameters use the libraries' own names. Resolution fills blanks with defaults, takes
``random_state`` from the fit options when unset and adds the thread count, so the
resolved dict is exactly what the job records and what a direct fit needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from actors.errors import InvalidHyperparameter, InvalidNodeConfig
from actors.ml.params import Param, resolve_values

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)
DEFAULT_RANDOM_STATE = 42
CLS_ONLY = (CLASSIFICATION,)
FIT_ONLY_PARAMS = frozenset({"early_stopping_rounds", "validation_fraction"})
"""Hyperparameters the fit acts on itself; they never reach a library constructor."""


@dataclass(frozen=True)
class ModelFamily:
    """One trainable model family.

    Attributes:
        model_type: Stable identifier stored on jobs (``"random_forest"``...).
        label: Display name.
        tasks: Tasks the family supports.
        params: Hyperparameter schema.
        threaded: Whether the family receives ``n_jobs`` from the fit options.
        description: One sentence for the form.
    """

    model_type: str
    label: str
    tasks: tuple[str, ...]
    params: tuple[Param, ...]
    threaded: bool
    description: str

    def to_json(self) -> dict[str, Any]:
        """The family's schema as JSON-ready data for ``GET /model-families``."""
        return {
            "model_type": self.model_type,
            "label": self.label,
            "tasks": list(self.tasks),
            "description": self.description,
            "hyperparameters": [param.to_json() for param in self.params],
        }


def _seed() -> Param:
    return Param(
        "random_state", "int", "Seed for reproducible fits; blank uses the service default.",
        minimum=0, maximum=2**32 - 1, advanced=True,
    )


def _n_estimators(maximum: int, unit: str) -> Param:
    return Param("n_estimators", "int", f"Number of {unit}.", default=100, minimum=1, maximum=maximum)


def _unit(name: str, default: float, description: str, *, advanced: bool = True) -> Param:
    return Param(name, "float", description, default=default, minimum=0.0, maximum=1.0,
                 exclusive_minimum=True, advanced=advanced)


def _early_stopping() -> tuple[Param, Param]:
    return (
        Param("early_stopping_rounds", "int", "Stop after this many rounds without improvement of the validation "
              "loss; blank fits every round.", minimum=1, maximum=10_000, advanced=True),
        Param("validation_fraction", "float", "Share of the train rows held out (seeded) to decide early "
              "stopping; the test rows are never used.", default=0.1, minimum=0.0, maximum=1.0,
              exclusive_minimum=True, exclusive_maximum=True, advanced=True),
    )


def _nonneg(name: str, default: float, description: str) -> Param:
    return Param(name, "float", description, default=default, minimum=0.0, advanced=True)


FAMILIES: Mapping[str, ModelFamily] = MappingProxyType({
    family.model_type: family
    for family in (
        ModelFamily("logistic_regression", "Logistic Regression", CLS_ONLY, (
            Param("C", "float", "Inverse regularisation strength; smaller is stronger.",
                  default=1.0, minimum=0.0, exclusive_minimum=True),
            Param("l1_ratio", "float", "Elastic-net mixing: 0 is L2, 1 is L1 (L1 needs solver saga).",
                  default=0.0, minimum=0.0, maximum=1.0, advanced=True),
            Param("solver", "choice", "Optimisation algorithm.", default="lbfgs",
                  choices=("lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"), advanced=True),
            Param("max_iter", "int", "Maximum solver iterations.", default=1000, minimum=1, maximum=100_000),
            Param("tol", "float", "Stopping tolerance.", default=1e-4, minimum=0.0, exclusive_minimum=True,
                  advanced=True),
            Param("fit_intercept", "bool", "Fit an intercept term.", default=True, advanced=True),
            Param("class_weight", "choice", "Weight classes inversely to their frequency.", default="none",
                  choices=("none", "balanced"), advanced=True),
            _seed(),
        ), False, "Linear classifier with L2/L1 regularisation."),
        ModelFamily("linear_regression", "Linear Regression", (REGRESSION,), (
            Param("fit_intercept", "bool", "Fit an intercept term.", default=True, advanced=True),
            Param("positive", "bool", "Force the coefficients to be positive.", default=False, advanced=True),
        ), False, "Ordinary least squares."),
        ModelFamily("random_forest", "Random Forest", TASKS, (
            _n_estimators(5000, "trees"),
            Param("max_depth", "int", "Maximum tree depth; blank grows trees until leaves are pure.",
                  minimum=1, maximum=1000),
            Param("min_samples_split", "int", "Minimum rows to split a node.", default=2, minimum=2,
                  maximum=1_000_000, advanced=True),
            Param("min_samples_leaf", "int", "Minimum rows in a leaf.", default=1, minimum=1,
                  maximum=1_000_000, advanced=True),
            Param("max_features", "choice", "Features considered per split.", choices=("sqrt", "log2", "all"),
                  default_by_task={CLASSIFICATION: "sqrt", REGRESSION: "all"}, advanced=True),
            Param("bootstrap", "bool", "Fit each tree on a bootstrap sample.", default=True, advanced=True),
            Param("class_weight", "choice", "Weight classes inversely to their frequency.", default="none",
                  choices=("none", "balanced", "balanced_subsample"), advanced=True, tasks=CLS_ONLY),
            _seed(),
        ), True, "Bagged decision trees (scikit-learn)."),
        ModelFamily("xgboost", "XGBoost", TASKS, (
            _n_estimators(10_000, "boosting rounds"),
            _unit("learning_rate", 0.1, "Shrinkage applied to each round.", advanced=False),
            Param("max_depth", "int", "Maximum tree depth (0 = no limit).", default=6, minimum=0, maximum=100),
            _nonneg("min_child_weight", 1.0, "Minimum hessian sum in a child."),
            _unit("subsample", 1.0, "Fraction of rows sampled per round."),
            _unit("colsample_bytree", 1.0, "Fraction of features sampled per tree."),
            _nonneg("gamma", 0.0, "Minimum loss reduction to split."),
            _nonneg("reg_alpha", 0.0, "L1 regularisation on leaf weights."),
            _nonneg("reg_lambda", 1.0, "L2 regularisation on leaf weights."),
            Param("tree_method", "choice", "Tree construction algorithm.", default="hist",
                  choices=("hist", "approx", "exact"), advanced=True),
            *_early_stopping(),
            _seed(),
        ), True, "Gradient-boosted trees (XGBoost)."),
        ModelFamily("lightgbm", "LightGBM", TASKS, (
            _n_estimators(10_000, "boosting rounds"),
            _unit("learning_rate", 0.1, "Shrinkage applied to each round.", advanced=False),
            Param("num_leaves", "int", "Maximum leaves per tree.", default=31, minimum=2, maximum=131_072),
            Param("max_depth", "int", "Maximum tree depth (-1 = no limit).", default=-1, minimum=-1, maximum=1000),
            Param("min_child_samples", "int", "Minimum rows in a leaf.", default=20, minimum=1,
                  maximum=1_000_000, advanced=True),
            _unit("subsample", 1.0, "Fraction of rows bagged (needs subsample_freq > 0)."),
            Param("subsample_freq", "int", "Bagging frequency in rounds (0 = off).", default=0, minimum=0,
                  maximum=10_000, advanced=True),
            _unit("colsample_bytree", 1.0, "Fraction of features sampled per tree."),
            _nonneg("reg_alpha", 0.0, "L1 regularisation."),
            _nonneg("reg_lambda", 0.0, "L2 regularisation."),
            Param("class_weight", "choice", "Weight classes inversely to their frequency.", default="none",
                  choices=("none", "balanced"), advanced=True, tasks=CLS_ONLY),
            *_early_stopping(),
            _seed(),
        ), True, "Gradient-boosted trees with leaf-wise growth (LightGBM)."),
    )
})

MODEL_TYPES: tuple[str, ...] = tuple(FAMILIES)


def _defaults(family: ModelFamily, task: str) -> dict[str, Any]:
    values = resolve_values(family.params, {}, "hyperparameters", InvalidHyperparameter, task=task)
    if "random_state" in values:
        values["random_state"] = DEFAULT_RANDOM_STATE
    return values


MODEL_DEFAULTS: Mapping[str, Mapping[str, Mapping[str, Any]]] = MappingProxyType({
    family.model_type: MappingProxyType({
        task: MappingProxyType(_defaults(family, task)) for task in family.tasks
    })
    for family in FAMILIES.values()
})
"""Default hyperparameters per ``model_type`` then task, e.g.
``MODEL_DEFAULTS["random_forest"]["classification"]["n_estimators"] == 100``."""


def get_family(model_type: Any, field: str = "config.model_type") -> ModelFamily:
    """The family for ``model_type``, or ``InvalidNodeConfig`` naming ``field``."""
    if not isinstance(model_type, str) or model_type not in FAMILIES:
        raise InvalidNodeConfig(f"must be one of {list(MODEL_TYPES)}, got {model_type!r}", field=field)
    return FAMILIES[model_type]


def task_for_family(family: ModelFamily, task: str | None, field: str = "config.task") -> str | None:
    """The task implied by the family when it supports one only; rejects unsupported tasks."""
    if task is not None and task not in family.tasks:
        raise InvalidNodeConfig(f"{family.model_type} does not support {task}", field=field)
    if task is None and len(family.tasks) == 1:
        return family.tasks[0]
    return task


def resolve_hyperparameters(
    model_type: str, raw: Any, task: str | None, *, random_state: int, n_jobs: int
) -> dict[str, Any]:
    """Validate the user's hyperparameters and fill in every default.

    Args:
        model_type: A key of ``FAMILIES``.
        raw: The user's hyperparameter object (None or blank values mean defaults).
        task: ``"classification"``, ``"regression"`` or None when not yet known (task
            dependent defaults then stay None).
        random_state: Seed used when the user leaves ``random_state`` blank.
        n_jobs: Thread count for threaded families.

    Returns:
        The resolved hyperparameters, JSON-ready.

    Raises:
        InvalidHyperparameter: naming ``hyperparameters.<key>``.
    """
    family = get_family(model_type)
    values = resolve_values(family.params, raw, "hyperparameters", InvalidHyperparameter, task=task)
    if "random_state" in values and values["random_state"] is None:
        values["random_state"] = random_state
    if family.threaded:
        values["n_jobs"] = n_jobs
    if model_type == "logistic_regression" and values["l1_ratio"] > 0 and values["solver"] != "saga":
        raise InvalidHyperparameter("a non-zero l1_ratio needs solver 'saga'", field="hyperparameters.l1_ratio")
    return values


def model_family_schemas() -> list[dict[str, Any]]:
    """Every model family's hyperparameter schema, JSON-ready (``GET /model-families``)."""
    return [family.to_json() for family in FAMILIES.values()]
