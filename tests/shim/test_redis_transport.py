"""The shim's kombu Redis transport: an ack that fails while Redis is down frees its slot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Queue

from server.redis_server import EmbeddedRedis
from shim.brokers.redis_transport import UNSETTLED_OPTION, QoS, UnsettledDeliveries


def test_unsettled_deliveries_are_taken_once_in_the_order_they_came() -> None:
    unsettled = UnsettledDeliveries()
    unsettled.add("a", requeue=False)
    unsettled.add("b", requeue=True)
    assert len(unsettled) == 2
    assert [(item.delivery_tag, item.requeue) for item in unsettled.take()] == [("a", False), ("b", True)]
    assert unsettled.take() == [] and len(unsettled) == 0


@pytest.fixture
def restartable_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(workdir=tmp_path / "redis", persist=True).start()
    try:
        yield server
    finally:
        server.stop()


def _received(connection: Connection, queue: Queue) -> Any:
    with connection.Producer() as producer:
        producer.publish({"n": 1}, routing_key=queue.name, declare=[queue])
    channel = connection.default_channel
    channel.basic_qos(prefetch_count=1)
    message = queue(channel).get(no_ack=False)
    assert message is not None
    return message


def test_an_ack_while_redis_is_down_frees_the_prefetch_slot_and_is_settled_once_redis_is_back(
    restartable_redis: EmbeddedRedis,
) -> None:
    unsettled = UnsettledDeliveries()
    connection = Connection(
        restartable_redis.url,
        transport="shim.brokers.redis_transport:Transport",
        transport_options={UNSETTLED_OPTION: unsettled},
    )
    try:
        queue = Queue("transport-test")
        message = _received(connection, queue)
        qos = connection.default_channel.qos
        assert isinstance(qos, QoS) and not qos.can_consume()
        client = connection.default_channel.client
        assert client.hlen("unacked") == 1

        restartable_redis.stop()
        message.ack()  # kombu's own QoS raises here and keeps the slot
        assert qos.can_consume(), "the slot is free although Redis could not be told"
        assert len(unsettled) == 1
        assert qos.settle_unsettled() == 1, "still down: kept for later"

        restartable_redis.start()
        assert qos.settle_unsettled() == 0
        assert client.hlen("unacked") == 0 and client.zcard("unacked_index") == 0
    finally:
        connection.release()
