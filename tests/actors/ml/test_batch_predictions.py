"""Batch predictions through a portable model: chunk by chunk, equal to one whole-frame predict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from actors.errors import DatasetError, JobCancelled
from actors.ml.batch_predictions import predict_file
from actors.ml.checkpoints import Checkpoint
from actors.ml.fit import TrainingResult, run_training
from actors.ml.options import FitOptions
from actors.ml.table_read import read_frame
from store.blobs import LocalBlobStore
from tests.actors.fit_helpers import node, training_graph, write_dataset

CHAIN = (node("imp", "impute", strategy="median"), node("enc", "encode", method="onehot"), node("sc", "scale"))


def _frame(rows: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    city = rng.choice(np.array(["Paris", "Lyon", "Nice", None], dtype=object), size=rows)
    income = rng.normal(50, 10, size=rows)
    income[::9] = np.nan
    frame = pd.DataFrame({"age": rng.integers(18, 80, size=rows), "city": city, "income": income})
    frame["label"] = np.where((np.nan_to_num(income) > 50) ^ (city == "Nice"), "yes", "no")
    frame["amount"] = np.nan_to_num(income) * 2 + frame["age"]
    return frame


def _train(tmp_path: Path, model_type: str, target: str) -> TrainingResult:
    frame = _frame().drop(columns=["amount" if target == "label" else "label"])
    dataset = write_dataset(frame, tmp_path, f"train-{model_type}", "parquet")
    hyperparameters = {} if model_type == "logistic_regression" else {"n_estimators": 10}
    graph = training_graph(model_type, target=target, middle=CHAIN, hyperparameters=hyperparameters)
    return run_training(graph, "train", dataset, FitOptions(), should_stop=lambda: None, on_progress=lambda _: None)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize(("model_type", "target"), [("xgboost", "label"), ("logistic_regression", "label"),
                                                     ("lightgbm", "amount")])
def test_chunked_predictions_equal_one_predict_over_the_whole_input_with_its_columns_first(
    tmp_path: Path, model_type: str, target: str, fmt: str
) -> None:
    result = _train(tmp_path, model_type, target)
    source = write_dataset(_frame(777).drop(columns=["label", "amount"]), tmp_path, "score", "csv")
    progress: list[dict[str, Any]] = []
    out = tmp_path / f"out.{fmt}"

    written = predict_file(result.artifact, source.path, "csv", LocalBlobStore(tmp_path), out.name, fmt,
                           Checkpoint(None, progress.append), chunk_rows=100)

    got = pq.read_table(out).to_pandas() if fmt == "parquet" else pd.read_csv(out)
    rows = read_frame(source.path, "csv", max_full_rows=10**6, sample_rows=10**6, seed=0).frame
    assert written.rows == len(got) == 777
    assert list(got.columns[:3]) == ["age", "city", "income"] == written.columns[:3]
    pd.testing.assert_frame_equal(got[["age", "income"]], rows[["age", "income"]])
    completed = [p["completed"] for p in progress]
    assert completed == [0, *range(100, 777, 100), 777] and {p["total"] for p in progress} == {777}
    if target == "label":
        proba = result.artifact.predict_proba(rows)
        assert written.probability_columns == {"no": "probability_no", "yes": "probability_yes"}
        assert list(got["prediction"]) == list(result.artifact.predict(rows))
        if fmt == "parquet":  # CSV prints floats in short form: the binary file is the exact one
            np.testing.assert_array_equal(got[["probability_no", "probability_yes"]].to_numpy(), proba)
        else:
            np.testing.assert_allclose(got[["probability_no", "probability_yes"]].to_numpy(), proba, rtol=1e-12)
    else:
        assert written.columns[-1] == "prediction" and not written.probability_columns
        expected = np.asarray(result.artifact.predict(rows), dtype=np.float64)
        if fmt == "parquet":
            np.testing.assert_array_equal(got["prediction"].to_numpy(), expected)
        else:
            np.testing.assert_allclose(got["prediction"].to_numpy(), expected, rtol=1e-12)


def test_an_input_that_already_has_a_prediction_column_keeps_it_and_the_new_one_is_renamed(tmp_path: Path) -> None:
    result = _train(tmp_path, "lightgbm", "label")
    scored = _frame(50).drop(columns=["amount"]).rename(columns={"label": "prediction"})
    source = write_dataset(scored, tmp_path, "scored", "parquet")

    written = predict_file(result.artifact, source.path, "parquet", LocalBlobStore(tmp_path), "o.parquet", "parquet",
                           Checkpoint())

    assert written.prediction_column == "prediction_2"
    assert pq.read_table(tmp_path / "o.parquet").column("prediction").to_pylist() == list(scored["prediction"])


def test_a_cancelled_run_stops_between_chunks_and_leaves_no_output(tmp_path: Path) -> None:
    result = _train(tmp_path, "xgboost", "label")
    source = write_dataset(_frame(900).drop(columns=["label", "amount"]), tmp_path, "score", "parquet")
    seen: list[int] = []

    def stop_after_two() -> str | None:
        return "cancelled" if len(seen) >= 2 else None

    with pytest.raises(JobCancelled):
        predict_file(result.artifact, source.path, "parquet", LocalBlobStore(tmp_path), "out/o.csv", "csv",
                     Checkpoint(stop_after_two, lambda p: seen.append(p["completed"])), chunk_rows=200)

    assert seen == [0, 200]
    assert [p for p in tmp_path.rglob("*") if "o.csv" in p.name] == [], "nothing committed, no temporary left"


def test_rows_missing_a_model_input_fail_with_a_dataset_error_naming_the_column(tmp_path: Path) -> None:
    result = _train(tmp_path, "random_forest", "label")
    source = write_dataset(_frame(20).drop(columns=["label", "amount", "income"]), tmp_path, "short", "csv")

    with pytest.raises(DatasetError) as caught:
        predict_file(result.artifact, source.path, "csv", LocalBlobStore(tmp_path), "o.csv", "csv", Checkpoint())

    assert "income" in caught.value.message and caught.value.field == "dataset_id"
    assert not (tmp_path / "o.csv").exists()
