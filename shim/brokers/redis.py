"""RedisBroker: Dramatiq's broker API as a Celery app on Redis.

Every actor declared before a worker starts is a Celery task under its own name, taking the
actor's arguments (the rest of the message rides in a header); the Celery task id is the
message id. Actors declared later travel through the generic dispatcher task
``shim.dispatch`` (the message dict as its argument), which looks the actor up when it runs.
Both end in :meth:`RedisBroker.run_message`.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

import redis
from celery.utils.saferepr import saferepr

from ..broker import Broker, Consumer, MessageProxy
from ..common import current_millis, dq_name, q_name, xq_name
from ..errors import ActorNotFound, QueueJoinTimeout
from ..message import Message
from ..middleware.time_limit import TimeLimit, resolve_time_limit
from ..processing import handle_received
from .celery_app import (
    DISPATCH_TASK_NAME,
    ENVELOPE_HEADER,
    build_app,
    celery_limits,
    celery_priority,
    max_countdown_s,
    priority_queue_names,
    register_actor_task,
)
from .running import DEFAULT_MARKER_DELAY_MS, RunningMarkers, RunningMessage

if TYPE_CHECKING:
    from celery import Celery

    from ..actor import Actor
    from ..middleware.middleware import Middleware
    from ..worker import Worker
    from .celery_worker import CeleryEngine

DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_VISIBILITY_TIMEOUT_S = 3600
DEAD_LETTER_LIMIT = 10_000
RUNNING_KEY_SLACK_MS = 60_000
ARGSREPR_MAXSIZE = 1024


class RedisBroker(Broker):
    """A Dramatiq-style broker executing on Celery with Redis as transport.

    Args:
        url: The Redis URL (``redis://127.0.0.1:6379/0`` by default). Nothing connects until
            a message is sent or a worker starts.
        middleware: See :class:`shim.broker.Broker`.
        namespace: Prefix of the shim's own keys (dead letters, running markers).
        visibility_timeout_s: Redis visibility timeout: an unacknowledged message is
            redelivered after this long, so every actor's time limit must be shorter.
        client: A Redis client for the shim's own keys; built from ``url`` when omitted.
        running_marker_delay_ms: A message running this long gets a marker that
            :meth:`get_running` reads (written by a background thread, so shorter messages cost
            no Redis round trip); 0 writes it as the message starts; None writes none.
        events: Celery workers of this broker send task and heartbeat events (Flower,
            ``celery events``); off by default, as in Celery.
        remote_control: Celery workers of this broker answer ``celery inspect``/``control``
            (and Flower); on by default, as in Celery.
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        middleware: list[Middleware] | None = None,
        namespace: str = "dramatiq",
        visibility_timeout_s: int = DEFAULT_VISIBILITY_TIMEOUT_S,
        client: redis.Redis | None = None,
        running_marker_delay_ms: int | None = DEFAULT_MARKER_DELAY_MS,
        events: bool = False,
        remote_control: bool = True,
    ) -> None:
        if not isinstance(visibility_timeout_s, int) or visibility_timeout_s < 2:
            raise ValueError(f"visibility_timeout_s must be an integer >= 2, got {visibility_timeout_s!r}")
        self.url = url or DEFAULT_URL
        self.namespace = namespace
        self.visibility_timeout_s = visibility_timeout_s
        self.events = events
        self.remote_control = remote_control
        self.named_tasks: set[str] = set()
        self.worker_started = False
        self.client = client or redis.Redis.from_url(self.url)
        self.running_markers = (
            None if running_marker_delay_ms is None
            else RunningMarkers(self.client, namespace, delay_ms=running_marker_delay_ms, ttl_of=self._marker_ttl_ms)
        )
        self._engines: list[CeleryEngine] = []
        self._lock = threading.Lock()
        super().__init__(middleware)
        self.queues: set[str] = set()
        self.app: Celery = build_app(self, f"shim-{namespace}")

    # -- declaration -------------------------------------------------------------------
    def _time_limit_of(self, options: dict[str, Any], actor: Actor[Any, Any]) -> float | None:
        for item in self.middleware:
            if isinstance(item, TimeLimit):
                return resolve_time_limit(options, actor, item.time_limit)
        return None

    def validate_actor(self, actor: Actor[Any, Any]) -> None:
        """Refuse actors whose time limit is not below the visibility timeout.

        Raises:
            ValueError: Naming ``time_limit`` and ``visibility_timeout_s``.
        """
        limit = self._time_limit_of({}, actor)
        if limit is not None and limit >= self.visibility_timeout_s * 1000:
            raise ValueError(
                f"time_limit of actor {actor.actor_name!r} ({limit} ms) must be shorter than the broker's "
                f"visibility_timeout_s ({self.visibility_timeout_s} s), or a running job would be redelivered"
            )

    def declare_actor(self, actor: Actor[Any, Any]) -> None:
        """Declare an actor; before a worker starts it also becomes a Celery task of its name."""
        super().declare_actor(actor)
        if not self.worker_started:
            self._register_named(actor.actor_name)

    def _register_named(self, actor_name: str) -> None:
        if actor_name in self.named_tasks or actor_name == DISPATCH_TASK_NAME or actor_name.startswith("celery."):
            return
        register_actor_task(self.app, self, actor_name)
        self.named_tasks.add(actor_name)

    def mark_worker_started(self) -> None:
        """Freeze the named tasks: a worker's Celery consumer knows only those at its start.

        Actors declared from now on are sent through ``shim.dispatch``.
        """
        for name in self.actors:
            self._register_named(name)
        self.worker_started = True

    def declare_queue(self, queue_name: str) -> None:
        """Declare a queue; idempotent. Running in-process workers start consuming it."""
        if queue_name in self.queues:
            return
        self.emit_before("declare_queue", queue_name)
        self.queues.add(queue_name)
        self.emit_after("declare_queue", queue_name)
        delayed = dq_name(queue_name)
        self.delay_queues.add(delayed)
        self.emit_after("declare_delay_queue", delayed)
        for engine in list(self._engines):
            engine.add_queue(queue_name)

    # -- sending -----------------------------------------------------------------------
    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        """Send a message as a Celery task (countdown for delays).

        Returns:
            The message; a delayed one is returned as Dramatiq shows it, on the ``.DQ``
            queue with an ``eta`` option, while the task carries the plain message.
        """
        canonical = message.copy(queue_name=q_name(message.queue_name))
        not_before = None
        if "eta" in canonical.options:
            # Dramatiq's consumer holds a message with an eta until then (a bad eta means now).
            not_before = self._eta_of(canonical)
            del canonical.options["eta"]
        shown = canonical
        if delay is not None:
            not_before = current_millis() + delay
            shown = canonical.copy(queue_name=dq_name(canonical.queue_name), options={"eta": not_before})
        self.emit_before("enqueue", shown, delay)
        self._publish(canonical, not_before)
        self.emit_after("enqueue", shown, delay)
        return shown

    def _eta_of(self, message: Message[Any]) -> int | None:
        eta = message.options["eta"]
        if eta is None:
            return None
        if isinstance(eta, bool) or not isinstance(eta, int | float):
            self.logger.warning(
                "Invalid eta value for message %r: %r. Setting eta to current_millis().", message.message_id, eta
            )
            return None
        return int(eta) if eta > current_millis() else None

    def _publish(self, message: Message[Any], not_before: int | None) -> None:
        options: dict[str, Any] = {"task_id": message.message_id, "queue": message.queue_name}
        kwargs: dict[str, Any] = {}
        if not_before is not None:
            remaining = max(0, not_before - current_millis()) / 1000
            options["countdown"] = min(remaining, max_countdown_s(self.visibility_timeout_s))
            kwargs["not_before"] = not_before
        actor = self.actors.get(message.actor_name)
        if actor is not None:
            limits = celery_limits(self._time_limit_of(message.options, actor))
            if limits.time_limit is not None:
                options["soft_time_limit"] = limits.soft_time_limit
                options["time_limit"] = limits.time_limit
            if actor.priority:
                options["priority"] = celery_priority(actor.priority)
        # Celery would repr the whole envelope for its argsrepr header; the actor's own
        # arguments cost what a plain task's do and say more in Celery's logs and monitors.
        options["argsrepr"] = saferepr(message.args, ARGSREPR_MAXSIZE)
        options["kwargsrepr"] = saferepr(message.kwargs, ARGSREPR_MAXSIZE)
        if message.actor_name in self.named_tasks:
            envelope = [message.queue_name, message.options, message.message_timestamp, not_before]
            self.app.send_task(
                message.actor_name, args=message.args, kwargs=message.kwargs,
                headers={ENVELOPE_HEADER: envelope}, **options,
            )
        else:
            self.app.send_task(DISPATCH_TASK_NAME, args=(message.asdict(),), kwargs=kwargs, **options)

    # -- receiving ---------------------------------------------------------------------
    def dispatch(self, data: dict[str, Any], not_before: int | None) -> None:
        """Run one message received by the Celery dispatcher task."""
        self.run_message(Message(**data), not_before)

    def run_named(
        self, actor_name: str, message_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], envelope: Any
    ) -> None:
        """Run one message received by an actor's named Celery task.

        A task sent by plain Celery (``train_model.delay(job_id)``, ``celery call``) has no
        envelope: it runs as a message with no options on the actor's queue.
        """
        if envelope:
            queue_name, options, timestamp, not_before = envelope
        else:
            actor = self.actors.get(actor_name)
            queue_name = actor.queue_name if actor is not None else "default"
            options, timestamp, not_before = {}, current_millis(), None
        message: Message[Any] = Message(
            queue_name=queue_name, actor_name=actor_name, args=tuple(args), kwargs=kwargs, options=options,
            message_id=message_id, message_timestamp=timestamp,
        )
        self.run_message(message, not_before)

    def run_message(self, message: Message[Any], not_before: int | None) -> None:
        """Run one received message with Dramatiq's semantics (both task kinds end here)."""
        if not_before is not None and not_before > current_millis():
            # A delay longer than one safe countdown hops until its eta.
            self._publish(message, not_before)
            return
        proxy = MessageProxy(message)
        markers = self.running_markers
        if markers is not None:
            markers.begin(message.message_id, message.actor_name, message.options)
        try:
            handle_received(self, proxy, _ack, self._dead_letter)
        finally:
            if markers is not None:
                markers.end(message.message_id)
            proxy.clear_exception()

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        """Dramatiq's consumer interface over a queue's Celery messages (see ``redis_consumer``)."""
        from .redis_consumer import RedisQueueConsumer

        return RedisQueueConsumer(self, q_name(queue_name), prefetch, timeout)

    def _marker_ttl_ms(self, actor_name: str, options: dict[str, Any]) -> int | None:
        try:
            limit = self._time_limit_of(options, self.get_actor(actor_name))
        except ActorNotFound:
            limit = None
        return int(limit + RUNNING_KEY_SLACK_MS) if limit is not None and limit != float("inf") else None

    def get_running(self, message_id: str) -> RunningMessage | None:
        """Where a message is running right now (host, pid, thread), or None.

        A message shows up once it has run for ``running_marker_delay_ms``.

        Raises:
            RuntimeError: When the broker was built with ``running_marker_delay_ms=None``.
        """
        if self.running_markers is None:
            raise RuntimeError("running markers are off: RedisBroker(running_marker_delay_ms=None)")
        return self.running_markers.get(message_id)

    def _dead_letter(self, message: MessageProxy) -> None:
        key = f"{self.namespace}:{xq_name(message.queue_name)}"
        with self.client.pipeline() as pipe:
            pipe.lpush(key, json.dumps(message.asdict()))
            pipe.ltrim(key, 0, DEAD_LETTER_LIMIT - 1)
            pipe.execute()

    def dead_letters(self, queue_name: str) -> list[Message[Any]]:
        """The dead-lettered messages of a queue, newest first."""
        raw: Any = self.client.lrange(f"{self.namespace}:{xq_name(queue_name)}", 0, -1)
        return [Message(**json.loads(item)) for item in raw]

    # -- housekeeping ------------------------------------------------------------------
    def _outstanding(self, queue_name: str) -> int:
        with self.client.pipeline() as pipe:
            for name in priority_queue_names(queue_name):
                pipe.llen(name)
            lengths: Any = pipe.execute()
        waiting = sum(int(length) for length in lengths)
        unacked = 0
        entries: Any = self.client.hvals("unacked")
        for raw in entries:
            try:
                routing_key = json.loads(raw)[2]
            except (ValueError, IndexError, TypeError):
                continue
            if routing_key == queue_name:
                unacked += 1
        return waiting + unacked

    def join(self, queue_name: str, *, interval: int = 100, timeout: int | None = None) -> None:
        """Wait until a queue has no waiting, delayed or running messages (for tests).

        Raises:
            QueueJoinTimeout: When ``timeout`` milliseconds pass first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout / 1000
        queue_name = q_name(queue_name)
        idle_checks = 0
        while idle_checks < 2:
            idle_checks = idle_checks + 1 if self._outstanding(queue_name) == 0 else 0
            if deadline is not None and time.monotonic() >= deadline:
                raise QueueJoinTimeout(queue_name)
            time.sleep(interval / 1000)

    def flush(self, queue_name: str) -> None:
        """Drop the waiting messages of a queue and its dead letters."""
        queue_name = q_name(queue_name)
        self.client.delete(*priority_queue_names(queue_name), f"{self.namespace}:{xq_name(queue_name)}")

    def flush_all(self) -> None:
        """Drop the waiting messages of every declared queue."""
        for queue_name in self.queues:
            self.flush(queue_name)

    def close(self) -> None:
        """Release Celery's and the shim's connections."""
        if self.running_markers is not None:
            self.running_markers.close()
        self.app.close()
        self.client.close()

    def worker_engine(self, worker: Worker) -> CeleryEngine:
        from .celery_worker import CeleryEngine

        return CeleryEngine(self, worker)


def _ack(message: MessageProxy) -> None:
    """Celery acknowledges (late) when the dispatcher task returns."""
