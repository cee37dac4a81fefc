"""The ``mlw`` command: serve, worker, migrate, users, tokens."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from typing import Any

from store.errors import ConfigError, StoreError
from store.settings import Settings, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlw", description="Model-training service for the ML-pipeline canvas.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Every subcommand acts on one deployment: its data directory (and so its SQLite database).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, help="data directory (data.data_dir)")

    serve = sub.add_parser("serve", parents=[common], help="run the web server (and, by default, one worker beside it)")
    serve.add_argument("--host", help="interface to listen on (server.host)")
    serve.add_argument("--port", type=int, help="TCP port (server.port)")
    serve.add_argument("--no-worker", action="store_true", help="do not start a worker process")
    serve.add_argument("--demo", action="store_true", help="load a demo dataset and pipeline")

    worker = sub.add_parser(
        "worker", parents=[common], help="run a Celery worker for training jobs",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Celery's own tools use the same configuration (MLW_* variables, MLW_CONFIG) through\n"
            "the app in actors.jobs.worker_main; the training task is train_model(job_id):\n"
            "  celery -A actors.jobs.worker_main inspect active|registered|stats|ping\n"
            "  celery -A actors.jobs.worker_main control revoke TASK_ID   # cancels the job cooperatively\n"
            "  celery -A actors.jobs.worker_main flower --basic-auth=USER:PASSWORD\n"
            "Events and remote control: worker.send_events, worker.remote_control (docs/security.md)."
        ),
    )
    worker.add_argument("--concurrency", type=int, help="worker processes (worker.concurrency)")
    worker.add_argument("--pool", choices=["prefork", "threads", "solo"], default="prefork")
    worker.add_argument("--loglevel", default="info")

    sub.add_parser("migrate", parents=[common], help="apply database migrations up to the newest revision")

    users = sub.add_parser("users", parents=[common], help="manage users")
    users_sub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    create = users_sub.add_parser("create", parents=[common], help="create a user and print a new API token")
    create.add_argument("name")
    create.add_argument("--admin", action="store_true", help="the user may read every user's objects")
    create.add_argument(
        "--expires-in", type=_days, metavar="DAYS", help="the token expires after DAYS days (default: never)"
    )
    users_sub.add_parser("list", parents=[common], help="list users and their live tokens")
    revoke_user = users_sub.add_parser("revoke", parents=[common], help="revoke every token of a user")
    revoke_user.add_argument("name")

    tokens = sub.add_parser("tokens", parents=[common], help="manage API tokens")
    tokens_sub = tokens.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    new_token = tokens_sub.add_parser("create", parents=[common], help="print a new API token for a user")
    new_token.add_argument("name")
    new_token.add_argument(
        "--expires-in", type=_days, metavar="DAYS", help="the token expires after DAYS days (default: never)"
    )
    list_tokens = tokens_sub.add_parser("list", parents=[common], help="list tokens by prefix (all, or one user's)")
    list_tokens.add_argument("name", nargs="?")
    revoke_token = tokens_sub.add_parser("revoke", parents=[common], help="revoke one token by its prefix or id")
    revoke_token.add_argument("prefix")
    return parser


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--expires-in: {text!r} is not a number of days") from None
    if not 0 < days <= 3650 or days != days:
        raise argparse.ArgumentTypeError(f"--expires-in: must be more than 0 and at most 3650 days, got {text}")
    return days


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, dict[str, Any]] = {}
    if getattr(args, "host", None):
        overrides.setdefault("server", {})["host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides.setdefault("server", {})["port"] = args.port
    if getattr(args, "data_dir", None):
        overrides.setdefault("data", {})["data_dir"] = args.data_dir
    if getattr(args, "concurrency", None) is not None:
        overrides.setdefault("worker", {})["concurrency"] = args.concurrency
    return load_settings(overrides=overrides)


def _migrate(settings: Settings) -> int:
    from store.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    print(f"database is at the newest revision: {settings.database_url}")
    return 0


def _migrate_quietly(settings: Settings) -> None:
    from store.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    if importlib.util.find_spec("server.serve") is None:
        print(
            "mlw serve: the web server is not built yet (see the open server issues); "
            "`mlw migrate`, `mlw users create` and `mlw worker` work today.",
            file=sys.stderr,
        )
        return 2
    from server.serve import run_serve

    return run_serve(settings, no_worker=args.no_worker, demo=args.demo)


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    if importlib.util.find_spec("server.worker") is None:
        print("mlw worker: the training actor is not built yet (see the open actor issue).", file=sys.stderr)
        return 2
    from server.worker import run_worker

    return run_worker(settings, pool=args.pool, loglevel=args.loglevel)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mlw`` command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
        if args.command == "migrate":
            return _migrate(settings)
        if args.command in ("users", "tokens"):
            from server.cli_accounts import run_accounts

            _migrate_quietly(settings)
            return run_accounts(settings, args)
        if args.command == "serve":
            return _serve(settings, args)
        return _worker(settings, args)
    except ConfigError as exc:
        print(f"mlw: configuration error: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"mlw: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
