from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from actors.ml.allocator import pin_allocator_thresholds

ROOT = Path(__file__).resolve().parents[3]
_PROBE = "from actors.ml.allocator import pin_allocator_thresholds as p; print(p(), p())"


def _run(extra_env: dict[str, str]) -> str:
    env = {key: value for key, value in os.environ.items()
           if key not in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")}
    out = subprocess.run([sys.executable, "-c", _PROBE], env={**env, **extra_env}, capture_output=True, text=True,
                         check=True, timeout=60, cwd=ROOT)
    return out.stdout.strip()


def test_pinning_answers_the_same_on_every_call() -> None:
    assert pin_allocator_thresholds() == pin_allocator_thresholds()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc is a Linux C library")
def test_a_fresh_glibc_process_gets_its_thresholds_pinned_once() -> None:
    assert _run({}) == "True True"


def test_thresholds_the_operator_set_in_the_environment_are_left_alone() -> None:
    assert _run({"MALLOC_TRIM_THRESHOLD_": "1048576"}) == "False False"
    assert _run({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=1048576"}) == "False False"


def test_unrelated_glibc_tunables_do_not_stop_the_pinning() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc is a Linux C library")
    assert _run({"GLIBC_TUNABLES": "glibc.pthread.rseq=0"}) == "True True"
