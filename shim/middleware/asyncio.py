"""AsyncIO: start one event-loop thread per worker process for ``async def`` actors."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..asyncio import EventLoopThread, get_event_loop_thread, set_event_loop_thread
from .middleware import Middleware

if TYPE_CHECKING:
    from ..broker import Broker
    from ..worker import Worker


class AsyncIO(Middleware):
    """Manage the event loop thread that async actors run on."""

    def __init__(self) -> None:
        self.logger = logging.getLogger(__name__)

    def before_worker_boot(self, broker: Broker, worker: Worker) -> None:
        if get_event_loop_thread() is not None:
            return
        thread = EventLoopThread(self.logger)
        thread.start(timeout=1.0)
        set_event_loop_thread(thread)

    def after_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        thread = get_event_loop_thread()
        if thread is not None:
            thread.stop()
        set_event_loop_thread(None)
