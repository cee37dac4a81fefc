"""Processing one received message with Dramatiq's hook semantics (shared by all brokers)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from .errors import ActorNotFound, RateLimitExceeded, Retry, SkipMessage

if TYPE_CHECKING:
    from .broker import Broker, MessageProxy

logger = logging.getLogger(__name__)


def process_message(broker: Broker, message: MessageProxy) -> None:
    """Run a message's actor between the process-message hooks.

    A SkipMessage from ``before_process_message`` emits ``after_skip_message`` instead of
    ``after_process_message``; any exception from the actor is stuffed into the message and
    passed to ``after_process_message`` (where Retries, Callbacks and Results act on it).
    """
    actor = None
    try:
        broker.emit_before("process_message", message)
        result = None
        if not message.failed:
            actor = broker.get_actor(message.actor_name)
            result = actor(*message.args, **message.kwargs)
            if result is not None and message.options.get("pipe_target") is None and not _has_results(broker):
                logger.warning(
                    "Actor '%s' returned a value that is not None, and you haven't added the Results middleware "
                    "to the broker, so the value has been discarded. Consider adding the Results middleware to "
                    "your broker or piping the result into another actor.", actor.actor_name,
                )
        broker.emit_after("process_message", message, result=result)
    except SkipMessage as exc:
        if message.failed:
            message.stuff_exception(exc)
        logger.warning("Message %s was skipped.", message)
        broker.emit_after("skip_message", message)
    except BaseException as exc:
        message.stuff_exception(exc)
        throws = message.options.get("throws") or (actor.options.get("throws") if actor else None)
        if isinstance(exc, RateLimitExceeded):
            logger.debug("Rate limit exceeded in message %s: %s.", message, exc)
        elif throws and isinstance(exc, throws):
            logger.info("Failed to process message %s with expected exception %s.", message, type(exc).__name__)
        elif not isinstance(exc, Retry):
            logger.error("Failed to process message %s with unhandled exception.", message, exc_info=True)
        broker.emit_after("process_message", message, exception=exc)


def _has_results(broker: Broker) -> bool:
    from .results.middleware import Results

    return any(type(item) is Results for item in broker.middleware)


def settle_message(
    broker: Broker, message: MessageProxy, ack: Callable[[MessageProxy], None], nack: Callable[[MessageProxy], None]
) -> None:
    """Acknowledge a processed message, or reject it when it failed, between the hooks."""
    if message.failed:
        broker.emit_before("nack", message)
        nack(message)
        broker.emit_after("nack", message)
    else:
        broker.emit_before("ack", message)
        ack(message)
        broker.emit_after("ack", message)


def handle_received(
    broker: Broker, message: MessageProxy, ack: Callable[[MessageProxy], None], nack: Callable[[MessageProxy], None]
) -> None:
    """Process and settle a message; a message for an unknown actor is rejected unprocessed."""
    try:
        broker.get_actor(message.actor_name)
    except ActorNotFound as exc:
        logger.error("Received message for undefined actor %r. Moving it to the DLQ.", message.actor_name)
        message.stuff_exception(exc)
        message.fail()
    else:
        process_message(broker, message)
    settle_message(broker, message, ack, nack)
