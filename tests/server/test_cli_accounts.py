"""``mlw users ...`` and ``mlw tokens ...`` through the real command line, on a real data directory."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from server.revocation import REVOCATION_CHANNEL
from store.engine import create_engine, create_session_factory
from store.settings import load_settings
from store.users import authenticate, hash_token

REPO = Path(__file__).resolve().parents[2]


def mlw(data_dir: Path, *args: str, redis_url: str = "", expect: int = 0) -> list[str]:
    """Run ``mlw ARGS --data-dir DATA_DIR``; returns its output lines."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "MLW_REDIS_URL": redis_url}
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", *args, "--data-dir", str(data_dir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == expect, f"mlw {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return (done.stdout + done.stderr).splitlines()


async def live(data_dir: Path, token: str) -> bool:
    """Whether ``token`` authenticates against the data directory's database."""
    engine = create_engine(load_settings(environ={}, overrides={"data": {"data_dir": str(data_dir)}}).database_url)
    try:
        async with create_session_factory(engine).begin() as session:
            return await authenticate(session, token) is not None
    finally:
        await engine.dispose()


@pytest.fixture
def revocations(redis_url: str) -> Iterator[redis.client.PubSub]:
    conn = redis.Redis.from_url(redis_url)
    pubsub = conn.pubsub()
    pubsub.subscribe(REVOCATION_CHANNEL)
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"  # type: ignore[index]
    try:
        yield pubsub
    finally:
        pubsub.close()
        conn.close()


def next_revocation(pubsub: redis.client.PubSub) -> dict[str, str]:
    message = pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
    assert message is not None, "no revocation was published"
    return json.loads(message["data"])


def test_every_subcommand_takes_data_dir(tmp_path: Path) -> None:
    for command in (["migrate"], ["users", "list"], ["tokens", "list"], ["worker", "--help"], ["serve", "--help"]):
        mlw(tmp_path / "d", *command)
    assert (tmp_path / "d" / "mlw.db").exists()
    mlw(tmp_path / "e", "users", "create", "eve")  # --data-dir after the action, as in every other command
    assert "eve" in "\n".join(mlw(tmp_path / "e", "users", "list"))
    assert "eve" not in "\n".join(mlw(tmp_path / "d", "users", "list"))


async def test_tokens_are_created_listed_and_revoked_by_prefix_and_by_user(
    tmp_path: Path, redis_url: str, revocations: redis.client.PubSub
) -> None:
    data = tmp_path / "data"
    first = mlw(data, "users", "create", "alice")[-1]
    mlw(data, "users", "create", "bob")
    second = mlw(data, "tokens", "create", "alice", "--expires-in", "2")[-1]
    assert first != second and await live(data, first) and await live(data, second)

    users = "\n".join(mlw(data, "users", "list"))
    alice_row = next(line for line in users.splitlines() if line.startswith("alice "))
    assert alice_row.split()[2] == "2"  # live tokens
    listing = "\n".join(mlw(data, "tokens", "list", "alice"))
    assert first[:8] in listing and second[:8] in listing and first not in listing and second not in listing
    assert "live until" in listing

    out = mlw(data, "tokens", "revoke", second[:8], redis_url=redis_url)
    assert "revoked token" in out[-1]
    assert next_revocation(revocations) == {"token_sha256": hash_token(second)}
    assert not await live(data, second) and await live(data, first)
    assert "revoked" in next(line for line in mlw(data, "tokens", "list").__iter__() if line.startswith(second[:8]))

    mlw(data, "tokens", "revoke", second[:8], expect=1)  # nothing live has that prefix any more
    mlw(data, "users", "revoke", "alice", redis_url=redis_url)
    assert set(next_revocation(revocations)) == {"user_id"}
    assert not await live(data, first)
    bob_token = mlw(data, "tokens", "create", "bob")[-1]
    assert await live(data, bob_token)
    mlw(data, "users", "revoke", "nobody", expect=1)
    mlw(data, "tokens", "create", "nobody", expect=1)
