"""Fixed C allocator thresholds for the process that fits, so a fit's temporaries reuse memory.

glibc serves a request above ``M_MMAP_THRESHOLD`` (128 KiB at start) with a fresh
``mmap`` and gives it back on ``free``; it raises that threshold, up to 32 MiB, only
when a larger mapped block happens to be freed, and gives the heap's free top back to
the system above twice the threshold. So how fast a fit runs depended on what the
process freed before it: a solver allocating a few arrays of the training rows'
length per iteration (``LogisticRegression``'s lbfgs) grew and trimmed the heap on
every iteration, ~17,000 extra page faults on 160,000 x 20 rows, and
``LinearRegression``'s two copies of the matrix were fresh mappings to zero-fill
instead of heap memory already touched. Pinning the thresholds at glibc's own upper
values (what a process that once freed a 32 MiB block runs with) makes every fit
start from the same, warm state; the cost is up to 64 MiB of freed memory kept for
reuse instead of returned.

Only glibc is tuned; another C library, or thresholds the operator set through
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``, are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

MMAP_THRESHOLD = 32 * 1024 * 1024
"""Requests below this come from the heap (glibc's ``DEFAULT_MMAP_THRESHOLD_MAX`` on 64-bit)."""
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD
"""Free heap top kept for reuse (what glibc's dynamic threshold would set with the above)."""

_M_TRIM_THRESHOLD = -1  # glibc's <malloc.h>
_M_MMAP_THRESHOLD = -3
_ENVIRONMENT = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
_TUNABLES = ("glibc.malloc.mmap_threshold", "glibc.malloc.trim_threshold")

_lock = threading.Lock()
_done: bool | None = None


def pin_allocator_thresholds() -> bool:
    """Fix glibc's mmap and trim thresholds for this process (once; later calls return the first answer).

    Returns:
        Whether the thresholds were set: False on another C library, when ``mallopt``
        refuses, or when the environment already chose them.
    """
    global _done
    with _lock:
        if _done is None:
            _done = _pin()
        return _done


def _pin() -> bool:
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if any(name in os.environ for name in _ENVIRONMENT) or any(name in tunables for name in _TUNABLES):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it (and glibc's mallopt numbering)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # The mmap threshold first: setting either one turns glibc's dynamic adjustment off.
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
