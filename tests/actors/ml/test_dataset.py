"""Dataset loading: formats, sampling, sha256 and unreadable files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from actors.errors import DatasetError
from actors.ml.dataset import file_sha256, load_dataset
from actors.ml.options import DatasetRef, FitOptions
from actors.ml.table_store import store_table
from store.blobs import LocalBlobStore
from tests.actors.fit_helpers import write_dataset


@pytest.fixture
def frame() -> pd.DataFrame:
    """A small numeric frame."""
    return pd.DataFrame({"x": np.arange(100, dtype=float), "target": np.arange(100) % 2})


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_small_dataset_is_read_in_full(frame: pd.DataFrame, tmp_path: Path, fmt: str) -> None:
    ref = write_dataset(frame, tmp_path, "d", fmt)

    loaded = load_dataset(ref, FitOptions())

    pd.testing.assert_frame_equal(loaded.frame, frame, check_dtype=False)
    assert loaded.sha256 == file_sha256(ref.path)
    assert (loaded.total_rows, loaded.sampled, loaded.warnings) == (100, False, [])


def test_an_oversized_dataset_degrades_to_a_seeded_sample_with_a_warning(frame: pd.DataFrame, tmp_path: Path) -> None:
    ref = write_dataset(frame, tmp_path, "d")
    options = FitOptions(max_full_rows=50, sample_rows=30, random_state=3)

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
        load_dataset(DatasetRef(ref.path, "csv", "f" * 64), FitOptions())

    assert caught.value.field == "dataset.sha256"


def test_missing_empty_and_corrupt_files_are_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as missing:
        load_dataset(DatasetRef(str(tmp_path / "nope.csv"), "csv"), FitOptions())
    (tmp_path / "empty.csv").write_text("a,b\n")
    with pytest.raises(DatasetError) as empty:
        load_dataset(DatasetRef(str(tmp_path / "empty.csv"), "csv"), FitOptions())
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(DatasetError) as corrupt:
        load_dataset(DatasetRef(str(tmp_path / "bad.parquet"), "parquet"), FitOptions())

    assert missing.value.field == "dataset.path"
    assert "no rows" in empty.value.message
    assert corrupt.value.code == "dataset_error"


_PEAK_SCRIPT = """
import sys, pyarrow as pa
from actors.ml.dataset import load_dataset
from actors.ml.options import DatasetRef, FitOptions
options = FitOptions(max_full_rows=int(sys.argv[3]), sample_rows=int(sys.argv[4]), random_state=7)
loaded = load_dataset(DatasetRef(sys.argv[1], sys.argv[2]), options)
print(len(loaded.frame), pa.default_memory_pool().max_memory())
"""


def _peak_arrow_bytes(path: Path, fmt: str, max_full_rows: int, sample_rows: int) -> tuple[int, int]:
    """Rows loaded and the peak Arrow memory of a fresh process that loads ``path``."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, str(path), fmt, str(max_full_rows), str(sample_rows)],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout.split()
    return int(out[0]), int(out[1])


@pytest.mark.slow
def test_a_worker_reading_an_oversized_stored_dataset_holds_the_sample_not_the_file(tmp_path: Path) -> None:
    rows = 1_000_000
    frame = pd.DataFrame({f"c{i}": np.arange(rows, dtype=np.float64) * (i + 1) for i in range(6)})
    uploaded = write_dataset(frame, tmp_path, "big", "parquet")
    with LocalBlobStore(tmp_path).writer("stored.parquet") as out:
        store_table(Path(uploaded.path), "parquet", out, max_columns=100)  # as the upload stores it
    stored = tmp_path / "stored.parquet"
    table_bytes = rows * 6 * 8  # 48 MB of numbers

    loaded_rows, peak = _peak_arrow_bytes(stored, "parquet", max_full_rows=100_000, sample_rows=5_000)
    full_rows, full_peak = _peak_arrow_bytes(stored, "parquet", max_full_rows=rows, sample_rows=5_000)

    assert (loaded_rows, full_rows) == (5_000, rows)
    assert full_peak > table_bytes  # the measure sees a whole read
    assert peak < table_bytes / 2, f"peak Arrow memory {peak} bytes for a {table_bytes}-byte table"


def test_the_sample_is_uniform_in_file_order_and_the_same_for_the_same_seed(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.arange(300_000, dtype=np.int64), "target": np.arange(300_000) % 2})
    ref = write_dataset(frame, tmp_path, "d", "parquet")
    options = FitOptions(max_full_rows=1000, sample_rows=20_000, random_state=11)

    first, again = load_dataset(ref, options), load_dataset(ref, options)
    other = load_dataset(ref, FitOptions(max_full_rows=1000, sample_rows=20_000, random_state=12))

    xs = first.frame["x"].to_numpy()
    pd.testing.assert_frame_equal(first.frame, again.frame)
    assert not np.array_equal(xs, other.frame["x"].to_numpy())
    assert len(xs) == 20_000 and len(set(xs)) == 20_000 and bool(np.all(np.diff(xs) > 0))
    counts, _ = np.histogram(xs, bins=10, range=(0, 300_000))
    assert counts.min() > 1_700 and counts.max() < 2_300  # every tenth of the file gives its share


def test_a_csv_is_read_with_exact_numbers_by_the_worker(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    texts = [format(float(v), ".17g") for v in rng.standard_normal(5000) * 1e-3]
    path = tmp_path / "n.csv"
    path.write_text("x,target\n" + "".join(f"{t},{i % 2}\n" for i, t in enumerate(texts)))

    loaded = load_dataset(DatasetRef(str(path), "csv"), FitOptions())

    assert loaded.frame["x"].tolist() == [float(t) for t in texts]
