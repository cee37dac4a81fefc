"""The TimeLimit deadline bookkeeping (lock-free per message), without threads or a broker."""

from __future__ import annotations

import logging

from shim.middleware.time_limit import _DeadlineManager


def test_an_expired_deadline_fires_once_and_never_for_the_threads_next_message() -> None:
    manager = _DeadlineManager(1000, logging.getLogger(__name__))
    manager.add_timeout(1, 0)
    manager.add_timeout(2, 60_000)
    assert manager._expired() == [1]
    assert manager._still_running(1)
    assert manager._expired() == []
    manager.remove_timeout(1)
    manager.add_timeout(1, 60_000)
    assert not manager._still_running(1)
    assert manager._expired() == []


def test_a_finished_message_is_not_interrupted_even_if_its_deadline_was_seen_expired() -> None:
    manager = _DeadlineManager(1000, logging.getLogger(__name__))
    manager.add_timeout(1, 0)
    assert manager._expired() == [1]
    manager.remove_timeout(1)
    assert not manager._still_running(1)
