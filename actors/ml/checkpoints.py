"""Cooperative stop checks and progress reporting shared by every stage of a job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors.errors import DeadlineExceeded, JobCancelled, JobStopped

StopCheck = Callable[[], "str | None"]
ProgressSink = Callable[[dict[str, Any]], None]


def _never() -> str | None:
    return None


def _ignore(_: dict[str, Any]) -> None:
    return None


class Checkpoint:
    """Pairs the job's ``should_stop`` with its progress callback.

    ``check()`` raises :class:`JobCancelled` when ``should_stop()`` returns
    ``"cancelled"`` (or any other reason) and :class:`DeadlineExceeded` for ``"timeout"``.
    """

    def __init__(self, should_stop: StopCheck | None = None, on_progress: ProgressSink | None = None) -> None:
        self._should_stop: StopCheck = should_stop or _never
        self._on_progress: ProgressSink = on_progress or _ignore

    def check(self, where: str) -> None:
        """Raise if the job must stop now; ``where`` names the checkpoint in the error."""
        reason = self._should_stop()
        if reason is None:
            return
        details = {"checkpoint": where, "reason": reason}
        if reason == "timeout":
            raise DeadlineExceeded(f"job exceeded its deadline ({where})", details=details)
        raise JobCancelled(f"job was cancelled ({where})", details=details)

    def progress(self, stage: str, completed: int, total: int, unit: str) -> None:
        """Report ``{stage, completed, total, unit}`` to the progress callback."""
        self._on_progress({"stage": stage, "completed": completed, "total": total, "unit": unit})


__all__ = ["Checkpoint", "JobStopped", "ProgressSink", "StopCheck"]
