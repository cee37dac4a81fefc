"""How results and failures are represented in a result backend (Dramatiq's format)."""

from __future__ import annotations

from typing import Any

from ..errors import ResultFailure

_CANARY = "dramatiq.results.Result"


def wrap_result(result: Any) -> Any:
    """The stored form of a successful result (the result itself)."""
    return result


def wrap_exception(exception: BaseException) -> dict[str, Any]:
    """The stored form of a failure."""
    return {"__t": _CANARY, "exn": {"type": type(exception).__name__, "msg": str(exception)}}


def unwrap_result(stored: Any) -> Any:
    """The result, or ResultFailure raised for a stored failure."""
    if isinstance(stored, dict) and stored.get("__t") == _CANARY:
        kind, text = stored["exn"]["type"], stored["exn"]["msg"]
        raise ResultFailure(f"actor raised {kind}: {text}", kind, text)
    return stored
