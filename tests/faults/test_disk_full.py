"""The disk fills up while a model artifact is written.

``artifacts.root`` is a tmpfs of 256 KiB, filled up to the last few KiB before the job
concludes; the random forest's joblib file is far larger. The job must end ``failed`` with a
message naming the cause, leaving no partial or temporary artifact and no model version.
Needs root for ``mount -t tmpfs``: skipped with the reason otherwise, and a failure under
``CI=true`` only where the mechanism is available (running as root).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from actors.jobs.runner import Outcome
from store.models import ModelVersion
from store.settings import ArtifactsSettings
from tests.conftest import IN_CI
from tests.job_fixtures import JobWorld, graph_for

TMPFS_SIZE = "256k"
LEAVE_FREE_BYTES = 8 * 1024


def _mount_tmpfs(target: Path) -> str | None:
    """Mount a tiny tmpfs at ``target``; returns why it failed, or None."""
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0755", "tmpfs", str(target)],
            capture_output=True, text=True, timeout=20, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"mount could not run: {exc}"
    return None if done.returncode == 0 else f"mount -t tmpfs failed: {done.stderr.strip() or done.returncode}"


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A mounted tmpfs of :data:`TMPFS_SIZE`, unmounted afterwards."""
    target = tmp_path / "small-disk"
    target.mkdir()
    problem = _mount_tmpfs(target)
    if problem is not None:
        reason = f"cannot simulate a full disk: {problem} (needs root and tmpfs)"
        if IN_CI and os.geteuid() == 0:
            pytest.fail(reason + " - running as root, so this should work under CI=true")
        pytest.skip(reason)
    try:
        yield target
    finally:
        done = subprocess.run(["umount", str(target)], capture_output=True, check=False, timeout=20)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False, timeout=20)


def fill_up(directory: Path, leave_free: int) -> Path:
    """Write a filler file until at most ``leave_free`` bytes remain on the file system of ``directory``."""
    filler = directory / "filler.bin"
    with filler.open("wb") as fh:
        while True:
            free = os.statvfs(directory).f_bavail * os.statvfs(directory).f_frsize
            if free <= leave_free:
                break
            try:
                fh.write(b"\0" * min(free - leave_free, 16 * 1024))
                fh.flush()
            except OSError:
                break
    return filler


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_a_full_disk_while_the_artifact_is_written_fails_the_job_and_leaves_no_artifact_or_version(
    job_world: JobWorld, full_disk: Path
) -> None:
    settings = job_world.ctx.settings
    job_world.ctx.settings = dataclasses.replace(settings, artifacts=ArtifactsSettings(root=str(full_disk)))
    job = await job_world.submit(graph_for("random_forest", hyperparameters={"n_estimators": 60}))
    models_dir = full_disk / "uploads" / "models" / job.pipeline_id
    models_dir.mkdir(parents=True)
    filler = fill_up(full_disk, LEAVE_FREE_BYTES)
    free = os.statvfs(full_disk).f_bavail * os.statvfs(full_disk).f_frsize
    assert free <= LEAVE_FREE_BYTES

    outcome = await job_world.run(job.id)

    assert outcome is Outcome.FAILED
    failed = await job_world.job(job.id)
    assert failed.status == "failed"
    assert failed.error_code == "artifact_error"
    assert failed.error_message is not None
    assert "No space left on device" in failed.error_message, failed.error_message
    assert failed.model_version is None and failed.model_artifact_uri is None and failed.artifact_sha256 is None
    assert _files(full_disk) == [filler.name]  # no partial artifact, no temporary file
    async with job_world.sessions() as session:
        versions = await session.scalar(select(func.count()).select_from(ModelVersion))
    assert versions == 0
    events = await job_world.events(job.id)
    assert [e["status"] for e in events] == ["queued", "running", "failed"]
    assert events[-1].get("error_code") == "artifact_error" or "artifact" in str(events[-1])

    # Once space is back, the next job of the node succeeds and gets version 1.
    with contextlib.suppress(FileNotFoundError):
        filler.unlink()
    again = await job_world.submit(graph_for("random_forest", hyperparameters={"n_estimators": 60}))
    assert await job_world.run(again.id) is Outcome.SUCCEEDED
    assert (await job_world.job(again.id)).model_version == 1
