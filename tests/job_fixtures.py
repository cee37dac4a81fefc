"""Fixtures for driving the training actor directly: a real database, no broker.

Registered for every test package by ``pytest_plugins`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actors.jobs.cancel_signal import LocalCancelSignals
from actors.jobs.context import JobContext
from actors.jobs.publish import CollectingPublisher
from actors.jobs.runner import Outcome, run_job
from actors.jobs.service import SubmitRequest, submit_training_job
from store.datasets import create_dataset
from store.job_queries import events_since, get_job
from store.models import DatasetSource, TrainingJob
from store.reader import Reader
from store.settings import Settings, load_settings
from store.users import create_user


def graph_node(node_id: str, node_type: str, config: dict[str, Any] | None = None, *, x: int = 0, y: int = 0,
               label: str | None = None) -> dict[str, Any]:
    """One node in the canvas JSON shape; its label is its id unless given."""
    return {"id": node_id, "type": node_type, "position": {"x": x, "y": y},
            "data": {"label": node_id if label is None else label, "config": config or {}}}


def graph_for(model_type: str, target: str = "target", *, split: dict[str, Any] | None = None,
              hyperparameters: dict[str, Any] | None = None, before_split: Sequence[dict[str, Any]] = (),
              middle: Sequence[dict[str, Any]] = (),
              train_ids: Sequence[str] = ("train",), labels: dict[str, str] | None = None,
              **train_config: Any) -> dict[str, Any]:
    """dataset_source ``src`` -> ``before_split``... -> train_test_split ``split`` -> ``middle``... -> train_model,
    in the canvas JSON shape.

    Args:
        model_type: Every train node's model family.
        target: Every train node's target column.
        split: The split node's config (default: a quarter held out, seed 7).
        hyperparameters: Every train node's hyperparameters (default: none, the family's defaults).
        before_split: Nodes (see :func:`graph_node`) chained between the source and the split.
        middle: Nodes chained between the split and the train nodes.
        train_ids: One train node per id, each fed by the last node before them.
        labels: Node labels by id, where a test needs other labels than the ids.
        **train_config: More config of every train node (``task``, ``max_runtime_s``...).
    """
    train = {"model_type": model_type, "target": target, "hyperparameters": hyperparameters or {}, **train_config}
    names = labels or {}
    chain = [graph_node("src", "dataset_source", label=names.get("src")), *before_split,
             graph_node("split", "train_test_split", dict(split or {"test_size": 0.25, "random_state": 7}), x=200,
                        label=names.get("split")),
             *middle]
    trains = [graph_node(node_id, "train_model", dict(train), x=200 * len(chain), y=100 * i,
                         label=names.get(node_id)) for i, node_id in enumerate(train_ids)]
    links = [(a["id"], b["id"]) for a, b in itertools.pairwise(chain)] + [(chain[-1]["id"], t) for t in train_ids]
    return {"nodes": chain + trains,
            "edges": [{"id": f"e{i}", "source": a, "target": b} for i, (a, b) in enumerate(links, start=1)]}


@functools.cache
def _breast_cancer() -> pd.DataFrame:
    frame = load_breast_cancer(as_frame=True).frame
    features = frame.drop(columns=["target"])
    scaled = ((features - features.mean()) / features.std()).round(6)
    scaled["target"] = frame["target"]
    return scaled


def breast_cancer_frame() -> pd.DataFrame:
    """scikit-learn's breast cancer data (569 x 30, ``target``) with standardised features.

    Standardised because on the raw features lbfgs runs all 1000 iterations of a logistic
    regression (seconds a fit, times every job of the suite); scaled, it converges in milliseconds.
    A fresh copy each call, so that a test may change it.
    """
    return _breast_cancer().copy()


def long_chain(graph: dict[str, Any], total_nodes: int) -> dict[str, Any]:
    """``graph`` with a chain of valid transforms (scale, impute) between ``src`` and ``split``,
    so that it has ``total_nodes`` nodes (the shape of issue 13's 995-node pipelines)."""
    others = [n for n in graph["nodes"] if n["id"] != "src"]
    chain_length = total_nodes - 1 - len(others)
    nodes, edges, previous = [graph["nodes"][0]], [], "src"
    for i in range(chain_length):
        node_id = f"t{i}"
        node_type, config = ("scale", {"method": "standard"}) if i % 2 else ("impute", {"strategy": "mean"})
        nodes.append({"id": node_id, "type": node_type, "position": {"x": 10 * i, "y": 50},
                      "data": {"label": node_id, "config": config}})
        edges.append({"id": f"chain-{i}", "source": previous, "target": node_id})
        previous = node_id
    kept = [e for e in graph["edges"] if not (e["source"] == "src" and e["target"] == "split")]
    edges.append({"id": "chain-end", "source": previous, "target": "split"})
    return {"nodes": nodes + others, "edges": edges + kept}


class RecordingSender:
    """An in-process sender: records each job id it was asked to send, and the kind it was sent for."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.kinds: dict[str, str] = {}
        self.fail_with: Exception | None = None

    async def __call__(self, job_id: str, max_runtime_s: float | None = None, kind: str = "training") -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(job_id)
        self.kinds[job_id] = kind
        return f"msg-{job_id}"


@dataclasses.dataclass
class JobWorld:
    """A user with datasets, a job context on a real database, and helpers."""

    ctx: JobContext
    sessions: async_sessionmaker[AsyncSession]
    publisher: CollectingPublisher
    sender: RecordingSender
    signals: LocalCancelSignals
    reader: Reader
    datasets: dict[str, DatasetSource]
    terminated: list[bool]

    async def submit(self, graph: dict[str, Any], dataset: str = "breast_cancer", **extra: Any) -> TrainingJob:
        request = SubmitRequest(dataset_source_id=self.datasets[dataset].id, node_id="train", graph=graph, **extra)
        return await submit_training_job(self.ctx, self.reader, request)

    async def run(self, job_id: str) -> Outcome:
        return await run_job(self.ctx, job_id)

    async def job(self, job_id: str) -> TrainingJob:
        async with self.sessions() as session:
            return await get_job(session, job_id, reader=Reader.system())

    async def events(self, job_id: str) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            return await events_since(session, job_id, 0, reader=Reader.system())

    def with_settings(self, **jobs: Any) -> None:
        """Replace ``jobs.*`` settings of the context (e.g. ``max_attempts=1``)."""
        settings = self.ctx.settings
        self.ctx.settings = dataclasses.replace(settings, jobs=dataclasses.replace(settings.jobs, **jobs))

    def with_insights(self, **insights: Any) -> None:
        """Replace ``insights.*`` settings of the context (e.g. ``explain=False``)."""
        settings = self.ctx.settings
        self.ctx.settings = dataclasses.replace(settings, insights=dataclasses.replace(settings.insights, **insights))


def _write(frame: pd.DataFrame, path: Path) -> tuple[str, str]:
    frame.to_csv(path, index=False)
    return str(path), hashlib.sha256(path.read_bytes()).hexdigest()


def fast_settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings with short heartbeats and grace, for tests."""
    return load_settings(
        {},
        overrides={
            "data": {"data_dir": str(tmp_path / "data")},
            "database": {"url": database_url},
            "jobs": {"heartbeat_s": 0.2, "stale_after_s": 1.0, "cancel_grace_s": 5.0, "progress_interval_s": 0.05},
        },
    )


@pytest.fixture(scope="session")
def slow_dataset_frame() -> pd.DataFrame:
    """20,000 x 20 synthetic rows: big enough that long fits take seconds, not milliseconds."""
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=20_000, n_features=20, n_informative=12, flip_y=0.2, random_state=3)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)])
    frame["target"] = y
    return frame


@pytest.fixture
async def job_world(
    tmp_path: Path,
    migrated_database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    slow_dataset_frame: pd.DataFrame,
) -> JobWorld:
    """A user with the breast_cancer, diabetes and ``slow`` datasets, and a job context without a broker."""
    settings = fast_settings(tmp_path, migrated_database_url)
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    datasets: dict[str, DatasetSource] = {}
    async with session_factory.begin() as session:
        user, _token = await create_user(session, "alice")
        frames = {
            "breast_cancer": breast_cancer_frame(),
            "diabetes": load_diabetes(as_frame=True).frame,
            "slow": slow_dataset_frame,
        }
        for name, frame in frames.items():
            path, sha = _write(frame, data_dir / f"{name}.csv")
            datasets[name] = await create_dataset(
                session, owner_id=user.id, name=name, storage_uri=path, format="csv", n_rows=len(frame),
                columns=[{"name": str(c), "dtype": str(t)} for c, t in frame.dtypes.items()], sha256=sha,
            )
    publisher, sender, signals = CollectingPublisher(), RecordingSender(), LocalCancelSignals()
    terminated: list[bool] = []
    ctx = JobContext(
        settings=settings, sessions=session_factory, publisher=publisher, cancel_signals=signals, sender=sender,
        worker_name="test-worker:1", terminate_process=lambda: terminated.append(True),
    )
    return JobWorld(ctx, session_factory, publisher, sender, signals, Reader(user.id), datasets, terminated)
