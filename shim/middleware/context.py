"""WorkerContext: one object per worker process handed to the actors that ask for it.

In the spirit of arq's ``ctx``: the application's collaborators (database sessions, clients,
configuration) are built once where the actors run and passed to them as an argument, so an
actor module holds no global to look them up. An actor declared with ``context=True``
receives the object as its first positional argument; its messages carry only the others::

    broker.add_middleware(WorkerContext(lambda worker: build_my_context(worker)))

    @shim.actor(context=True)
    async def resize(ctx, image_id): ...

    resize.send("img-1")   # runs resize(ctx, "img-1") in the worker
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .middleware import Middleware

if TYPE_CHECKING:
    from ..actor import Actor
    from ..broker import Broker
    from ..worker import Worker

CONTEXT_OPTION = "context"


class WorkerContext(Middleware):
    """Builds the context at each worker's boot and passes it to ``context=True`` actors.

    Args:
        factory: Called with the booting :class:`~shim.worker.Worker` in the process that runs
            the actors (each child of a prefork pool, after the fork), before any message.
            ``worker.replaceable`` says whether the pool replaces this process if it exits.
    """

    def __init__(self, factory: Callable[[Worker], Any]) -> None:
        self._factory = factory
        self._context: Any = None
        self._pid = 0

    @property
    def actor_options(self) -> set[str]:
        return {CONTEXT_OPTION}

    def after_declare_actor(self, broker: Broker, actor: Actor[Any, Any]) -> None:
        if not actor.options.get(CONTEXT_OPTION) or getattr(actor.fn, "__shim_context__", False):
            return
        inner = actor.fn

        @functools.wraps(inner)
        def with_context(*args: Any, **kwargs: Any) -> Any:
            return inner(self.current(), *args, **kwargs)

        with_context.__shim_context__ = True  # type: ignore[attr-defined]
        actor.fn = with_context

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        self._context = self._factory(worker)
        self._pid = os.getpid()

    def after_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        self._context, self._pid = None, 0

    def current(self) -> Any:
        """The context of this process's worker.

        Raises:
            RuntimeError: No worker has booted in this process (a fork inherits no context).
        """
        if self._context is None or self._pid != os.getpid():
            raise RuntimeError("no worker context in this process: the actor runs outside a booted worker")
        return self._context
