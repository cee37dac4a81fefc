"""Pure policy: backoff, retry decisions, Celery limits and broker configuration checks."""

from __future__ import annotations

import pytest

import shim
from shim.brokers.celery_app import (
    celery_config,
    celery_limits,
    celery_priority,
    max_countdown_s,
    priority_queue_names,
)
from shim.brokers.redis import RedisBroker
from shim.brokers.stub import StubBroker
from shim.common import compute_backoff, dq_name, q_name, xq_name
from shim.middleware.retries import retries_exhausted


def test_backoff_doubles_per_attempt_within_jitter_and_respects_the_ceiling() -> None:
    for attempts in range(6):
        new_attempts, delay = compute_backoff(attempts, factor=100, max_backoff=10**9)
        assert new_attempts == attempts + 1
        assert 100 * 2**attempts <= delay < 2 * 100 * 2**attempts
    assert compute_backoff(30, factor=100, jitter=False, max_backoff=5000) == (31, 5000)
    assert 2500 <= compute_backoff(30, factor=100, max_backoff=5000)[1] <= 5000


def test_retry_when_overrides_max_retries() -> None:
    error = ValueError("x")
    assert retries_exhausted(2, error, 2, None)
    assert not retries_exhausted(1, error, 2, None)
    assert not retries_exhausted(99, error, None, None)
    assert not retries_exhausted(5, error, 2, lambda retries, exc: True)
    assert retries_exhausted(0, error, 20, lambda retries, exc: False)


def test_queue_names_map_between_canonical_delay_and_dead_letter_forms() -> None:
    assert (dq_name("q"), dq_name("q.XQ"), xq_name("q.DQ"), q_name("q.DQ"), q_name("q")) == (
        "q.DQ", "q.DQ", "q.XQ", "q", "q",
    )


def test_celery_limits_back_up_the_shim_time_limit_with_grace() -> None:
    limits = celery_limits(10_000)
    assert limits.soft_time_limit is not None and limits.time_limit is not None
    assert 10 < limits.soft_time_limit < limits.time_limit
    assert celery_limits(float("inf")).time_limit is None
    assert max_countdown_s(3600) == 1800
    config = celery_config("redis://x/0", 7200)
    assert config["broker_transport_options"] == {"visibility_timeout": 7200, "priority_steps": list(range(10))}
    assert config["accept_content"] == ["json"] and config["task_acks_late"] and config["task_reject_on_worker_lost"]
    assert config["worker_enable_remote_control"] and not config["worker_send_task_events"]
    assert celery_config("redis://x/0", 7200, events=True, remote_control=False)["worker_send_task_events"]


def test_actor_priorities_map_onto_redis_priority_lists_lower_first() -> None:
    priorities = [-5, 0, 1, 3, 4, 15, 16, 100, 1000, 10**9]
    mapped = [celery_priority(p) for p in priorities]
    assert mapped == sorted(mapped) and mapped[0] == 0 and mapped[1] == 0 and mapped[-1] == 9
    assert celery_priority(0) < celery_priority(10) < celery_priority(100)
    assert priority_queue_names("q")[:2] == ["q", "q\x06\x161"] and len(priority_queue_names("q")) == 10


def test_a_time_limit_not_below_the_visibility_timeout_is_refused_naming_both() -> None:
    broker = RedisBroker(url="redis://127.0.0.1:1/0", visibility_timeout_s=10)

    def job() -> None:
        return None

    with pytest.raises(ValueError, match=r"time_limit of actor 'job'.*visibility_timeout_s"):
        shim.actor(job, broker=broker, time_limit=10_000)
    shim.actor(job, broker=broker, time_limit=9_000)
    with pytest.raises(ValueError, match="visibility_timeout_s"):
        RedisBroker(visibility_timeout_s=0)


def test_creating_the_default_broker_connects_to_nothing() -> None:
    broker = RedisBroker(url="redis://127.0.0.1:1/0")
    assert broker.url == "redis://127.0.0.1:1/0"
    broker.close()


def test_the_worker_refuses_a_non_positive_thread_count() -> None:
    with pytest.raises(ValueError, match="worker_threads"):
        shim.Worker(StubBroker(), worker_threads=0)
