"""The Celery side of the RedisBroker: app configuration, the named actor tasks, the dispatcher."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from celery import Celery

from .redis_transport import UNSETTLED_OPTION, UnsettledDeliveries

if TYPE_CHECKING:
    from .redis import RedisBroker

DISPATCH_TASK_NAME = "shim.dispatch"
ENVELOPE_HEADER = "shim"
"""The Celery message header of a named task carrying the rest of the Dramatiq message."""
PRIORITY_STEPS = list(range(10))
PRIORITY_SEP = "\x06\x16"
"""Celery/kombu Redis priority lists: 0 is consumed first, as Dramatiq's lower priority runs first."""
TRANSPORT = "shim.brokers.redis_transport:Transport"
# Celery's own limits only back up the shim's TimeLimit (prefork pool): they fire later.
SOFT_LIMIT_GRACE_S = 5.0
HARD_LIMIT_GRACE_S = 15.0


@dataclass(frozen=True)
class CeleryLimits:
    """Celery soft/hard time limits (seconds) derived from an actor's time limit."""

    soft_time_limit: float | None
    time_limit: float | None


def celery_limits(time_limit_ms: float | None) -> CeleryLimits:
    """The Celery backstop limits for a shim time limit in milliseconds (None/inf: no limit)."""
    if time_limit_ms is None or math.isinf(time_limit_ms):
        return CeleryLimits(None, None)
    seconds = time_limit_ms / 1000
    return CeleryLimits(seconds + SOFT_LIMIT_GRACE_S, seconds + HARD_LIMIT_GRACE_S)


def max_countdown_s(visibility_timeout_s: int) -> float:
    """The longest countdown one Celery message may carry before Redis would redeliver it."""
    return max(1.0, visibility_timeout_s / 2)


def celery_priority(priority: int) -> int:
    """The Celery (Redis) priority 0-9 of a Dramatiq actor priority: monotonic, lower first.

    Dramatiq priorities are any integers (0 by default, often 10, 100, ...); Redis has ten lists
    per queue, list 0 (the plain queue name) consumed first. 0 and below share list 0; larger
    priorities take a list per power of four, so two priorities a factor of four apart stay ordered.
    """
    if priority <= 0:
        return 0
    return min(PRIORITY_STEPS[-1], 1 + (priority.bit_length() - 1) // 2)


def priority_queue_names(queue_name: str) -> list[str]:
    """The Redis lists of a queue, one per priority (kombu's naming)."""
    return [queue_name] + [f"{queue_name}{PRIORITY_SEP}{step}" for step in PRIORITY_STEPS[1:]]


def celery_config(
    url: str, visibility_timeout_s: int, *, events: bool = False, remote_control: bool = True
) -> dict[str, Any]:
    """The Celery settings the shim relies on (JSON only, late acks, visibility timeout).

    Args:
        url: The Redis URL.
        visibility_timeout_s: Redis visibility timeout.
        events: Workers send task and heartbeat events (Flower, ``celery events``).
        remote_control: Workers answer ``celery inspect``/``control`` (and Flower).
    """
    config: dict[str, Any] = {
        "broker_url": url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "visibility_timeout": visibility_timeout_s,
            "priority_steps": PRIORITY_STEPS,
        },
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_backend": None,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_default_queue": "default",
        "task_create_missing_queues": True,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_enable_remote_control": remote_control,
        "worker_send_task_events": events,
        "task_send_sent_event": False,
        "enable_utc": True,
    }
    if urlparse(url).scheme == "redis":
        # kombu's Redis transport, except that an ack failing while Redis is away frees its prefetch slot
        # (other schemes, rediss:// with its TLS handling, keep kombu's own).
        config["broker_transport"] = TRANSPORT
    return config


def build_app(broker: RedisBroker, main: str) -> Celery:
    """A Celery app on the broker's Redis with the dispatcher task registered."""
    app = Celery(main, set_as_current=False)
    config = celery_config(
        broker.url, broker.visibility_timeout_s, events=broker.events, remote_control=broker.remote_control
    )
    app.conf.update(config)
    # One record per app, shared by every connection (and reconnection) of its consumer.
    app.conf.broker_transport_options[UNSETTLED_OPTION] = UnsettledDeliveries()

    @app.task(name=DISPATCH_TASK_NAME, shared=False, acks_late=True, reject_on_worker_lost=True, ignore_result=True)  # type: ignore[untyped-decorator]
    def dispatch(data: dict[str, Any], not_before: int | None = None) -> None:
        broker.dispatch(data, not_before)

    return app


def register_actor_task(app: Celery, broker: RedisBroker, actor_name: str) -> None:
    """Register a Celery task named after an actor, taking the actor's own arguments.

    The rest of the message (queue, options, timestamp, a hop's ``not_before``) travels in the
    ``shim`` header, so Celery's tools show the actor's name and arguments as they are.
    """

    def run(task: Any, *args: Any, **kwargs: Any) -> None:
        broker.run_named(actor_name, task.request.id, args, kwargs, getattr(task.request, ENVELOPE_HEADER, None))

    app.task(name=actor_name, shared=False, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)(
        run
    )
