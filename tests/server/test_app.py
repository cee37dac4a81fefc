"""What the web process does when it starts, beyond serving."""

from __future__ import annotations

import os
import time

from server.app import create_app
from store.settings import Settings
from tests.server.conftest import ClientFactory, RecordingSender


async def test_a_starting_web_process_removes_the_spooled_uploads_a_killed_one_left_and_nothing_else(
    settings: Settings, sender: RecordingSender, aiohttp_client: ClientFactory
) -> None:
    scratch = settings.data_dir / "scratch"
    scratch.mkdir()
    killed = scratch / "upload-x1y2z3.part"
    killed.write_bytes(b"half of a killed upload")
    old = time.time() - settings.data.temp_max_age_s - 60
    os.utime(killed, (old, old))
    recent = scratch / "upload-a1b2c3.part"
    recent.write_bytes(b"an upload of another process on this machine, still arriving")
    foreign = scratch / "readme.txt"
    foreign.write_bytes(b"not ours")
    os.utime(foreign, (old, old))

    await aiohttp_client(create_app(settings, sender=sender))

    assert not killed.exists()
    assert recent.exists() and foreign.exists()
