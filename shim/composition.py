"""Composition: pipelines (results flow stage to stage) and groups (run in parallel)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from .broker import Broker, get_broker
from .errors import ResultMissing

if TYPE_CHECKING:
    from .message import Message


def _remaining(deadline: float | None, timeout: int | None) -> int | None:
    if deadline is None:
        return timeout
    return max(0, int((deadline - time.monotonic()) * 1000))


class pipeline:
    """Chain messages so that each one's result is appended to the next one's arguments.

    Args:
        children: Messages or pipelines (flattened).
        broker: The broker to run on; the global broker by default.
    """

    def __init__(self, children: Iterable[Message[Any] | pipeline], *, broker: Broker | None = None) -> None:
        self.broker = broker or get_broker()
        self.messages: list[Message[Any]] = []
        for child in children:
            if isinstance(child, pipeline):
                self.messages.extend(message.copy() for message in child.messages)
            else:
                self.messages.append(child.copy())
        for message, next_message in zip(self.messages, self.messages[1:], strict=False):
            message.options["pipe_target"] = next_message.asdict()

    def __len__(self) -> int:
        return len(self.messages)

    def __or__(self, other: Message[Any] | pipeline) -> pipeline:
        return type(self)([*self.messages, other], broker=self.broker)

    def __str__(self) -> str:
        return "pipeline([{}])".format(", ".join(str(m) for m in self.messages))

    @property
    def completed(self) -> bool:
        """Whether the last stage has a stored result."""
        try:
            self.messages[-1].get_result(backend=self.broker.get_results_backend())
            return True
        except ResultMissing:
            return False

    @property
    def completed_count(self) -> int:
        """How many leading stages have stored results."""
        backend = self.broker.get_results_backend()
        for count, message in enumerate(self.messages):
            try:
                message.get_result(backend=backend)
            except ResultMissing:
                return count
        return len(self.messages)

    def run(self, *, delay: int | None = None) -> pipeline:
        """Enqueue the first stage (delayed by the larger of ``delay`` and its own delay)."""
        first = self.messages[0]
        effective = max(delay or 0, first.options.get("delay") or 0) or None
        self.broker.enqueue(first, delay=effective)
        return self

    def get_result(self, *, block: bool = False, timeout: int | None = None) -> Any:
        """The last stage's result.

        Raises:
            ResultMissing: When ``block`` is false and it is not stored.
            ResultTimeout: When waiting times out.
        """
        return self.messages[-1].get_result(backend=self.broker.get_results_backend(), block=block, timeout=timeout)

    def get_results(self, *, block: bool = False, timeout: int | None = None) -> Iterator[Any]:
        """Each stage's result, in order."""
        deadline = time.monotonic() + timeout / 1000 if timeout else None
        backend = self.broker.get_results_backend()
        for message in self.messages:
            yield message.get_result(backend=backend, block=block, timeout=_remaining(deadline, timeout))


class group:
    """Run messages, groups and pipelines in parallel.

    Args:
        children: The members.
        broker: The broker to run on; the global broker by default.
    """

    def __init__(self, children: Iterable[Any], *, broker: Broker | None = None) -> None:
        self.children: list[Any] = list(children)
        self.broker = broker or get_broker()
        self.completion_callbacks: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.children)

    def __str__(self) -> str:
        return "group([{}])".format(", ".join(str(c) for c in self.children))

    def add_completion_callback(self, message: Message[Any]) -> None:
        """Enqueue ``message`` once every member has succeeded (needs GroupCallbacks)."""
        self.completion_callbacks.append(message.asdict())

    @property
    def completed(self) -> bool:
        """Whether every member has a stored result."""
        return self.completed_count == len(self)

    @property
    def completed_count(self) -> int:
        """How many members have stored results."""
        count = 0
        for child in self.children:
            try:
                if isinstance(child, group):
                    list(child.get_results())
                elif isinstance(child, pipeline):
                    child.get_result()
                else:
                    child.get_result(backend=self.broker.get_results_backend())
                count += 1
            except ResultMissing:
                pass
        return count

    def _children_with_callbacks(self) -> list[Any]:
        from .middleware.group_callbacks import GroupCallbacks
        from .rate_limits import Barrier

        for item in self.broker.middleware:
            if isinstance(item, GroupCallbacks):
                backend, ttl = item.rate_limiter_backend, item.barrier_ttl
                break
        else:
            raise RuntimeError(
                "GroupCallbacks middleware not found! Did you forget to set it up? "
                "It is required if you want to use group callbacks."
            )
        completion_uuid = str(uuid4())
        Barrier(backend, completion_uuid, ttl=ttl).create(len(self.children))
        marker = {"group_completion_uuid": completion_uuid, "group_completion_callbacks": self.completion_callbacks}
        children: list[Any] = []
        for child in self.children:
            if isinstance(child, group):
                raise NotImplementedError("nested groups cannot carry completion callbacks")
            if isinstance(child, pipeline):
                stages = child.messages[:]
                stages[-1] = stages[-1].copy(options=marker)
                children.append(pipeline(stages, broker=child.broker))
            else:
                children.append(child.copy(options=marker))
        return children

    def run(self, *, delay: int | None = None) -> group:
        """Enqueue every member, each delayed by ``delay`` milliseconds."""
        children = self._children_with_callbacks() if self.completion_callbacks else self.children
        for child in children:
            if isinstance(child, group | pipeline):
                child.run(delay=delay)
            else:
                self.broker.enqueue(child, delay=delay)
        return self

    def get_results(self, *, block: bool = False, timeout: int | None = None) -> Iterator[Any]:
        """Each member's result, in order (a list for a nested group)."""
        deadline = time.monotonic() + timeout / 1000 if timeout else None
        for child in self.children:
            remaining = _remaining(deadline, timeout)
            if isinstance(child, group):
                yield list(child.get_results(block=block, timeout=remaining))
            elif isinstance(child, pipeline):
                yield child.get_result(block=block, timeout=remaining)
            else:
                yield child.get_result(backend=self.broker.get_results_backend(), block=block, timeout=remaining)

    def wait(self, *, timeout: int | None = None) -> None:
        """Block until every member has a result.

        Raises:
            ResultTimeout: When waiting (``timeout`` ms, default 10 s each) times out.
        """
        for _ in self.get_results(block=True, timeout=timeout):
            pass
