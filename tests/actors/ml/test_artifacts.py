"""Artifacts: atomic writes, sha256 verification, and predictions on raw rows."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from actors.errors import ArtifactError, DatasetError
from actors.ml.artifacts import load_artifact, save_artifact
from actors.ml.fit import run_training
from actors.ml.fitted_pipeline import FittedPipeline
from actors.ml.options import FitOptions
from store.blobs import BlobStore, LocalBlobStore, open_root
from store.settings import load_settings
from tests.actors.fit_helpers import node, training_graph, write_dataset
from tests.s3_fixtures import S3Root


class Unpicklable:
    def __reduce__(self) -> Any:
        raise RuntimeError("disk full")


def _mixed_frame(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    city = rng.choice(["Paris", "Lyon", "Nice"], size=rows)
    income = rng.normal(50, 10, size=rows)
    income[::17] = np.nan
    age = rng.integers(18, 80, size=rows)
    label = np.where((income > 50) ^ (city == "Nice"), "yes", "no")
    return pd.DataFrame({"age": age, "city": city, "income": income, "label": label})


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """The artifacts root on each backend."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "artifacts")
    root: S3Root = request.getfixturevalue("s3_root")
    return open_root(root.url, load_settings({}, overrides=root.overrides(), base_dir=tmp_path))


@pytest.fixture
def trained(tmp_path: Path) -> tuple[FittedPipeline, pd.DataFrame]:
    """A classifier trained through impute, one-hot encode and scale on a raw mixed frame."""
    frame = _mixed_frame()
    dataset = write_dataset(frame, tmp_path, "mixed", "parquet")
    graph = training_graph("lightgbm", target="label", middle=(
        node("imp", "impute", strategy="median"), node("enc", "encode", method="onehot"), node("sc", "scale"),
    ), hyperparameters={"n_estimators": 10, "min_child_samples": 5})
    result = run_training(graph, "train", dataset, FitOptions(), should_stop=lambda: None,
                          on_progress=lambda _: None)
    return result.pipeline, frame


def test_a_reloaded_artifact_predicts_exactly_like_the_model_in_memory(
    trained: tuple[FittedPipeline, pd.DataFrame], store: BlobStore
) -> None:
    pipeline, frame = trained

    stored = save_artifact(pipeline, store, "uploads/models/p/model.joblib")
    loaded = load_artifact(store, stored.uri, stored.sha256)

    raw = frame.drop(columns="label")
    np.testing.assert_array_equal(loaded.predict(raw), pipeline.predict(raw))
    np.testing.assert_array_equal(loaded.predict_proba(raw), pipeline.predict_proba(raw))
    assert set(pipeline.predict(raw)) <= {"yes", "no"}
    assert pipeline.features[:3] == ["age", "city_Lyon", "city_Nice"]


def test_unseen_categories_and_missing_values_are_handled_at_prediction(
    trained: tuple[FittedPipeline, pd.DataFrame],
) -> None:
    pipeline, _ = trained
    fresh = pd.DataFrame({"age": [30, 40], "city": ["Berlin", None], "income": [np.nan, 70.0]})

    proba = pipeline.predict_proba(fresh)

    assert proba.shape == (2, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_a_prediction_frame_missing_a_column_gets_a_clear_error(trained: tuple[FittedPipeline, pd.DataFrame]) -> None:
    pipeline, frame = trained

    with pytest.raises(DatasetError) as caught:
        pipeline.predict(frame.drop(columns=["income"]))

    assert "income" in caught.value.message


def test_a_tampered_artifact_is_refused_before_unpickling(store: BlobStore) -> None:
    stored = save_artifact({"weights": [1, 2, 3]}, store, "a.joblib")
    store.put_bytes("a.joblib", b"".join(store.chunks("a.joblib")) + b"tampered")

    with pytest.raises(ArtifactError) as caught:
        load_artifact(store, stored.uri, stored.sha256)

    assert caught.value.field == "artifact.sha256"
    assert caught.value.details["expected"] == stored.sha256


def test_a_failed_write_leaves_no_object_and_keeps_the_previous_artifact(store: BlobStore, tmp_path: Path) -> None:
    stored = save_artifact({"version": 1}, store, "a.joblib")

    with pytest.raises(ArtifactError):
        save_artifact(Unpicklable(), store, "a.joblib")

    assert store.list("") == ["a.joblib"]
    if isinstance(store, LocalBlobStore):
        assert os.listdir(store.root) == ["a.joblib"]  # no temporary file left either
    assert load_artifact(store, stored.uri, stored.sha256) == {"version": 1}


def test_a_missing_artifact_is_a_clear_error(store: BlobStore) -> None:
    with pytest.raises(ArtifactError) as caught:
        load_artifact(store, store.uri("none.joblib"), "0" * 64)

    assert caught.value.field == "artifact.path"


def test_an_artifact_uri_outside_the_root_is_never_read(store: BlobStore, tmp_path: Path) -> None:
    outside = "s3://elsewhere/m.joblib" if store.root_uri.startswith("s3://") else str(tmp_path / "m.joblib")
    with pytest.raises(ArtifactError) as caught:
        load_artifact(store, outside, "0" * 64)

    assert caught.value.details["reason"] == "blob_outside_root"
