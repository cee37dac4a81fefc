"""``python -m shim``: run a Celery worker for the actors declared in some modules."""

from __future__ import annotations

import argparse
import importlib
import os
import socket
import sys
from typing import Any

from .asyncio import set_event_loop_thread
from .broker import get_broker
from .worker import Worker

READY_LINE = "shim worker ready"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shim", description="Run a Celery worker for shim actors.")
    parser.add_argument("modules", nargs="+", metavar="MODULE", help="modules declaring the actors")
    parser.add_argument("--queues", "-Q", nargs="+", default=None, help="queues to consume (default: all declared)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--processes", "-p", type=int, default=None, help="worker processes (prefork pool)")
    size.add_argument("--concurrency", "-c", type=int, default=None, help="pool size (processes or threads)")
    parser.add_argument("--pool", choices=("prefork", "threads", "solo"), default="prefork")
    parser.add_argument("--loglevel", "-l", default="info", help="log level (debug, info, warning, error)")
    parser.add_argument("--hostname", "-n", default=None, help="Celery node name")
    parser.add_argument(
        "--task-events", "-E", action="store_true",
        help="send Celery task and heartbeat events (Flower, celery events) even if the broker was built without",
    )
    return parser


def _connect_lifecycle(broker: Any, pool: str) -> None:
    """Run the shim's worker hooks where the actors run: each prefork child, or this process."""
    from celery import signals

    pseudo_worker = Worker(broker)
    pseudo_worker.replaceable = pool == "prefork"  # boot() runs in each pool child then

    def boot(**_: Any) -> None:
        set_event_loop_thread(None)  # a forked child must not reuse the parent's loop thread
        broker.emit_after("process_boot")
        broker.emit_before("worker_boot", pseudo_worker)
        broker.emit_after("worker_boot", pseudo_worker)

    def shutdown(**_: Any) -> None:
        broker.emit_before("worker_shutdown", pseudo_worker)
        broker.emit_after("worker_shutdown", pseudo_worker)

    if pool == "prefork":
        signals.worker_process_init.connect(boot, weak=False)
        signals.worker_process_shutdown.connect(shutdown, weak=False)
    else:
        signals.worker_init.connect(boot, weak=False)
        signals.worker_shutdown.connect(shutdown, weak=False)

    def ready(**_: Any) -> None:
        print(READY_LINE, flush=True)

    signals.worker_ready.connect(ready, weak=False)


def main(argv: list[str] | None = None) -> int:
    """Import the modules, then run a Celery worker on the global RedisBroker until SIGTERM/SIGINT.

    Returns:
        The process exit code.
    """
    from .brokers.redis import RedisBroker

    args = _parser().parse_args(argv)
    size = args.processes or args.concurrency or os.cpu_count() or 1
    if size < 1:
        print("error: --processes/--concurrency must be at least 1", file=sys.stderr)
        return 2
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for module in args.modules:
        importlib.import_module(module)
    broker = get_broker()
    if not isinstance(broker, RedisBroker):
        print(f"error: the global broker must be a RedisBroker, got {type(broker).__name__}", file=sys.stderr)
        return 2
    queues = args.queues or sorted(broker.get_declared_queues()) or ["default"]
    if args.task_events:
        broker.events = True
        broker.app.conf.worker_send_task_events = True
    broker.mark_worker_started()
    _connect_lifecycle(broker, args.pool)
    broker.app.set_current()
    broker.app.set_default()
    worker = broker.app.Worker(
        hostname=args.hostname or f"shim-{os.getpid()}@{socket.gethostname()}",
        pool_cls=args.pool,
        concurrency=size,
        queues=queues,
        loglevel=args.loglevel.upper(),
        without_mingle=True,
        without_gossip=True,
        without_heartbeat=not broker.events,
        quiet=True,
    )
    worker.start()
    return int(worker.exitcode or 0)
