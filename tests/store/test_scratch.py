"""The sweep of a process's scratch folder: spooled uploads and downloads of killed processes."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from store.blobs.scratch import is_leftover_name, sweep_scratch
from store.types import utcnow


def _aged(path: Path, age_s: float, content: bytes = b"partial") -> Path:
    path.write_bytes(content)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_only_old_spooled_uploads_and_downloads_are_removed(tmp_path: Path) -> None:
    _aged(tmp_path / "upload-abc123.part", 7200)
    _aged(tmp_path / "download-xyz-model.joblib", 7200)
    young = _aged(tmp_path / "upload-new.part", 10)
    foreign = _aged(tmp_path / "notes.txt", 7200)
    unfinished_name = _aged(tmp_path / "upload-abc.csv", 7200)  # not a name this project gives
    nested = tmp_path / "sub"
    nested.mkdir()
    deeper = _aged(nested / "upload-deep.part", 7200)

    removed = sweep_scratch(tmp_path, utcnow() - timedelta(hours=1))

    assert removed == ["download-xyz-model.joblib", "upload-abc123.part"]
    assert young.exists() and foreign.exists() and unfinished_name.exists() and deeper.exists()


def test_a_missing_folder_sweeps_nothing(tmp_path: Path) -> None:
    assert sweep_scratch(tmp_path / "never-made", utcnow()) == []


def test_a_symlink_with_a_leftover_name_is_not_followed_or_removed(tmp_path: Path) -> None:
    target = _aged(tmp_path / "precious.bin", 7200)
    link = tmp_path / "upload-link.part"
    link.symlink_to(target)
    os.utime(link, (time.time() - 7200,) * 2, follow_symlinks=False)

    assert sweep_scratch(tmp_path, utcnow() - timedelta(hours=1)) == []
    assert link.is_symlink() and target.exists()


def test_leftover_names_are_the_ones_the_upload_spool_and_s3_downloads_give() -> None:
    assert is_leftover_name("upload-k2j3h4.part")
    assert is_leftover_name("download-abcd-model.joblib")
    assert not is_leftover_name("upload-k2j3h4")
    assert not is_leftover_name(".model.joblib.abcdefgh.tmp")  # the stores' own temporary names: swept there
