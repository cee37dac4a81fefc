"""``mlw worker``: a Celery worker consuming the training queue."""

from __future__ import annotations

from store.settings import Settings

WORKER_MODULE = "actors.jobs.worker_main"


def worker_argv(settings: Settings, *, pool: str = "prefork", loglevel: str = "info") -> list[str]:
    """The shim worker command line for this configuration."""
    return [
        WORKER_MODULE,
        "--queues", "training",
        "--concurrency", str(settings.worker.concurrency),
        "--pool", pool,
        "--loglevel", loglevel,
    ]


def run_worker(settings: Settings, *, pool: str = "prefork", loglevel: str = "info") -> int:
    """Run the worker in this process until SIGTERM or SIGINT; returns the exit status."""
    if not settings.redis.url:
        print("mlw worker: redis.url is empty; set MLW_REDIS_URL to the Redis the web server uses")
        return 2
    from shim.cli import main

    return main(worker_argv(settings, pool=pool, loglevel=loglevel))
