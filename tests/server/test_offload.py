"""The bounded executor for CPU-heavy steps: per-user turns, a bounded queue, 429 beyond it."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from typing import Any

import pytest
from aiohttp import FormData

from server.app import create_app
from server.errors import TooManyRequests
from server.keys import OFFLOAD
from server.offload import Offload
from store.settings import Settings
from tests.server.conftest import API, People
from tests.server.seed import IRIS_CSV


def _blocker() -> tuple[threading.Event, threading.Event]:
    return threading.Event(), threading.Event()


def _hold(started: threading.Event, release: threading.Event) -> str:
    started.set()
    assert release.wait(10)
    return "done"


async def _until(event: threading.Event) -> None:
    for _ in range(500):
        if event.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the step never started")


def test_a_user_runs_one_step_at_a_time_while_another_user_is_not_delayed() -> None:
    asyncio.run(_test_a_user_runs_one_step_at_a_time_while_another_user_is_not_delayed())


async def _test_a_user_runs_one_step_at_a_time_while_another_user_is_not_delayed() -> None:
    offload = Offload(threads=2, per_user=1, queue_per_user=4)
    (a1_started, a1_release), (a2_started, a2_release) = _blocker(), _blocker()
    try:
        first = asyncio.ensure_future(offload.run("a", _hold, a1_started, a1_release))
        await _until(a1_started)
        second = asyncio.ensure_future(offload.run("a", _hold, a2_started, a2_release))
        await asyncio.sleep(0.1)

        assert not a2_started.is_set()  # waits for a's first step, though a thread is free
        assert offload.load("a") == (1, 1)
        assert await asyncio.wait_for(offload.run("b", lambda: "b ran"), 5) == "b ran"

        a1_release.set()
        assert await first == "done"
        await _until(a2_started)
        a2_release.set()
        assert await second == "done"
        assert offload.load("a") == (0, 0)
    finally:
        a1_release.set()
        a2_release.set()
        offload.shutdown()


def test_a_user_with_a_full_queue_gets_too_many_requests_at_once() -> None:
    asyncio.run(_test_a_user_with_a_full_queue_gets_too_many_requests_at_once())


async def _test_a_user_with_a_full_queue_gets_too_many_requests_at_once() -> None:
    offload = Offload(threads=2, per_user=1, queue_per_user=1)
    started, release = _blocker()
    try:
        running = asyncio.ensure_future(offload.run("a", _hold, started, release))
        await _until(started)
        waiting = asyncio.ensure_future(offload.run("a", lambda: "queued"))
        await asyncio.sleep(0.05)

        with pytest.raises(TooManyRequests) as refused:
            await offload.run("a", lambda: "never")

        assert refused.value.code == "cpu_busy"
        assert refused.value.details == {"running": 1, "waiting": 1}
        release.set()
        assert (await running, await waiting) == ("done", "queued")
    finally:
        release.set()
        offload.shutdown()


def test_an_abandoned_step_keeps_its_slot_until_its_thread_is_done() -> None:
    asyncio.run(_test_an_abandoned_step_keeps_its_slot_until_its_thread_is_done())


async def _test_an_abandoned_step_keeps_its_slot_until_its_thread_is_done() -> None:
    offload = Offload(threads=2, per_user=1, queue_per_user=4)
    started, release = _blocker()
    try:
        abandoned = asyncio.ensure_future(offload.run("a", _hold, started, release))
        await _until(started)
        abandoned.cancel()
        await asyncio.sleep(0.05)

        assert offload.load("a") == (1, 0)  # the thread still computes: the user's turn is not free
        release.set()
        assert await asyncio.wait_for(offload.run("a", lambda: "next"), 5) == "next"
    finally:
        release.set()
        offload.shutdown()


async def test_an_upload_beyond_the_users_share_is_429_with_retry_after_while_others_upload(
    people: People, settings: Settings, aiohttp_client: Any
) -> None:
    tight = dataclasses.replace(settings, server=dataclasses.replace(settings.server, cpu_queue_per_user=0))
    client = await aiohttp_client(create_app(tight))
    started, release = _blocker()
    holding = asyncio.ensure_future(client.app[OFFLOAD].run(people.alice.id, _hold, started, release))
    try:
        await _until(started)

        def form() -> FormData:
            data = FormData()
            data.add_field("file", IRIS_CSV.encode(), filename="d.csv", content_type="text/csv")
            return data

        refused = await client.post(f"{API}/datasets", data=form(), headers=people.alice.headers)
        assert refused.status == 429
        assert refused.headers["Retry-After"]
        assert (await refused.json())["error"]["code"] == "cpu_busy"
        accepted = await client.post(f"{API}/datasets", data=form(), headers=people.bob.headers)
        assert accepted.status == 201
        leftovers = [p.name for p in (settings.data_dir / "datasets").rglob("*") if p.is_file()]
        assert len(leftovers) == 1  # bob's; alice's refused upload left nothing
    finally:
        release.set()
        await holding
