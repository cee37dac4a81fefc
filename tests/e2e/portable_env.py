"""A fresh virtual environment holding only the model libraries, built offline.

``python -m venv`` makes it empty; the five distributions a user needs to load a model
(scikit-learn, XGBoost, LightGBM, pandas, joblib) and what they require are then placed
in its ``site-packages`` file by file from their ``RECORD`` in the project's environment
(hard links where the filesystem allows, copies otherwise). Nothing is downloaded, so it
works on a machine without a package index, and nothing of this project is in it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

MODEL_LIBRARIES = ("scikit-learn", "xgboost-cpu", "lightgbm", "pandas", "joblib")


def closure(roots: tuple[str, ...] = MODEL_LIBRARIES) -> dict[str, metadata.Distribution]:
    """The installed distributions ``roots`` need, by normalised name (extras left out)."""
    found: dict[str, metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        dist = metadata.distribution(todo.pop())
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key in found:
            continue
        found[key] = dist
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return found


def _place(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


class ModelEnv:
    """A virtual environment at ``root`` with only :data:`MODEL_LIBRARIES` and their requirements."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.python = root / "bin" / "python"
        self.names: set[str] = set()

    def create(self) -> ModelEnv:
        """Make the environment and install the libraries into it; returns self."""
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(self.root)], check=True, timeout=120)
        site = Path(self.run_code("import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
        for name, dist in closure().items():
            self.names.add(name)
            for file in dist.files or []:
                source = Path(str(dist.locate_file(file))).resolve()
                if file.parts[0] == ".." or not source.is_file():
                    continue  # scripts outside site-packages and files pip removed since
                _place(source, site / file)
        return self

    def run_code(self, code: str, *args: str, timeout: float = 300.0) -> str:
        """Run ``code`` in the environment's Python, isolated (``-I``: no user site, no PYTHONPATH, no cwd)."""
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.root), "OMP_NUM_THREADS": "1"}
        for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # the machine's numpy settings, kept as they are
            if key in os.environ:
                env[key] = os.environ[key]
        done = subprocess.run([str(self.python), "-I", "-c", code, *args], capture_output=True, text=True,
                              timeout=timeout, env=env, cwd=self.root, check=False)
        if done.returncode != 0:
            raise AssertionError(f"the model environment failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
        return done.stdout
