"""The in-memory StubBroker for tests, and its thread-based worker engine."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import defaultdict
from queue import Empty, PriorityQueue, Queue
from typing import TYPE_CHECKING, Any

from ..broker import Broker, Consumer, MessageProxy
from ..common import current_millis, dq_name, q_name
from ..errors import QueueJoinTimeout, QueueNotFound
from ..message import Message
from ..processing import handle_received

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ..middleware.middleware import Middleware
    from ..worker import Worker


class StubBroker(Broker):
    """A broker whose queues live in memory, for unit tests.

    Args:
        middleware: See :class:`shim.broker.Broker`.
        fail_fast_default: The default of ``join``'s ``fail_fast``.
    """

    def __init__(self, middleware: list[Middleware] | None = None, *, fail_fast_default: bool = True) -> None:
        self.dead_letters_by_queue: defaultdict[str, list[MessageProxy]] = defaultdict(list)
        self.fail_fast_default = fail_fast_default
        self._engines: list[_StubEngine] = []
        super().__init__(middleware)
        self.queues: dict[str, Queue[bytes]] = {}

    @property
    def dead_letters(self) -> list[MessageProxy]:
        """The dead-lettered messages of every queue."""
        return [message for messages in self.dead_letters_by_queue.values() for message in messages]

    def declare_queue(self, queue_name: str) -> None:
        """Declare a queue (and its delay queue); idempotent."""
        if queue_name in self.queues:
            return
        self.emit_before("declare_queue", queue_name)
        self.queues[queue_name] = Queue()
        self.emit_after("declare_queue", queue_name)
        delayed = dq_name(queue_name)
        self.queues[delayed] = Queue()
        self.delay_queues.add(delayed)
        self.emit_after("declare_delay_queue", delayed)
        for engine in self._engines:
            engine.add_queue(queue_name)

    def get_declared_queues(self) -> set[str]:
        return {name for name in self.queues if name not in self.delay_queues}

    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        """Enqueue a message; a delayed one goes to the delay queue with an ``eta`` option.

        Raises:
            QueueNotFound: If the message's queue was never declared.
        """
        queue_name = message.queue_name
        if delay is not None:
            queue_name = dq_name(queue_name)
            message = message.copy(queue_name=queue_name, options={"eta": current_millis() + delay})
        if queue_name not in self.queues:
            raise QueueNotFound(queue_name)
        self.emit_before("enqueue", message, delay)
        self.queues[queue_name].put(message.encode())
        self.emit_after("enqueue", message, delay)
        return message

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 100) -> Consumer:
        """A consumer of one queue, as Dramatiq's stub broker gives.

        Raises:
            QueueNotFound: If the queue was never declared.
        """
        try:
            queue = self.queues[queue_name]
        except KeyError:
            raise QueueNotFound(queue_name) from None
        return _StubConsumer(queue, self.dead_letters_by_queue[queue_name], prefetch, timeout)

    def flush(self, queue_name: str) -> None:
        """Drop every message from a queue."""
        queue = self.queues[queue_name]
        while True:
            try:
                queue.get_nowait()
            except Empty:
                return
            queue.task_done()

    def flush_all(self) -> None:
        """Drop every message from every queue and clear the dead letters."""
        for name in list(self.queues):
            self.flush(name)
        for letters in self.dead_letters_by_queue.values():
            letters.clear()

    def join(self, queue_name: str, *, timeout: int | None = None, fail_fast: bool | None = None) -> None:
        """Wait until every message of a queue (and its delay queue) has been processed.

        Args:
            queue_name: The queue.
            timeout: The maximum wait in milliseconds.
            fail_fast: Re-raise the exception of a dead-lettered message of this queue.

        Raises:
            QueueJoinTimeout: When the timeout elapses.
            QueueNotFound: If the queue was never declared.
        """
        try:
            queues = [self.queues[queue_name], self.queues[dq_name(queue_name)]]
        except KeyError:
            raise QueueNotFound(queue_name) from None
        deadline = None if timeout is None else time.monotonic() + timeout / 1000
        should_fail_fast = self.fail_fast_default if fail_fast is None else fail_fast
        while any(queue.unfinished_tasks for queue in queues):
            if deadline is not None and time.monotonic() >= deadline:
                raise QueueJoinTimeout(f"timed out after {timeout / 1000:.02f} seconds")  # type: ignore[operator]
            time.sleep(0.005)
        if should_fail_fast:
            for message in self.dead_letters_by_queue[queue_name]:
                raise (message._exception or Exception("Message failed with unknown error")) from None

    def worker_engine(self, worker: Worker) -> _StubEngine:
        return _StubEngine(self, worker)


def _eta_millis(message: Message[Any]) -> int:
    """A message's ``eta`` option; a missing or non-numeric one (warned about, as Dramatiq does) is now."""
    eta = message.options.get("eta")
    if isinstance(eta, bool) or not isinstance(eta, int | float):
        if eta is not None:
            logger.warning(
                "Invalid eta value for message %r: %r. Setting eta to current_millis().", message.message_id, eta
            )
        return current_millis()
    return int(eta)


class _StubConsumer(Consumer):
    """Yields a queue's messages (None when idle); ``prefetch`` unsettled at most."""

    def __init__(self, queue: Queue[bytes], dead_letters: list[MessageProxy], prefetch: int, timeout: int) -> None:
        self.queue = queue
        self.dead_letters = dead_letters
        self.prefetch = prefetch
        self.timeout = timeout
        self.slots = threading.Semaphore(prefetch)

    def __next__(self) -> MessageProxy | None:
        if not self.slots.acquire(timeout=self.timeout / 1000):
            return None
        try:
            data = self.queue.get(timeout=self.timeout / 1000)
        except Empty:
            self.slots.release()
            return None
        return MessageProxy(Message.decode(data))

    def ack(self, message: MessageProxy) -> None:
        self.queue.task_done()
        self.slots.release()

    def nack(self, message: MessageProxy) -> None:
        self.queue.task_done()
        self.dead_letters.append(message)
        self.slots.release()


class _StubEngine:
    """Consumer threads move messages into a priority work queue served by worker threads."""

    def __init__(self, broker: StubBroker, worker: Worker) -> None:
        self.broker = broker
        self.worker = worker
        self.timeout = worker.worker_timeout / 1000
        self.work_queue: PriorityQueue[tuple[int, int, MessageProxy, str]] = PriorityQueue()
        self.counter = itertools.count()
        self.running = False
        self.threads: list[threading.Thread] = []
        self.consumers: set[str] = set()
        self.held: dict[str, list[tuple[int, int, bytes]]] = {}
        self.prefetch = threading.Semaphore(worker.queue_prefetch)
        self.lock = threading.Lock()
        self.paused = False
        self.busy = 0

    def start(self) -> None:
        self.running = True
        self.broker._engines.append(self)
        for queue_name in self.broker.get_declared_queues():
            self.add_queue(queue_name)
        for _ in range(self.worker.worker_threads):
            self._spawn(self._work)

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def add_queue(self, queue_name: str) -> None:
        whitelist = self.worker.consumer_whitelist
        with self.lock:
            if not self.running or queue_name in self.consumers or (whitelist and queue_name not in whitelist):
                return
            self.consumers.add(queue_name)
        self._spawn(self._consume, queue_name)
        self._spawn(self._consume_delayed, dq_name(queue_name))

    def _consume(self, queue_name: str) -> None:
        queue = self.broker.queues[queue_name]
        while self.running:
            if self.paused:
                time.sleep(self.timeout)
                continue
            if not self.prefetch.acquire(timeout=self.timeout):
                continue
            try:
                data = queue.get(timeout=self.timeout)
            except Empty:
                self.prefetch.release()
                continue
            proxy = MessageProxy(Message.decode(data))
            if "eta" in proxy.options and self._held_back(proxy, queue):
                continue
            actor = self.broker.actors.get(proxy.actor_name)
            self.work_queue.put((actor.priority if actor else 0, next(self.counter), proxy, queue_name))

    def _held_back(self, proxy: MessageProxy, queue: Queue[bytes]) -> bool:
        """Dramatiq's consumer: a message carrying an ``eta`` waits for it (a bad one is now)."""
        if proxy.options["eta"] is None:
            del proxy.options["eta"]
            return False
        proxy.options["eta"] = _eta_millis(proxy.message)
        delayed = dq_name(proxy.queue_name)
        self.broker.emit_before("delay_message", proxy)
        self.broker.queues[delayed].put(proxy.message.copy(queue_name=delayed).encode())
        queue.task_done()
        self.prefetch.release()
        return True

    def _consume_delayed(self, queue_name: str) -> None:
        queue = self.broker.queues[queue_name]
        held = self.held.setdefault(queue_name, [])
        while self.running:
            wait = self.timeout
            if held:
                wait = max(0.0, min(wait, (held[0][0] - current_millis()) / 1000))
            try:
                data = queue.get(timeout=wait) if wait > 0 else queue.get_nowait()
                message = Message.decode(data)
                self.broker.emit_before("delay_message", MessageProxy(message))
                heapq.heappush(held, (_eta_millis(message), next(self.counter), data))
            except Empty:
                pass
            while held and held[0][0] <= current_millis():
                _, _, data = heapq.heappop(held)
                message = Message.decode(data)
                ready = message.copy(queue_name=q_name(message.queue_name))
                del ready.options["eta"]
                self.broker.enqueue(ready)
                queue.task_done()

    def _work(self) -> None:
        while self.running:
            if self.paused:
                time.sleep(self.timeout)
                continue
            with self.lock:
                self.busy += 1
            try:
                _, _, proxy, queue_name = self.work_queue.get(timeout=self.timeout)
            except Empty:
                continue
            else:
                try:
                    handle_received(self.broker, proxy, self._ack_for(queue_name), self._nack_for(queue_name))
                finally:
                    self.prefetch.release()
                    self.work_queue.task_done()
            finally:
                with self.lock:
                    self.busy -= 1

    def pause(self) -> None:
        self.paused = True
        while self.busy:
            time.sleep(0.005)

    def resume(self) -> None:
        self.paused = False

    def _ack_for(self, queue_name: str) -> Any:
        def ack(message: MessageProxy) -> None:
            self.broker.queues[queue_name].task_done()

        return ack

    def _nack_for(self, queue_name: str) -> Any:
        def nack(message: MessageProxy) -> None:
            self.broker.dead_letters_by_queue[queue_name].append(message)
            self.broker.queues[queue_name].task_done()

        return nack

    def stop(self, timeout: int) -> None:
        self.running = False
        deadline = time.monotonic() + timeout / 1000
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self in self.broker._engines:
            self.broker._engines.remove(self)
        # Messages fetched but never processed go back to their queues.
        while True:
            try:
                _, _, proxy, queue_name = self.work_queue.get_nowait()
            except Empty:
                break
            queue = self.broker.queues[queue_name]
            queue.put(proxy.message.encode())
            queue.task_done()
        for queue_name, held in self.held.items():
            queue = self.broker.queues[queue_name]
            for _, _, data in held:
                queue.put(data)
                queue.task_done()
            held.clear()

    def join(self) -> None:
        while True:
            self.work_queue.join()
            if not self.work_queue.unfinished_tasks and not any(self.held.values()):
                pending = [self.broker.queues[name].unfinished_tasks for name in self.consumers]
                if not any(pending):
                    return
            time.sleep(0.005)
