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
from tests.actors.fit_helpers import node, training_graph, write_dataset


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
    trained: tuple[FittedPipeline, pd.DataFrame], tmp_path: Path
) -> None:
    pipeline, frame = trained
    path = str(tmp_path / "model.joblib")

    digest = save_artifact(pipeline, path)
    loaded = load_artifact(path, digest)

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


def test_a_tampered_artifact_is_refused_before_unpickling(tmp_path: Path) -> None:
    path = str(tmp_path / "a.joblib")
    digest = save_artifact({"weights": [1, 2, 3]}, path)
    with open(path, "ab") as handle:
        handle.write(b"tampered")

    with pytest.raises(ArtifactError) as caught:
        load_artifact(path, digest)

    assert caught.value.field == "artifact.sha256"
    assert caught.value.details["expected"] == digest


def test_a_failed_write_leaves_no_file_and_keeps_the_previous_artifact(tmp_path: Path) -> None:
    path = str(tmp_path / "a.joblib")
    digest = save_artifact({"version": 1}, path)

    with pytest.raises(ArtifactError):
        save_artifact(Unpicklable(), path)

    assert os.listdir(tmp_path) == ["a.joblib"]
    assert load_artifact(path, digest) == {"version": 1}


def test_a_missing_artifact_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as caught:
        load_artifact(str(tmp_path / "none.joblib"), "0" * 64)

    assert caught.value.field == "artifact.path"
