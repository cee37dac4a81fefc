"""Actor results: the Results middleware, backends and result errors."""

from __future__ import annotations

from .backend import Missing, ResultBackend
from .errors import ResultError, ResultFailure, ResultMissing, ResultTimeout
from .middleware import Results

__all__ = ["Missing", "ResultBackend", "ResultError", "ResultFailure", "ResultMissing", "ResultTimeout", "Results"]
