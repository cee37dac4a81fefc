"""First-start chores of ``mlw serve``: the local admin and the demo dataset and pipeline."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from server.tabular import store_upload
from store.blobs import Blobs, open_blobs
from store.datasets import create_dataset, list_datasets
from store.engine import Session, Sessions
from store.pipelines import upsert_pipeline
from store.reader import Reader
from store.settings import Settings
from store.users import count_users, create_user, get_user_by_name

ADMIN_NAME = "admin"
DEMO_DATASET = "demo-breast-cancer"
TOKEN_FILE = "admin-token"


async def ensure_admin(sessions: Sessions, settings: Settings) -> str | None:
    """Create the local admin when the database has no users; return its new token.

    The token is also written to ``<data_dir>/admin-token`` (mode 0600) so a local user
    who missed the console can still sign in.
    """
    async with sessions.begin() as session:
        if await count_users(session):
            return None
        _user, token = await create_user(session, ADMIN_NAME, is_admin=True)
    path = settings.data_dir / TOKEN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token


def demo_graph() -> dict[str, Any]:
    """dataset → split → scale → random forest, as the canvas would save it."""

    def node(node_id: str, node_type: str, x: int, label: str, config: dict[str, Any]) -> dict[str, Any]:
        return {"id": node_id, "type": node_type, "position": {"x": x, "y": 120},
                "data": {"label": label, "config": config}}

    return {
        "nodes": [
            node("source", "dataset_source", 40, "Breast cancer", {}),
            node("split", "train_test_split", 340, "Split 75/25",
                 {"test_size": 0.25, "random_state": 42, "shuffle": True, "stratify": "target"}),
            node("scale", "scale", 640, "Standard scaler", {"method": "standard"}),
            node("train", "train_model", 940, "Random forest",
                 {"model_type": "random_forest", "target": "target", "hyperparameters": {},
                  "experiment_tag": "demo", "description": "Demo model", "run_now": False}),
        ],
        "edges": [
            {"id": "e1", "source": "source", "target": "split"},
            {"id": "e2", "source": "split", "target": "scale"},
            {"id": "e3", "source": "scale", "target": "train"},
        ],
    }


EXAMPLE_NAME = "Example: breast cancer (random forest)"


async def ensure_example(session: Session, settings: Settings, blobs: Blobs, owner_id: str) -> str:
    """The example dataset and pipeline of ``owner_id`` (created on first use); returns the pipeline id.

    Each owner gets its own dataset row (over its own copy of scikit-learn's breast-cancer
    data), so deleting one user's example never touches another's.
    """
    from sklearn.datasets import load_breast_cancer

    reader = Reader(owner_id, is_admin=False)
    existing = [d for d in await list_datasets(session, reader=reader, limit=1000) if d.name == DEMO_DATASET]
    if existing:
        dataset = existing[0]
    else:
        frame = load_breast_cancer(as_frame=True).frame
        folder = Path(settings.data_dir) / "datasets"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{DEMO_DATASET}-{owner_id}.csv"
        frame.to_csv(path, index=False)
        key = f"datasets/{DEMO_DATASET}-{owner_id}.parquet"
        summary, stored = store_upload(path, "csv", blobs.data, key, max_columns=settings.data.max_columns)
        dataset = await create_dataset(
            session, owner_id=owner_id, name=DEMO_DATASET, storage_uri=stored.uri, format="csv",
            n_rows=summary.n_rows, columns=summary.columns,
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(), storage_format="parquet",
            storage_sha256=summary.sha256, stored_bytes=summary.stored_bytes, preview=summary.preview,
        )
        path.unlink()
    graph = demo_graph()
    for node in graph["nodes"]:
        if node["type"] == "dataset_source":
            node["data"]["config"] = {"dataset_source_id": dataset.id}
    pipeline = await upsert_pipeline(
        session, dataset_source_id=dataset.id, graph=graph, reader=reader, name=EXAMPLE_NAME
    )
    return pipeline.pipeline_id


async def load_demo(sessions: Sessions, settings: Settings) -> str:
    """Load the example dataset and pipeline for the local admin; returns the pipeline id."""
    async with sessions.begin() as session:
        admin = await get_user_by_name(session, ADMIN_NAME)
        if admin is None:
            raise RuntimeError("the demo needs the local admin; start mlw serve on an empty database")
        return await ensure_example(session, settings, open_blobs(settings), admin.id)
