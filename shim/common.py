"""Pure policy shared by brokers and middleware: backoff, queue names, clocks."""

from __future__ import annotations

import time
from random import uniform


def compute_backoff(
    attempts: int, *, factor: int = 5, jitter: bool = True, max_backoff: int = 2000, max_exponent: int = 32
) -> tuple[int, int]:
    """Compute Dramatiq's exponential backoff for a number of previous attempts.

    Args:
        attempts: How many attempts there have been so far.
        factor: Milliseconds multiplied by ``2 ** attempts``; also the minimum backoff.
        jitter: Stretch the backoff by a random factor in [1, 2).
        max_backoff: The ceiling in milliseconds (jittered down to 50-100 % of it).
        max_exponent: The largest exponent used.

    Returns:
        The new number of attempts and the backoff in milliseconds.
    """
    backoff = factor * (2 ** min(attempts, max_exponent))
    if jitter:
        backoff = int(backoff * uniform(1, 2))
        if backoff > max_backoff:
            backoff = int(max_backoff * uniform(0.5, 1))
    else:
        backoff = min(backoff, max_backoff)
    return attempts + 1, backoff


def current_millis() -> int:
    """The current UNIX time in milliseconds."""
    return int(time.time() * 1000)


def q_name(queue_name: str) -> str:
    """The canonical queue name of a (possibly delay or dead-letter) queue name."""
    if queue_name.endswith((".DQ", ".XQ")):
        return queue_name[:-3]
    return queue_name


def dq_name(queue_name: str) -> str:
    """The delay queue name of a queue."""
    if queue_name.endswith(".DQ"):
        return queue_name
    return q_name(queue_name) + ".DQ"


def xq_name(queue_name: str) -> str:
    """The dead-letter queue name of a queue."""
    if queue_name.endswith(".XQ"):
        return queue_name
    return q_name(queue_name) + ".XQ"
