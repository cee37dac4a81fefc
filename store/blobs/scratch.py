"""Each process's local scratch folder: spooled uploads and downloaded objects, and their sweep.

The web process spools an upload to ``upload-<random>.part`` before it stores it; a process
reading an object from S3 downloads it to ``download-<random>-<name>``. Both are removed by
the process that made them, unless it was killed first. :func:`sweep_scratch` removes such
leftovers once older than ``data.temp_max_age_s``: a worker on each interval (its own
machine's folder, whatever other worker swept the stores) and the web process when it starts.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path

UPLOAD_PREFIX = "upload-"
UPLOAD_SUFFIX = ".part"
DOWNLOAD_PREFIX = "download-"


def is_leftover_name(name: str) -> bool:
    """Whether ``name`` is a spooled upload's or a download's (nothing else in the folder is touched)."""
    return (name.startswith(UPLOAD_PREFIX) and name.endswith(UPLOAD_SUFFIX)) or name.startswith(DOWNLOAD_PREFIX)


def sweep_scratch(folder: Path, older_than: datetime) -> list[str]:
    """Remove the spooled uploads and downloads in ``folder`` last written before ``older_than``.

    Only regular files directly in ``folder`` whose names this project gives them are
    removed; a file in use is younger than any sensible ``older_than``.

    Returns:
        The names removed, sorted.
    """
    cutoff = older_than.timestamp()
    try:
        entries = list(folder.iterdir())
    except OSError:  # no folder yet: nothing was ever spooled here
        return []
    removed: list[str] = []
    for path in entries:
        if not is_leftover_name(path.name):
            continue
        with contextlib.suppress(OSError):  # gone meanwhile
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path.name)
    return sorted(removed)
