"""``api_tokens.last_used_at``, recorded off the request path.

A request only notes that its token was used (:meth:`LastUsedRecorder.touch`, no I/O);
a background task writes the notes in one short write transaction every
``flush_interval_s``. A token is noted at most once per :data:`~store.users.LAST_USED_RESOLUTION`
per process, and the update itself skips rows written less than that long ago, so
``last_used_at`` changes at most once a minute per token whatever the traffic.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from server.background import Background, every
from store.engine import Sessions
from store.types import utcnow
from store.users import LAST_USED_RESOLUTION, record_last_used

log = logging.getLogger(__name__)

DEFAULT_FLUSH_INTERVAL_S = 5.0


class LastUsedRecorder:
    """Collects token uses and writes them in batches.

    Args:
        sessions: The process's session factory.
        flush_interval_s: How often pending uses are written.
        clock: Monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        sessions: Sessions,
        *,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._interval = flush_interval_s
        self._clock = clock
        self._noted: dict[str, float] = {}
        self._pending: dict[str, dt.datetime] = {}
        self._task = Background("last-used-recorder", self._run)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def touch(self, token_sha256: str) -> None:
        """Note a use of the token (no I/O; at most once a minute per token reaches the database)."""
        now = self._clock()
        noted = self._noted.get(token_sha256)
        if noted is not None and now - noted < LAST_USED_RESOLUTION.total_seconds():
            return
        self._noted[token_sha256] = now
        self._pending[token_sha256] = utcnow()

    async def flush(self) -> int:
        """Write the pending uses now; returns how many rows changed. Failed writes are retried later."""
        self._forget_old()
        if not self._pending:
            return 0
        batch, self._pending = self._pending, {}
        try:
            async with self._sessions.begin() as session:
                return await record_last_used(session, batch)
        except BaseException:
            for digest, at in batch.items():  # keep them for the next flush, newest reading wins
                self._pending.setdefault(digest, at)
            raise

    def _forget_old(self) -> None:
        horizon = self._clock() - LAST_USED_RESOLUTION.total_seconds()
        for digest in [d for d, at in self._noted.items() if at <= horizon]:
            del self._noted[digest]

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        """Stop the task and write what is pending (best effort)."""
        await self._task.stop()
        try:
            await self.flush()
        except Exception as exc:
            log.warning("could not record the last use of %d tokens at shutdown: %s", len(self._pending), exc)

    async def _run(self) -> None:
        await every(self._interval, self.flush, self._failed)

    def _failed(self, exc: Exception) -> None:
        # A busy or absent database only delays the bookkeeping.
        log.warning("could not record the last use of %d tokens: %s", len(self._pending), exc)
