"""Storage URIs to file paths: relative, absolute, ``file://``, and never outside the root."""

from __future__ import annotations

from pathlib import Path

from store.storage import contained_path, stored_path


def test_a_relative_uri_is_under_the_root_and_absolute_or_file_uris_stand_as_they_are(tmp_path: Path) -> None:
    assert stored_path(tmp_path, "datasets/a.parquet") == tmp_path / "datasets/a.parquet"
    assert stored_path(tmp_path, "/srv/data/a.csv") == Path("/srv/data/a.csv")
    assert stored_path(tmp_path, "file:///srv/data/a.csv") == Path("/srv/data/a.csv")
    assert stored_path(tmp_path, "file://datasets/a.csv") == tmp_path / "datasets/a.csv"


def test_a_uri_leading_outside_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    assert contained_path(root, "models/m.joblib") == (root / "models/m.joblib").resolve()
    assert contained_path(root, "../secrets.txt") is None
    assert contained_path(root, "/etc/passwd") is None
    assert contained_path(root, f"file://{root}/models/m.joblib") == (root / "models/m.joblib").resolve()
