"""Result errors (defined in :mod:`shim.errors`, re-exported under Dramatiq's path)."""

from __future__ import annotations

from ..errors import ResultError, ResultFailure, ResultMissing, ResultTimeout

__all__ = ["ResultError", "ResultFailure", "ResultMissing", "ResultTimeout"]
