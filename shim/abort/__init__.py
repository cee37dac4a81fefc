"""Aborting messages in the style of dramatiq-abort.

    >>> broker.add_middleware(Abortable(backend=RedisBackend(client=client)))
    >>> abort(message.message_id, mode="abort", abort_timeout=2000)
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..errors import Abort
from .backend import AbortBackend, AbortRequest, RedisBackend, StubBackend
from .middleware import Abortable, current_abort_state

if TYPE_CHECKING:
    from ..broker import Broker

__all__ = ["Abort", "AbortBackend", "AbortRequest", "Abortable", "RedisBackend", "StubBackend", "abort",
           "abort_requested"]

MODES = ("abort", "cancel")


def abort(
    message_id: str,
    middleware: Abortable | None = None,
    abort_timeout: int | None = None,
    mode: str = "abort",
    *,
    broker: Broker | None = None,
) -> None:
    """Request that a message be aborted.

    Args:
        message_id: The message to abort.
        middleware: The Abortable middleware; found on ``broker`` (or the global broker) if omitted.
        abort_timeout: Milliseconds a running actor may take to stop cooperatively (default 0).
        mode: ``"abort"`` skips a pending message and interrupts a running one;
            ``"cancel"`` only skips a pending one.
        broker: The broker whose middleware to use.

    Raises:
        ValueError: On an unknown ``mode`` or a negative ``abort_timeout``.
        RuntimeError: When no Abortable middleware is found.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if abort_timeout is not None and abort_timeout < 0:
        raise ValueError(f"abort_timeout must be >= 0 milliseconds, got {abort_timeout!r}")
    if middleware is None:
        from ..broker import get_broker

        for item in (broker or get_broker()).middleware:
            if isinstance(item, Abortable):
                middleware = item
                break
        else:
            raise RuntimeError("The broker doesn't have an Abortable middleware.")
    request = AbortRequest(mode=mode, abort_timeout=abort_timeout or 0, requested_at=int(time.time() * 1000))
    middleware.backend.request(message_id, request)


def abort_requested() -> float | None:
    """Inside an actor: ``None`` when no abort was requested, else the milliseconds left before
    the actor is interrupted (0.0 once the timeout has passed)."""
    requested_at, deadline = current_abort_state()
    if requested_at is None or deadline is None:
        return None
    return max(0.0, (deadline - time.monotonic()) * 1000)
