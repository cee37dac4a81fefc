"""Celery revokes of shim messages, handed to the actor's owner instead of killing a process.

``celery control revoke ID`` (and Flower's revoke/terminate buttons) reach every worker's
remote-control handler. Celery then discards the message if it has not started and, with
``terminate``, kills the pool process running it. For an actor with a handler registered
here the worker instead tells the handler (which may stop the work cooperatively) and never
terminates the process: a killed process could leave state behind that only the actor can
settle. Actors without a handler keep Celery's behaviour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery import signals
from celery.utils.functional import maybe_list
from celery.worker import control
from celery.worker import state as worker_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RevokedMessage:
    """A revoke of one message of an actor with a handler.

    Attributes:
        message_id: The message (Celery task) id.
        actor_name: The actor (Celery task name).
        args: The actor's positional arguments.
        kwargs: The actor's keyword arguments.
        running: True when it was running on this worker; False when the worker discarded it
            before it started.
        terminate: Whether the revoke asked to terminate the process (not done for handled actors).
        signal: The signal the revoke named, if any.
    """

    message_id: str
    actor_name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    running: bool = True
    terminate: bool = False
    signal: str | None = None


RevokeHandler = Callable[[RevokedMessage], None]

_handlers: dict[str, RevokeHandler] = {}
_original: Callable[..., Any] | None = None


def on_revoke(actor_name: str, handler: RevokeHandler) -> None:
    """Send Celery revokes of ``actor_name``'s messages in this worker process to ``handler``.

    The handler runs on the worker's consumer thread: it must return quickly (hand the work
    to another thread). Install it in the worker's main process before the worker starts.
    """
    _handlers[actor_name] = handler
    _install()


def _install() -> None:
    global _original
    if _original is not None:
        return
    _original = control.Panel.data["revoke"]
    # The pidbox node looks its handlers up in this dict on every command.
    control.Panel.data["revoke"] = _revoke
    signals.task_revoked.connect(_on_discarded, weak=False)


def _call(revoked: RevokedMessage) -> None:
    handler = _handlers.get(revoked.actor_name)
    if handler is None:
        return
    try:
        handler(revoked)
    except Exception:  # a failing handler must not break the worker's remote control
        log.exception("revoke handler of %s failed for %s", revoked.actor_name, revoked.message_id)


def _revoke(state: Any, task_id: Any, terminate: bool = False, signal: str | None = None, **kwargs: Any) -> Any:
    assert _original is not None
    ids = set(maybe_list(task_id) or [])
    handled = [req for req in list(worker_state.active_requests) if req.id in ids and req.name in _handlers]
    handled_ids = {req.id for req in handled}
    if terminate and handled_ids:
        reply = _original(state, sorted(handled_ids), terminate=False, signal=signal, **kwargs)
        others = ids - handled_ids
        if others:
            reply = _original(state, sorted(others), terminate=True, signal=signal, **kwargs)
    else:
        reply = _original(state, task_id, terminate=terminate, signal=signal, **kwargs)
    for req in handled:
        log.warning("revoke of running %s %s handed to its handler (terminate=%s)", req.name, req.id, terminate)
        _call(RevokedMessage(req.id, req.name, tuple(req.args), dict(req.kwargs), True, terminate, signal))
    return reply


def _on_discarded(sender: Any = None, request: Any = None, terminated: bool = False, expired: bool = False,
                  **_: Any) -> None:
    name = getattr(sender, "name", None)
    if request is None or expired or terminated or name not in _handlers:
        return
    _call(RevokedMessage(str(request.id), str(name), tuple(request.args or ()), dict(request.kwargs or {}), False))
