"""Transform steps, the split and resampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from actors.errors import InvalidNodeConfig
from actors.ml.splitting import resample_frame, split_frame
from actors.ml.steps import Encode, Impute, Scale

SPLIT = {"test_size": 0.3, "shuffle": True, "stratify": False}


@pytest.fixture
def frame() -> pd.DataFrame:
    """An imbalanced frame with a categorical column and gaps."""
    rng = np.random.default_rng(1)
    return pd.DataFrame({
        "x": rng.normal(size=60),
        "color": rng.choice(["red", "blue"], size=60),
        "group": np.arange(60) % 3,
        "target": np.where(np.arange(60) < 45, 0, 1),
    })


@pytest.mark.parametrize("stratify", [False, True, "group"])
def test_the_split_selects_the_rows_sklearn_returns_in_the_same_order(frame: pd.DataFrame, stratify: object) -> None:
    train, test = split_frame(frame, "target", {**SPLIT, "stratify": stratify}, 5, "cfg")

    labels = None if stratify is False else frame["target" if stratify is True else "group"]
    expected_train, expected_test = train_test_split(frame, test_size=0.3, random_state=5, stratify=labels)
    pd.testing.assert_frame_equal(train, expected_train)
    pd.testing.assert_frame_equal(test, expected_test)


def test_an_impossible_stratified_split_names_the_field(frame: pd.DataFrame) -> None:
    frame.loc[0, "target"] = 7

    with pytest.raises(InvalidNodeConfig) as caught:
        split_frame(frame, "target", {**SPLIT, "stratify": True}, 5, "graph.nodes[1].data.config")

    assert caught.value.field == "graph.nodes[1].data.config.stratify"


@pytest.mark.parametrize(("method", "size"), [("oversample", 90), ("undersample", 30)])
def test_resampling_balances_the_classes(frame: pd.DataFrame, method: str, size: int) -> None:
    balanced = resample_frame(frame, "target", method, 0)

    assert len(balanced) == size
    assert balanced["target"].value_counts().nunique() == 1
    assert resample_frame(frame, "target", method, 0).equals(balanced)
    if method == "oversample":
        pd.testing.assert_frame_equal(balanced.iloc[:60], frame)


def test_ordinal_encoding_maps_unseen_to_minus_one_and_missing_to_nan(frame: pd.DataFrame) -> None:
    step = Encode("e", "cfg.columns", "target", None, method="ordinal")
    step.fit(frame)

    out = step.transform(pd.DataFrame({"x": [0.0, 1.0, 2.0], "color": ["red", "green", None], "group": [0, 1, 2]}))

    assert step.fitted_columns == ["color"]
    assert out["color"].tolist()[:2] == [1.0, -1.0]
    assert np.isnan(out["color"].iloc[2])


def test_impute_learns_from_the_fit_frame_and_leaves_the_input_untouched(frame: pd.DataFrame) -> None:
    train = frame.iloc[:30].copy()
    train.loc[train.index[0], "x"] = np.nan
    step = Impute("i", "cfg.columns", "target", None, strategy="mean")
    step.fit(train)

    out = step.transform(train)

    assert step.values["x"] == pytest.approx(train["x"].mean())
    assert out["x"].isna().sum() == 0
    assert train["x"].isna().sum() == 1


@pytest.mark.parametrize(("columns", "fragment"), [(["color"], "not numeric"), (["nope"], "unknown column"),
                                                   (["target"], "target")])
def test_scaling_a_bad_column_names_the_columns_field(frame: pd.DataFrame, columns: list[str], fragment: str) -> None:
    step = Scale("s", "graph.nodes[2].data.config.columns", "target", columns)

    with pytest.raises(InvalidNodeConfig) as caught:
        step.fit(frame)

    assert caught.value.field == "graph.nodes[2].data.config.columns"
    assert fragment in caught.value.message
