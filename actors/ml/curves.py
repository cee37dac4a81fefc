"""Learning curves: the points a fit reports after each round or batch of trees.

A :class:`CurveLog` is shared by the engine thread (which adds points) and the job's
supervising coroutine (which streams the new points and stores a downsampled copy), so
every method takes its lock. The JSON shape (stored with the job, returned by the
insights API and streamed in ``job.progress`` events) is::

    {"unit": "round", "series": [{"partition": "train", "metric": "log_loss"}, ...],
     "points": [[step, value_of_series_0, value_of_series_1, ...], ...],
     "count": <points recorded>, "best_step": <early-stopping step or null>}
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

MAX_STORED_POINTS = 500


def downsample(points: Sequence[list[float | None]], limit: int = MAX_STORED_POINTS) -> list[list[float | None]]:
    """At most ``limit`` points, evenly spaced by index, always keeping the first and the last."""
    if len(points) <= limit:
        return [list(point) for point in points]
    if limit < 2:
        return [list(points[-1])]
    last = len(points) - 1
    picked = sorted({round(i * last / (limit - 1)) for i in range(limit)})
    return [list(points[i]) for i in picked]


def _finite(value: float) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


class CurveLog:
    """The learning curve of one fit, filled from the fit's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._unit: str | None = None
        self._series: list[dict[str, str]] = []
        self._points: list[list[float | None]] = []
        self._best_step: int | None = None

    def start(self, unit: str, series: Sequence[tuple[str, str]]) -> None:
        """Begin a curve of ``(partition, metric)`` series, measured per ``unit`` (``round``, ``trees``)."""
        with self._lock:
            self._unit = unit
            self._series = [{"partition": partition, "metric": metric} for partition, metric in series]
            self._points = []
            self._best_step = None

    @property
    def started(self) -> bool:
        with self._lock:
            return self._unit is not None

    def add(self, step: int, values: Sequence[float]) -> None:
        """Record the series' values after ``step`` rounds (or trees)."""
        with self._lock:
            if self._unit is None or len(values) != len(self._series):
                raise ValueError(f"a point needs {len(self._series)} values after start(), got {len(values)}")
            self._points.append([int(step), *(_finite(v) for v in values)])

    def mark_best(self, step: int | None) -> None:
        """Record the step early stopping kept (None when it did not stop early)."""
        with self._lock:
            self._best_step = step

    def __len__(self) -> int:
        with self._lock:
            return len(self._points)

    def header(self) -> dict[str, Any] | None:
        """``{"unit", "series"}`` or None before :meth:`start`."""
        with self._lock:
            if self._unit is None:
                return None
            return {"unit": self._unit, "series": [dict(item) for item in self._series]}

    def delta(self, offset: int) -> dict[str, Any] | None:
        """The points from index ``offset`` on, for a live update; None when there are none."""
        with self._lock:
            if self._unit is None or offset >= len(self._points):
                return None
            return {"unit": self._unit, "series": [dict(item) for item in self._series], "offset": offset,
                    "points": [list(point) for point in self._points[offset:]], "count": len(self._points)}

    def snapshot(self, limit: int = MAX_STORED_POINTS, upto: int | None = None) -> dict[str, Any] | None:
        """The first ``upto`` points (default: all) downsampled to at most ``limit``; None before :meth:`start`."""
        with self._lock:
            if self._unit is None:
                return None
            points = self._points if upto is None else self._points[:upto]
            return {"unit": self._unit, "series": [dict(item) for item in self._series],
                    "points": downsample(points, limit), "count": len(points), "best_step": self._best_step}
