"""The broker base class, the global broker and the message proxy handed to middleware."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .errors import ActorNotFound, MiddlewareError

if TYPE_CHECKING:
    from .actor import Actor
    from .message import Message
    from .middleware.middleware import Middleware
    from .results.backend import ResultBackend
    from .worker import Worker, WorkerEngine

_global_broker: Broker | None = None


def get_broker() -> Broker:
    """Get the global broker, creating a RedisBroker on 127.0.0.1:6379 when none is set.

    Creating the default broker does not connect to Redis.
    """
    global _global_broker
    if _global_broker is None:
        from .brokers.redis import RedisBroker

        set_broker(RedisBroker())
    assert _global_broker is not None
    return _global_broker


def set_broker(broker: Broker) -> None:
    """Configure the global broker instance."""
    global _global_broker
    _global_broker = broker


class Broker:
    """Base class for brokers: actors, queues and the middleware chain.

    Args:
        middleware: Every middleware of this broker; the default list when omitted.

    Attributes:
        actor_options: The option names actors may set, collected from the middleware.
    """

    def __init__(self, middleware: list[Middleware] | None = None) -> None:
        self.logger = logging.getLogger(f"{type(self).__module__}.{type(self).__name__}")
        self.actors: dict[str, Actor[Any, Any]] = {}
        self.queues: Any = {}
        self.delay_queues: set[str] = set()
        self.actor_options: set[str] = set()
        self.middleware: list[Middleware] = []
        # Per hook name: the middleware list it was computed for, and the middleware that
        # override the hook. The base hooks are no-ops, so skipping them changes nothing.
        self._hooks: dict[str, tuple[tuple[Middleware, ...], tuple[Middleware, ...]]] = {}
        if middleware is None:
            from .middleware import default_middleware

            middleware = [factory() for factory in default_middleware]
        for item in middleware:
            self.add_middleware(item)

    def _hooked(self, name: str) -> tuple[Middleware, ...]:
        """The middleware (in order) whose ``name`` hook is not the base class's no-op."""
        current = tuple(self.middleware)
        cached = self._hooks.get(name)
        if cached is not None and cached[0] == current:
            return cached[1]
        from .middleware.middleware import Middleware

        base = getattr(Middleware, name, None)
        hooked = tuple(
            item for item in current
            if base is None or getattr(type(item), name, None) is not base or name in getattr(item, "__dict__", ())
        )
        self._hooks[name] = (current, hooked)
        return hooked

    def emit_before(self, signal: str, *args: Any, **kwargs: Any) -> None:
        """Call ``before_<signal>`` on each middleware in order; MiddlewareErrors propagate."""
        name = "before_" + signal
        for item in self._hooked(name):
            try:
                getattr(item, name)(self, *args, **kwargs)
            except MiddlewareError:
                raise
            except Exception:
                self.logger.critical("Unexpected failure in %s of %r.", name, item, exc_info=True)

    def emit_after(self, signal: str, *args: Any, **kwargs: Any) -> None:
        """Call ``after_<signal>`` on each middleware in reverse order; failures are logged."""
        name = "after_" + signal
        for item in reversed(self._hooked(name)):
            try:
                getattr(item, name)(self, *args, **kwargs)
            except Exception:
                self.logger.critical("Unexpected failure in %s of %r.", name, item, exc_info=True)

    def add_middleware(
        self,
        middleware: Middleware,
        *,
        before: type[Middleware] | None = None,
        after: type[Middleware] | None = None,
    ) -> None:
        """Add a middleware, at the end or just before/after the first one of a class.

        Raises:
            ValueError: When ``before``/``after`` names a middleware class not registered.
        """
        assert not (before and after), "provide either 'before' or 'after', but not both"
        for existing in self.middleware:
            if isinstance(existing, type(middleware)):
                self.logger.warning("You're adding a middleware of the same type twice: %r.", middleware)
        reference = before or after
        if reference is not None:
            for index, existing in enumerate(self.middleware):
                if isinstance(existing, reference):
                    self.middleware.insert(index if before else index + 1, middleware)
                    break
            else:
                raise ValueError(f"Middleware {reference!r} not found")
        else:
            self.middleware.append(middleware)
        self.actor_options |= middleware.actor_options
        for actor in self.actors.values():
            middleware.after_declare_actor(self, actor)
        for queue_name in self.get_declared_queues():
            middleware.after_declare_queue(self, queue_name)
        for queue_name in self.get_declared_delay_queues():
            middleware.after_declare_delay_queue(self, queue_name)

    def close(self) -> None:
        """Close this broker and release its resources."""

    def validate_actor(self, actor: Actor[Any, Any]) -> None:
        """Check an actor against broker-specific limits before it is declared."""

    def declare_actor(self, actor: Actor[Any, Any]) -> None:
        """Declare an actor (and its queue) on this broker."""
        self.validate_actor(actor)
        self.emit_before("declare_actor", actor)
        self.declare_queue(actor.queue_name)
        self.actors[actor.actor_name] = actor
        self.emit_after("declare_actor", actor)

    def declare_queue(self, queue_name: str) -> None:
        """Declare a queue; idempotent."""
        raise NotImplementedError

    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        """Enqueue a message, optionally delayed by ``delay`` milliseconds."""
        raise NotImplementedError

    def get_actor(self, actor_name: str) -> Actor[Any, Any]:
        """Look up an actor by name.

        Raises:
            ActorNotFound: If the actor was never declared.
        """
        try:
            return self.actors[actor_name]
        except KeyError:
            raise ActorNotFound(actor_name) from None

    def get_declared_actors(self) -> set[str]:
        """The names of all declared actors."""
        return set(self.actors)

    def get_declared_queues(self) -> set[str]:
        """The names of all declared queues."""
        return set(self.queues)

    def get_declared_delay_queues(self) -> set[str]:
        """The names of all declared delay queues."""
        return set(self.delay_queues)

    def get_results_backend(self) -> ResultBackend:
        """The backend of the Results middleware.

        Raises:
            RuntimeError: If the broker has no Results middleware.
        """
        from .results.middleware import Results

        for item in self.middleware:
            if isinstance(item, Results):
                return item.backend
        raise RuntimeError("The broker doesn't have a results backend.")

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 30000) -> Consumer:
        """An iterator over the messages of a queue (``None`` when idle for ``timeout`` ms).

        Raises:
            QueueNotFound: If the queue was never declared.
        """
        raise NotImplementedError

    def flush(self, queue_name: str) -> None:
        """Drop all the messages from a queue."""
        raise NotImplementedError

    def flush_all(self) -> None:
        """Drop all messages from all declared queues."""
        raise NotImplementedError

    def join(self, queue_name: str, *, timeout: int | None = None) -> None:
        """Wait until every message of a queue has been processed (for tests)."""
        raise NotImplementedError

    def worker_engine(self, worker: Worker) -> WorkerEngine:
        """The engine that consumes this broker's queues for ``worker``."""
        raise NotImplementedError


class Consumer:
    """Iterates over the messages of a queue (:meth:`Broker.consume`); not thread-safe."""

    def __iter__(self) -> Consumer:
        return self

    def __next__(self) -> MessageProxy | None:
        raise NotImplementedError

    def ack(self, message: MessageProxy) -> None:
        """Acknowledge a processed message."""
        raise NotImplementedError

    def nack(self, message: MessageProxy) -> None:
        """Move a message to the dead-letter queue."""
        raise NotImplementedError

    def requeue(self, messages: Iterable[MessageProxy]) -> None:
        """Move unacked messages back to their queues."""

    def close(self) -> None:
        """Release the consumer's resources."""


class MessageProxy:
    """A received message plus its processing state (failed flag, stuffed exception)."""

    def __init__(self, message: Message[Any]) -> None:
        self.failed = False
        self._message = message
        self._exception: BaseException | None = None
        # Hooks read these on every message; plain attributes spare a __getattr__ each time.
        # The option dict is the message's own, so middleware edits reach the message.
        self.queue_name = message.queue_name
        self.actor_name = message.actor_name
        self.args = message.args
        self.kwargs = message.kwargs
        self.options = message.options
        self.message_id = message.message_id
        self.message_timestamp = message.message_timestamp

    @property
    def message(self) -> Message[Any]:
        """The proxied message."""
        return self._message

    def stuff_exception(self, exception: BaseException) -> None:
        """Remember the exception the message failed with."""
        self._exception = exception

    def clear_exception(self) -> None:
        """Forget the stuffed exception (breaks a reference cycle)."""
        self._exception = None

    def fail(self) -> None:
        """Mark this message for rejection."""
        self.failed = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._message, name)

    def __str__(self) -> str:
        return str(self._message)

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} {self._message!r}>"

    def __lt__(self, other: MessageProxy) -> bool:
        warnings.warn(
            "Comparing MessageProxy instances by order (>, <, etc) is deprecated and will be removed in "
            "dramatiq v3.0.0.", DeprecationWarning, stacklevel=2,
        )
        return self._message < other._message

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MessageProxy):
            return self._message == other._message
        return self._message == other

    __hash__ = None  # type: ignore[assignment]
