"""The portable artifact: a plain scikit-learn Pipeline that predicts like the engine's pipeline."""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

from actors.errors import ArtifactError
from actors.ml.artifacts import OUTDATED, load_model, save_artifact
from actors.ml.fit import TrainingResult, run_training
from actors.ml.model_card import CARD_FORMAT, card_bytes, with_artifact
from actors.ml.options import FitOptions
from store.blobs import LocalBlobStore
from tests.actors.fit_helpers import node, training_graph, write_dataset

ALLOWED = ("sklearn", "xgboost", "lightgbm", "pandas", "numpy", "scipy", "joblib", "builtins", "copyreg",
           "collections", "_codecs", "datetime", "functools")

CHAINS: dict[str, tuple[dict[str, Any], ...]] = {
    "impute-onehot-scale": (node("imp", "impute", strategy="median"), node("enc", "encode", method="onehot"),
                            node("sc", "scale")),
    "drop-mode-ordinal-robust": (node("drop", "drop_columns", columns=["noise"]),
                                 node("imp", "impute", strategy="most_frequent"),
                                 node("enc", "encode", method="ordinal", columns=["city", "grade"]),
                                 node("sc", "scale", method="robust")),
    "select-onehot-constant-minmax": (node("sel", "select_columns", columns=["age", "city", "income"]),
                                      node("enc", "encode", method="onehot"),
                                      node("imp", "impute", strategy="constant", fill_value=0),
                                      node("sc", "scale", method="minmax")),
}
FAMILIES = {"classification": ("logistic_regression", "random_forest", "xgboost", "lightgbm"),
            "regression": ("linear_regression", "random_forest", "xgboost", "lightgbm")}


def _raw(rows: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    city = rng.choice(np.array(["Paris", "Lyon", "Nice", None], dtype=object), size=rows)
    income = rng.normal(50, 10, size=rows)
    income[::13] = np.nan
    grade = rng.choice([1.5, 2.0, np.nan], size=rows)
    frame = pd.DataFrame({"age": rng.integers(18, 80, size=rows), "city": city, "income": income,
                          "grade": grade, "noise": rng.normal(size=rows)})
    frame["label"] = np.where((np.nan_to_num(income) > 50) ^ (city == "Nice"), "yes", "no")
    frame["amount"] = np.nan_to_num(income) * 3 + frame["age"]
    return frame


def _unusual() -> pd.DataFrame:
    """Unseen categories and values, missing values everywhere, an extra column, no target."""
    return pd.DataFrame({"age": [30, 41, 95], "city": ["Berlin", None, "Paris"], "income": [np.nan, 70.0, -5.0],
                         "grade": [7.0, np.nan, 2.0], "noise": [0.0, 1.0, 2.0], "unknown": ["a", "b", "c"]})


def _train(tmp_path: Path, model_type: str, target: str, chain: str, fmt: str = "parquet") -> TrainingResult:
    frame = _raw().drop(columns=["amount" if target == "label" else "label"])
    dataset = write_dataset(frame, tmp_path, f"{model_type}-{chain}", fmt)
    hyperparameters = {"n_estimators": 8} if model_type in ("random_forest", "xgboost", "lightgbm") else {}
    graph = training_graph(model_type, target=target, middle=CHAINS[chain], hyperparameters=hyperparameters)
    return run_training(graph, "train", dataset, FitOptions(), should_stop=lambda: None,
                        on_progress=lambda _: None)


@pytest.mark.parametrize("chain", sorted(CHAINS))
@pytest.mark.parametrize(("task", "model_type"), [(t, m) for t, models in FAMILIES.items() for m in models])
def test_the_portable_pipeline_predicts_exactly_like_the_engine_pipeline_from_raw_rows(
    tmp_path: Path, task: str, model_type: str, chain: str
) -> None:
    result = _train(tmp_path, model_type, "label" if task == "classification" else "amount", chain)
    engine, portable = result.pipeline, result.artifact

    for frame in (_raw().drop(columns=["label", "amount"]), _unusual()):
        np.testing.assert_array_equal(portable[:-1].transform(frame),
                                      engine.features_matrix(engine.transform(frame)))
        np.testing.assert_array_equal(portable.predict(frame), engine.predict(frame))
        if task == "classification":
            np.testing.assert_array_equal(portable.predict_proba(frame), engine.predict_proba(frame))
            assert list(portable.classes_) == ["no", "yes"]
            assert set(portable.predict(frame)) <= {"no", "yes"}


def test_a_csv_dataset_with_a_boolean_column_gives_the_same_predictions(tmp_path: Path) -> None:
    frame = _raw().assign(member=lambda f: f["age"] % 3 == 0)
    dataset = write_dataset(frame.drop(columns="amount"), tmp_path, "bools", "csv")
    graph = training_graph("xgboost", target="label", middle=CHAINS["impute-onehot-scale"],
                           hyperparameters={"n_estimators": 5})
    result = run_training(graph, "train", dataset, FitOptions(), should_stop=lambda: None,
                          on_progress=lambda _: None)
    raw = pd.read_csv(dataset.path).drop(columns="label")

    np.testing.assert_array_equal(result.artifact.predict_proba(raw), result.pipeline.predict_proba(raw))
    assert "member" in result.pipeline.features


class _Recording(pickle.Unpickler):
    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.modules: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.modules.add(module)
        return super().find_class(module, name)


@pytest.mark.parametrize("model_type", ["logistic_regression", "random_forest", "xgboost", "lightgbm"])
def test_the_artifact_names_only_classes_of_the_model_libraries(tmp_path: Path, model_type: str) -> None:
    result = _train(tmp_path, model_type, "label", "drop-mode-ordinal-robust")
    path = tmp_path / "model.joblib"
    save_artifact(result.artifact, LocalBlobStore(tmp_path), "model.joblib")
    buffer = io.BytesIO()
    pickle.dump(joblib.load(path), buffer)

    recorder = _Recording(buffer.getvalue())
    recorder.load()

    assert recorder.modules, "the pickle names classes"
    assert sorted(m for m in recorder.modules if m.split(".")[0] not in ALLOWED) == []
    assert not any(m.startswith(("actors", "server", "store", "shim")) for m in recorder.modules)


def test_the_model_card_describes_inputs_target_classes_metrics_and_versions(tmp_path: Path) -> None:
    result = _train(tmp_path, "lightgbm", "label", "impute-onehot-scale")

    card = with_artifact(result.model_card, "job.joblib", "ab" * 32)

    assert card["format"] == CARD_FORMAT
    assert card["inputs"] == [{"name": "age", "dtype": "int64"}, {"name": "city", "dtype": "object"},
                              {"name": "income", "dtype": "float64"}, {"name": "grade", "dtype": "float64"},
                              {"name": "noise", "dtype": "float64"}]
    assert card["target"] == "label" and card["classes"] == ["no", "yes"] and card["task"] == "classification"
    assert card["features"] == result.metrics["features"]
    assert card["metrics"]["test"]["accuracy"] == result.metrics["test"]["accuracy"]
    assert card["hyperparameters"]["n_estimators"] == 8
    assert set(card["library_versions"]) >= {"scikit-learn", "xgboost", "lightgbm", "pandas", "joblib"}
    assert card["dataset_sha256"] == result.metrics["dataset_sha256"]
    assert card["artifact"]["sha256"] == "ab" * 32
    assert card_bytes(card).decode().startswith("{")


def test_an_artifact_written_by_an_earlier_version_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    result = _train(tmp_path, "random_forest", "label", "impute-onehot-scale")
    store = LocalBlobStore(tmp_path)
    stored = save_artifact(result.pipeline, store, "old.joblib")  # as stored before: the engine's own class

    with pytest.raises(ArtifactError) as caught:
        load_model(store, stored.uri, stored.sha256)

    assert caught.value.code == OUTDATED
    assert "retrain" in caught.value.message
    assert "FittedPipeline" in caught.value.details["reason"]


def test_a_portable_artifact_is_loaded_only_after_its_sha256_matches(tmp_path: Path) -> None:
    result = _train(tmp_path, "xgboost", "label", "impute-onehot-scale")
    store = LocalBlobStore(tmp_path)
    stored = save_artifact(result.artifact, store, "model.joblib")

    assert type(load_model(store, stored.uri, stored.sha256)).__name__ == "Pipeline"
    with pytest.raises(ArtifactError) as caught:
        load_model(store, stored.uri, "0" * 64)
    assert caught.value.field == "artifact.sha256"
