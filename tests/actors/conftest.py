"""Fixtures for the ML engine tests: scikit-learn's bundled datasets written as files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine

from actors.ml.options import DatasetRef
from tests.actors.fit_helpers import write_dataset
from tests.job_fixtures import breast_cancer_frame

LOADERS: dict[str, Callable[..., Any]] = {
    "wine": load_wine,
    "diabetes": load_diabetes,
}


@pytest.fixture(scope="session")
def sklearn_frames() -> dict[str, pd.DataFrame]:
    """The three bundled datasets as frames with a ``target`` column (breast cancer standardised, see
    :func:`tests.job_fixtures.breast_cancer_frame`)."""
    return {"breast_cancer": breast_cancer_frame(), **{name: loader(as_frame=True).frame
                                                       for name, loader in LOADERS.items()}}


@pytest.fixture(scope="session")
def dataset_files(
    tmp_path_factory: pytest.TempPathFactory, sklearn_frames: dict[str, pd.DataFrame]
) -> dict[str, DatasetRef]:
    """Each bundled dataset written once as CSV for the whole session."""
    directory = tmp_path_factory.mktemp("datasets")
    return {name: write_dataset(frame, directory, name) for name, frame in sklearn_frames.items()}
