"""Fair share of workers, as pure policy: whose waiting job goes next, and whether a job may start.

``jobs.max_running_per_user`` (the cap; 0 = no limit) bounds the jobs of one user that hold
a running slot: running, cancelling, or admitted (queued with their message sent). Waiting
jobs (queued, not admitted) are admitted in turns: round robin over users, the user served
least recently first, first in first out within a user. Nothing here touches a database:
``store.admission`` reads the rows, asks these functions, and writes the answer.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Waiting:
    """A queued job waiting for its turn."""

    job_id: str
    user_id: str


def has_room(holding: int, cap: int) -> bool:
    """Whether a user holding ``holding`` slots may take one more under ``cap`` (0 = no limit)."""
    return cap == 0 or holding < cap


def user_order(waiting: Sequence[Waiting], last_served: Mapping[str, dt.datetime | None]) -> list[str]:
    """The users with waiting jobs, in the order they take turns.

    A user never served comes first; then the one whose last admission is the oldest. Ties
    (e.g. never served) go to the user whose oldest waiting job came first.
    """
    first_seen: dict[str, int] = {}
    for index, job in enumerate(waiting):
        first_seen.setdefault(job.user_id, index)

    def key(user: str) -> tuple[int, dt.datetime, int]:
        served = last_served.get(user)
        if served is None:
            return (0, dt.datetime.min.replace(tzinfo=dt.UTC), first_seen[user])
        return (1, served, first_seen[user])

    return sorted(first_seen, key=key)


def next_turns(
    waiting: Sequence[Waiting],
    holding: Mapping[str, int],
    last_served: Mapping[str, dt.datetime | None],
    cap: int,
    limit: int | None = None,
) -> list[str]:
    """The waiting jobs to admit now, in the order they take their turns.

    Args:
        waiting: Queued, not admitted jobs, oldest first (FIFO within a user follows from it).
        holding: Slots each user holds now (running, cancelling and admitted jobs).
        last_served: When each user last had a job admitted (None: never).
        cap: ``jobs.max_running_per_user``; 0 admits every waiting job (still in turns).
        limit: At most this many jobs (None: as many as the cap allows).

    Returns:
        Job ids: one per user per round, users in :func:`user_order`, skipping a user at
        the cap, until no user may take another or ``limit`` is reached.
    """
    if cap < 0:
        raise ValueError("cap must be 0 (no limit) or greater")
    queues: dict[str, deque[str]] = {}
    for job in waiting:
        queues.setdefault(job.user_id, deque()).append(job.job_id)
    held = {user: holding.get(user, 0) for user in queues}
    order = user_order(waiting, last_served)
    chosen: list[str] = []
    while limit is None or len(chosen) < limit:
        moved = False
        for user in order:
            if limit is not None and len(chosen) >= limit:
                break
            queue = queues[user]
            if queue and has_room(held[user], cap):
                chosen.append(queue.popleft())
                held[user] += 1
                moved = True
        if not moved:
            break
    return chosen
