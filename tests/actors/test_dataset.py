"""Dataset loading: formats, sampling, sha256 and unreadable files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from actors.dataset import file_sha256, load_dataset
from actors.errors import DatasetError
from actors.options import DatasetRef, EngineOptions
from tests.actors.engine_helpers import write_dataset


@pytest.fixture
def frame() -> pd.DataFrame:
    """A small numeric frame."""
    return pd.DataFrame({"x": np.arange(100, dtype=float), "target": np.arange(100) % 2})


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_small_dataset_is_read_in_full(frame: pd.DataFrame, tmp_path: Path, fmt: str) -> None:
    ref = write_dataset(frame, tmp_path, "d", fmt)

    loaded = load_dataset(ref, EngineOptions())

    pd.testing.assert_frame_equal(loaded.frame, frame, check_dtype=False)
    assert loaded.sha256 == file_sha256(ref.path)
    assert (loaded.total_rows, loaded.sampled, loaded.warnings) == (100, False, [])


def test_an_oversized_dataset_degrades_to_a_seeded_sample_with_a_warning(frame: pd.DataFrame, tmp_path: Path) -> None:
    ref = write_dataset(frame, tmp_path, "d")
    options = EngineOptions(max_full_rows=50, sample_rows=30, random_state=3)

    first, second = load_dataset(ref, options), load_dataset(ref, options)

    assert len(first.frame) == 30
    assert first.sampled
    assert first.total_rows == 100
    pd.testing.assert_frame_equal(first.frame, second.frame)
    assert first.frame["x"].is_monotonic_increasing
    assert [w["code"] for w in first.warnings] == ["dataset_sampled"]
    assert "30" in first.warnings[0]["message"]


def test_a_sha256_mismatch_is_rejected(frame: pd.DataFrame, tmp_path: Path) -> None:
    ref = write_dataset(frame, tmp_path, "d")

    with pytest.raises(DatasetError) as caught:
        load_dataset(DatasetRef(ref.path, "csv", "f" * 64), EngineOptions())

    assert caught.value.field == "dataset.sha256"


def test_missing_empty_and_corrupt_files_are_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as missing:
        load_dataset(DatasetRef(str(tmp_path / "nope.csv"), "csv"), EngineOptions())
    (tmp_path / "empty.csv").write_text("a,b\n")
    with pytest.raises(DatasetError) as empty:
        load_dataset(DatasetRef(str(tmp_path / "empty.csv"), "csv"), EngineOptions())
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(DatasetError) as corrupt:
        load_dataset(DatasetRef(str(tmp_path / "bad.parquet"), "parquet"), EngineOptions())

    assert missing.value.field == "dataset.path"
    assert "no rows" in empty.value.message
    assert corrupt.value.code == "dataset_error"
