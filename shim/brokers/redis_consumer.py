"""``RedisBroker.consume``: Dramatiq's consumer interface over the Celery messages of a queue.

For code that drives a queue by hand (``for message in broker.consume("q")``), as Dramatiq
allows. It pops the Celery messages the shim sent (named tasks and ``shim.dispatch``) from
the queue's priority lists, lowest list first, and yields them as message proxies. A popped
message lives in this consumer until it is acked (dropped), nacked (dead-lettered) or
requeued (pushed back, also on :meth:`close`): unlike a Celery worker's late acks, a process
killed while holding one loses it. Workers do not use this; they run Celery's consumer.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..broker import Consumer, MessageProxy
from ..common import current_millis
from ..message import Message
from .celery_app import DISPATCH_TASK_NAME, ENVELOPE_HEADER, priority_queue_names

if TYPE_CHECKING:
    from .redis import RedisBroker


def decode_celery_message(raw: bytes) -> Message[Any]:
    """The shim message inside one Celery message of a shim queue.

    Raises:
        ValueError: When the message is no Celery message of this shim.
    """
    envelope = json.loads(raw)
    headers = envelope["headers"]
    body = envelope["body"]
    if envelope.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    args, kwargs, _embed = json.loads(body)
    if headers["task"] == DISPATCH_TASK_NAME:
        return Message(**args[0])
    routing_key = envelope.get("properties", {}).get("delivery_info", {}).get("routing_key", "default")
    queue_name, options, timestamp, _not_before = headers.get(ENVELOPE_HEADER) or (
        routing_key, {}, current_millis(), None,
    )
    return Message(
        queue_name=queue_name, actor_name=headers["task"], args=tuple(args), kwargs=kwargs, options=options,
        message_id=headers["id"], message_timestamp=timestamp,
    )


class RedisQueueConsumer(Consumer):
    """Yields a queue's messages (None when idle for ``timeout`` ms); ``prefetch`` unsettled at most."""

    def __init__(self, broker: RedisBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        self.broker = broker
        self.queue_name = queue_name
        self.prefetch = prefetch
        self.timeout = timeout
        self.lists = priority_queue_names(queue_name)
        self.held: dict[str, tuple[str, bytes]] = {}

    def __next__(self) -> MessageProxy | None:
        if len(self.held) >= self.prefetch:
            time.sleep(self.timeout / 1000)
            return None
        popped: Any = self.broker.client.brpop(self.lists, timeout=max(self.timeout / 1000, 0.001))
        if popped is None:
            return None
        source, raw = popped
        message = decode_celery_message(raw)
        self.held[message.message_id] = (source.decode() if isinstance(source, bytes) else str(source), raw)
        return MessageProxy(message)

    def ack(self, message: MessageProxy) -> None:
        self.held.pop(message.message_id, None)

    def nack(self, message: MessageProxy) -> None:
        self.held.pop(message.message_id, None)
        self.broker._dead_letter(message)

    def requeue(self, messages: Iterable[MessageProxy]) -> None:
        for message in messages:
            entry = self.held.pop(message.message_id, None)
            if entry is not None:
                # RPUSH: back at the consuming end, so it is the next one taken.
                self.broker.client.rpush(*entry)

    def close(self) -> None:
        for source, raw in self.held.values():
            self.broker.client.rpush(source, raw)
        self.held.clear()
