"""Typed parameter schemas and strict validation of user-supplied values.

One :class:`Param` describes a node-config key or a hyperparameter: its type, default,
bounds, choices and whether the form shows it under "Advanced". :func:`resolve_values`
turns raw JSON into checked values; blank or null falls back to the default. Values are
only ever compared and copied, never evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from actors.errors import ModelError

ParamType = Literal[
    "int", "float", "bool", "choice", "string", "id", "scalar", "column", "columns", "column_or_bool", "object"
]

ErrorClass = type[ModelError]


@dataclass(frozen=True)
class Param:
    """The schema of one configurable value.

    Attributes:
        name: Key in the config or hyperparameter object (the library's own name).
        type: One of ``int, float, bool, choice, string, id`` (string or integer), ``scalar``
            (finite number, string or boolean), ``column, columns, column_or_bool, object``.
        description: One sentence for the form's help text.
        default: Value used when the key is absent, null or blank.
        minimum: Lower bound for numbers (minimum item count for ``columns``).
        maximum: Upper bound for numbers (maximum length for ``string``).
        exclusive_minimum: The lower bound itself is not allowed.
        exclusive_maximum: The upper bound itself is not allowed.
        choices: Allowed strings for ``choice``.
        advanced: Shown in the form's "Advanced" drawer.
        required: Absent, null or blank is an error.
        tasks: Tasks the parameter applies to (None = all).
        default_by_task: Per-task defaults overriding ``default`` once the task is known.
    """

    name: str
    type: ParamType
    description: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple[str, ...] | None = None
    advanced: bool = False
    required: bool = False
    tasks: tuple[str, ...] | None = None
    default_by_task: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The schema as JSON-ready data for the forms."""
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "required": self.required,
            "advanced": self.advanced,
            "description": self.description,
        }
        if self.minimum is not None:
            data["minimum"] = self.minimum
            data["exclusive_minimum"] = self.exclusive_minimum
        if self.maximum is not None:
            data["maximum"] = self.maximum
            data["exclusive_maximum"] = self.exclusive_maximum
        if self.choices is not None:
            data["choices"] = list(self.choices)
        if self.tasks is not None:
            data["tasks"] = list(self.tasks)
        if self.default_by_task is not None:
            data["default_by_task"] = dict(self.default_by_task)
        return data

    def default_for(self, task: str | None) -> Any:
        """The default value, specialised to ``task`` when the schema says so."""
        if self.default_by_task is not None:
            return self.default_by_task.get(task) if task is not None else None
        return self.default

    def check(self, value: Any, field: str, error: ErrorClass) -> Any:
        """Return ``value`` converted to the parameter's type or raise ``error`` naming ``field``."""
        kind = self.type
        if kind == "int":
            return self._bounded(_as_int(value, field, error), field, error)
        if kind == "float":
            return self._bounded(_as_float(value, field, error), field, error)
        if kind == "bool":
            if not isinstance(value, bool):
                raise error(f"must be true or false, got {_show(value)}", field=field)
            return value
        if kind == "choice":
            if not isinstance(value, str) or value not in (self.choices or ()):
                raise error(f"must be one of {list(self.choices or ())}, got {_show(value)}", field=field)
            return value
        if kind in ("string", "column"):
            if not isinstance(value, str):
                raise error(f"must be a string, got {_show(value)}", field=field)
            if self.maximum is not None and len(value) > self.maximum:
                raise error(f"must be at most {int(self.maximum)} characters", field=field)
            return value
        if kind == "id":
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise error(f"must be a string or an integer, got {_show(value)}", field=field)
            return value
        if kind == "scalar":
            if isinstance(value, float) and not math.isfinite(value):
                raise error(f"must be finite, got {value}", field=field)
            if not isinstance(value, str | int | float):
                raise error(f"must be a number, a string or a boolean, got {_show(value)}", field=field)
            return value
        if kind == "columns":
            return self._columns(value, field, error)
        if kind == "column_or_bool":
            if not isinstance(value, bool | str):
                raise error(f"must be true, false or a column name, got {_show(value)}", field=field)
            return value
        if not isinstance(value, Mapping):
            raise error(f"must be an object, got {_show(value)}", field=field)
        return dict(value)

    def _bounded(self, number: float, field: str, error: ErrorClass) -> Any:
        low, high = self.minimum, self.maximum
        if low is not None and (number < low or (self.exclusive_minimum and number == low)):
            raise error(f"must be {'>' if self.exclusive_minimum else '>='} {low}, got {_number(number)}", field=field)
        if high is not None and (number > high or (self.exclusive_maximum and number == high)):
            raise error(f"must be {'<' if self.exclusive_maximum else '<='} {high}, got {_number(number)}", field=field)
        return number

    def _columns(self, value: Any, field: str, error: ErrorClass) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise error(f"must be a list of column names, got {_show(value)}", field=field)
        if len(set(value)) != len(value):
            raise error("lists a column more than once", field=field)
        if self.minimum is not None and len(value) < self.minimum:
            raise error(f"must list at least {int(self.minimum)} column(s)", field=field)
        return list(value)


def is_blank(value: Any) -> bool:
    """Whether a raw value means "use the default" (absent, null or an empty string)."""
    return value is None or (isinstance(value, str) and not value.strip())


def resolve_values(
    params: Sequence[Param],
    raw: Any,
    prefix: str,
    error: ErrorClass,
    *,
    task: str | None = None,
) -> dict[str, Any]:
    """Validate ``raw`` against ``params`` and fill in defaults.

    Args:
        params: The schema.
        raw: The user's object (None means empty).
        prefix: Dotted path prepended to each key in errors (``"hyperparameters"``).
        error: The ``ModelError`` subclass to raise.
        task: The job's task when known; selects per-task defaults, omits parameters
            that do not apply to it and rejects them when set.

    Returns:
        Every parameter of the schema with its checked or default value.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise error(f"must be an object, got {_show(raw)}", field=prefix)
    by_name = {param.name: param for param in params}
    for key in raw:
        if key not in by_name:
            raise error(f"unknown key; allowed: {sorted(by_name)}", field=f"{prefix}.{key}", details={"key": key})
    resolved: dict[str, Any] = {}
    for param in params:
        field = f"{prefix}.{param.name}"
        value = raw.get(param.name)
        if task is not None and param.tasks is not None and task not in param.tasks:
            if not is_blank(value):
                raise error(f"does not apply to {task}", field=field)
            continue
        if is_blank(value):
            if param.required:
                raise error("is required", field=field)
            resolved[param.name] = param.default_for(task)
            continue
        resolved[param.name] = param.check(value, field, error)
    return resolved


def _as_int(value: Any, field: str, error: ErrorClass) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise error(f"must be an integer, got {_show(value)}", field=field)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise error(f"must be a finite integer, got {value}", field=field)
        if not value.is_integer():
            raise error(f"must be an integer, got {value}", field=field)
    return int(value)


def _as_float(value: Any, field: str, error: ErrorClass) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise error(f"must be a number, got {_show(value)}", field=field)
    number = float(value)
    if not math.isfinite(number):
        raise error(f"must be a finite number, got {value}", field=field)
    return number


def _number(value: float) -> str:
    # int(1e308) has 309 digits: an error message shows its magnitude, not every digit.
    text = str(value)
    return text if len(text) <= 20 else f"{value:.6g}"


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}"
