"""kombu's Redis transport, made to survive a failed acknowledgement.

kombu 5.7's ``QoS.ack`` removes the delivery from Redis's ``unacked`` index *before* it
frees the delivery's prefetch slot, so when Redis is away at that moment the slot stays
taken for good: with ``worker_prefetch_multiplier=1`` the worker never consumes again. The
:class:`QoS` here always frees the slot, and remembers the Redis side of the settlement
(remove, or put back on its queue) in :class:`UnsettledDeliveries`, retried once Redis
answers again. The record lives in the connection's transport options, so a consumer that
reconnects (a new channel, a new QoS) still finishes what the old one could not.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, NamedTuple

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

logger = logging.getLogger(__name__)
UNSETTLED_OPTION = "shim_unsettled_deliveries"


class Unsettled(NamedTuple):
    """A delivery whose slot is free but whose Redis bookkeeping is still to do."""

    delivery_tag: str
    requeue: bool


class UnsettledDeliveries:
    """Deliveries acknowledged (or rejected) while Redis was away; thread-safe, no I/O."""

    def __init__(self) -> None:
        self._items: dict[str, Unsettled] = {}
        self._lock = threading.Lock()

    def add(self, delivery_tag: str, *, requeue: bool) -> None:
        """Remember a delivery to settle in Redis later."""
        with self._lock:
            self._items[delivery_tag] = Unsettled(delivery_tag, requeue)

    def __json__(self) -> dict[str, int]:
        # Celery's ``inspect stats``/``conf`` replies carry the transport options as JSON.
        with self._lock:
            return {"unsettled": len(self._items)}

    def take(self) -> list[Unsettled]:
        """Remove and return every remembered delivery, oldest first."""
        with self._lock:
            items, self._items = list(self._items.values()), {}
        return items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class QoS(kombu_redis.QoS):
    """Redis ack emulation whose prefetch slot is freed even when Redis cannot be reached."""

    def _unsettled(self) -> UnsettledDeliveries:
        options: dict[str, Any] = self.channel.connection.client.transport_options
        found = options.get(UNSETTLED_OPTION)
        if not isinstance(found, UnsettledDeliveries):
            # Only reached without the shim's configuration: keep the record on this channel.
            found = options[UNSETTLED_OPTION] = UnsettledDeliveries()
        return found

    def ack(self, delivery_tag: str) -> None:
        self._settle(delivery_tag, requeue=False)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        self._settle(delivery_tag, requeue=requeue)

    def append(self, message: Any, delivery_tag: str) -> None:
        super().append(message, delivery_tag)  # type: ignore[no-untyped-call]
        # A delivery just came through, so Redis answers: finish what an outage left over.
        self.settle_unsettled()

    def restore_visible(self, start: int = 0, num: int = 10, interval: int = 10) -> None:
        # Called every few seconds by the consumer loop: the retry point of unsettled deliveries.
        self.settle_unsettled()
        super().restore_visible(start, num, interval)  # type: ignore[no-untyped-call]

    def settle_unsettled(self) -> int:
        """Settle remembered deliveries in Redis; returns how many remain (Redis away again)."""
        unsettled = self._unsettled()
        pending = unsettled.take()
        for index, item in enumerate(pending):
            try:
                self._settle_in_redis(item.delivery_tag, item.requeue)
            except self.channel.connection_errors:
                for rest in pending[index:]:
                    unsettled.add(rest.delivery_tag, requeue=rest.requeue)
                break
        return len(unsettled)

    def _settle(self, delivery_tag: str, *, requeue: bool) -> None:
        try:
            self._settle_in_redis(delivery_tag, requeue)
        except self.channel.connection_errors as exc:
            self._unsettled().add(delivery_tag, requeue=requeue)
            logger.warning(
                "Could not settle delivery %s in Redis (%s); its slot is freed and Redis will be updated once it "
                "is back.", delivery_tag, exc,
            )
        finally:
            # Free the prefetch slot whatever happened to Redis (the step kombu skips on an error).
            virtual.QoS.ack(self, delivery_tag)  # type: ignore[no-untyped-call]

    def _settle_in_redis(self, delivery_tag: str, requeue: bool) -> None:
        if requeue:
            self.restore_by_tag(delivery_tag, leftmost=True)  # type: ignore[no-untyped-call]
        else:
            self._remove_from_indices(delivery_tag).execute()  # type: ignore[no-untyped-call]


class Channel(kombu_redis.Channel):
    """kombu's Redis channel with the forgiving :class:`QoS`."""

    QoS = QoS


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with the forgiving :class:`Channel` (``broker_transport``)."""

    Channel = Channel


def consumer_is_consuming(consumer: Any) -> bool:
    """Whether a Celery consumer (the ``worker_ready`` sender) is running on a live connection.

    False while it reconnects after losing Redis, or when its prefetch window is held by
    deliveries nobody processes any more (each would need an ack that never comes).
    """
    from celery import bootsteps
    from celery.worker import state

    blueprint = getattr(consumer, "blueprint", None)
    connection = getattr(consumer, "connection", None)
    if blueprint is None or blueprint.state != bootsteps.RUN or connection is None or not connection.connected:
        return False
    task_consumer = getattr(consumer, "task_consumer", None)
    qos = getattr(getattr(task_consumer, "channel", None), "qos", None)
    if qos is None:
        return True
    held = len(qos._delivered) - len(qos._dirty)
    return held <= len(state.reserved_requests)
