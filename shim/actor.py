"""Actors: callables with the metadata needed to run them on a broker."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from inspect import iscoroutinefunction
from typing import Any, Generic, ParamSpec, TypeVar, overload

from .asyncio import async_to_sync
from .broker import Broker, get_broker
from .message import Message

_QUEUE_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9._-]*")

P = ParamSpec("P")
R = TypeVar("R")


def _is_coroutine_callable(fn: Any) -> bool:
    # Class-based actors count as async when their perform() is a coroutine function.
    candidates = (fn, getattr(fn, "__call__", None), getattr(fn, "perform", None))  # noqa: B004
    return any(candidate is not None and iscoroutinefunction(candidate) for candidate in candidates)


class Actor(Generic[P, R]):
    """A callable wrapped with the metadata that says how to run it asynchronously.

    Attributes:
        logger: The actor's logger.
        fn: The underlying callable (async callables are wrapped to run on the event loop).
        broker: The broker this actor is bound to.
        actor_name: The actor's name.
        queue_name: The actor's queue.
        priority: The actor's priority (lower runs first).
        options: Options for the broker and middleware.
    """

    def __init__(
        self,
        fn: Callable[P, Awaitable[R]] | Callable[P, R],
        *,
        broker: Broker,
        actor_name: str,
        queue_name: str,
        priority: int,
        options: dict[str, Any],
    ) -> None:
        if actor_name in broker.actors:
            raise ValueError(f"An actor named {actor_name!r} is already registered.")
        self.logger = logging.getLogger(f"{getattr(fn, '__module__', None) or '_'}.{actor_name}")
        self.fn: Callable[..., Any] = async_to_sync(fn) if _is_coroutine_callable(fn) else fn  # type: ignore[arg-type]
        self.broker = broker
        self.actor_name = actor_name
        self.queue_name = queue_name
        self.priority = priority
        self.options = options
        self.broker.declare_actor(self)

    def message(self, *args: P.args, **kwargs: P.kwargs) -> Message[R]:
        """Build a message for this actor without sending it."""
        return self.message_with_options(args=args, kwargs=kwargs)

    def message_with_options(
        self, *, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None, **options: Any
    ) -> Message[R]:
        """Build a message with processing options for the broker and middleware.

        Raises:
            TypeError: When ``on_success``/``on_failure`` is neither an Actor nor a name.
        """
        for name in ("on_failure", "on_success"):
            callback = options.get(name)
            if isinstance(callback, Actor):
                options[name] = callback.actor_name
            elif not isinstance(callback, type(None) | str):
                raise TypeError(name + " value must be an Actor")
        return Message(
            queue_name=self.queue_name,
            actor_name=self.actor_name,
            args=args,
            kwargs=kwargs or {},
            options=options,
        )

    def send(self, *args: P.args, **kwargs: P.kwargs) -> Message[R]:
        """Send a message to this actor; returns the enqueued message."""
        return self.send_with_options(args=args, kwargs=kwargs)

    def send_with_options(
        self,
        *,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        delay: timedelta | int | None = None,
        **options: Any,
    ) -> Message[R]:
        """Send a message with options, optionally delayed (milliseconds or a timedelta)."""
        if isinstance(delay, timedelta):
            delay = int(delay.total_seconds() * 1000)
        message = self.message_with_options(args=args, kwargs=kwargs, **options)
        return self.broker.enqueue(message, delay=delay)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the actor synchronously in the current thread."""
        if not self.logger.isEnabledFor(logging.DEBUG):
            # The common case: skip the timing that only the debug lines below would use.
            return self.fn(*args, **kwargs)  # type: ignore[no-any-return]
        start = time.perf_counter()
        try:
            self.logger.debug("Received args=%r kwargs=%r.", args, kwargs)
            result: R = self.fn(*args, **kwargs)
            return result
        finally:
            self.logger.debug("Completed after %.02fms.", (time.perf_counter() - start) * 1000)

    def __repr__(self) -> str:
        return f"Actor({self.fn!r}, queue_name={self.queue_name!r}, actor_name={self.actor_name!r})"

    def __str__(self) -> str:
        return f"Actor({self.actor_name})"


@overload
def actor(fn: Callable[P, Awaitable[R]]) -> Actor[P, R]: ...


@overload
def actor(fn: Callable[P, R]) -> Actor[P, R]: ...


@overload
def actor(
    *,
    actor_class: Callable[..., Actor[Any, Any]] = ...,
    actor_name: str | None = ...,
    queue_name: str = ...,
    priority: int = ...,
    broker: Broker | None = ...,
    **options: Any,
) -> Callable[[Callable[..., Any]], Actor[Any, Any]]: ...


def actor(
    fn: Callable[..., Any] | None = None,
    *,
    actor_class: Callable[..., Actor[Any, Any]] = Actor,
    actor_name: str | None = None,
    queue_name: str = "default",
    priority: int = 0,
    broker: Broker | None = None,
    **options: Any,
) -> Actor[Any, Any] | Callable[[Callable[..., Any]], Actor[Any, Any]]:
    """Declare an actor, bare (``@actor``) or called (``@actor(queue_name=...)``).

    Args:
        fn: The function to wrap.
        actor_class: The class (or factory) that builds the actor.
        actor_name: The actor's name; the function's name by default.
        queue_name: The queue; a letter or underscore then letters, digits, ``.``, ``_``, ``-``.
        priority: Lower numbers run first when a worker holds several messages.
        broker: The broker; the global broker by default.
        **options: Options checked against the broker's middleware ``actor_options``.

    Raises:
        ValueError: On a bad queue name, an unknown option or a duplicate actor name.
    """

    def decorator(fn: Callable[..., Any]) -> Actor[Any, Any]:
        name = actor_name or fn.__name__
        if not _QUEUE_NAME_RE.fullmatch(queue_name):
            raise ValueError(
                "Queue names must start with a letter or an underscore followed "
                "by any number of letters, digits, dashes or underscores."
            )
        target = broker or get_broker()
        invalid_options = set(options) - target.actor_options
        if invalid_options:
            raise ValueError(
                "The following actor options are undefined: {}. Did you forget to add a middleware to your "
                "Broker?".format(", ".join(invalid_options))
            )
        return actor_class(
            fn, actor_name=name, queue_name=queue_name, priority=priority, broker=target, options=options
        )

    if fn is None:
        return decorator
    return decorator(fn)
