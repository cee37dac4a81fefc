"""The module a worker process loads (``python -m shim actors.jobs.worker_main``).

Importing it reads the configuration once and builds the jobs' broker with one actor per job
kind declared (``TrainingActor`` is Celery task ``train_model``; see ``actors.jobs.kinds``),
which the shim's command line runs as the global broker. Each actor process gets its job
context at its worker's boot (the broker's ``WorkerContext`` middleware); the node's background
duties (liveness key, reaper) run from its ready hook to its shutdown hook; a Celery revoke of
a job's task cancels its job. Its ``app`` is the Celery app, so Celery's own tools work with the
same configuration: ``celery -A actors.jobs.worker_main inspect active``.
"""

from __future__ import annotations

import shim
from actors.jobs.broker import build_broker
from actors.jobs.duties import WorkerDuties
from actors.jobs.fork_gate import run_gated
from actors.jobs.kinds import actor_names
from actors.jobs.revoking import revoke_handler
from actors.jobs.worker_context import ContextFactory
from shim.brokers.node import on_node_ready, on_node_shutdown
from shim.brokers.revoke import on_revoke
from store.settings import load_settings

settings = load_settings()
broker = build_broker(settings)
shim.set_broker(broker)
app = broker.app

_contexts = ContextFactory(settings, broker)
for _actor_name in actor_names():
    on_revoke(_actor_name, revoke_handler(_contexts, run_gated))

_duties = WorkerDuties(_contexts)
on_node_ready(_duties.start)
on_node_shutdown(_duties.stop)
