"""Recording library warnings during a fit, safely across threads.

``warnings.catch_warnings`` swaps process-wide state (Python 3.11), so two threads using
it at once, ours or pandas' own, can restore each other's filters and let a warning
escape. A whole training run therefore holds :data:`FIT_LOCK`; production workers run
one job per process, so it only serialises fits in a threaded (test) worker.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

FIT_LOCK = threading.RLock()


@contextmanager
def recorded_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Record every warning raised inside the block instead of showing or raising it."""
    with FIT_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
