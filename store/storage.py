"""Where a recorded storage URI points: the one rule from a row's URI to a file path.

Dataset rows (``storage_uri``) and jobs/versions (artifact URIs) record a path relative to
a root (the data directory, the artifacts root), an absolute path, or a ``file://`` URI.
Pure path arithmetic: nothing here reads or writes a file.
"""

from __future__ import annotations

from pathlib import Path


def stored_path(root: Path, uri: str) -> Path:
    """The file ``uri`` names, relative paths taken from ``root``."""
    path = Path(uri.removeprefix("file://"))
    return path if path.is_absolute() else root / path


def contained_path(root: Path, uri: str) -> Path | None:
    """The resolved file ``uri`` names if it lies under ``root``, else None: whatever a row
    says, nothing outside the root is served or removed."""
    path = stored_path(root, uri).resolve()
    return path if path.is_relative_to(root.resolve()) else None
