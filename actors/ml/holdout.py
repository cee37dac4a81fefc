"""Held-out rows for learning curves and early stopping, chosen without touching the test rows
more than reporting needs.

Early stopping decides the model, so it only ever sees a validation share carved (seeded,
stratified when every class allows it) from the train partition. Without early stopping,
the curve's held-out series scores the test partition, which then cannot change the fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

XY = tuple[NDArray[np.float64], NDArray[Any]]


def carve_validation(x: NDArray[np.float64], y: NDArray[Any], fraction: float, seed: int, *, classify: bool
                     ) -> tuple[XY, XY]:
    """Split the train rows into ``(fit rows, validation rows)``.

    The split is scikit-learn's ``train_test_split`` of the row indices with ``fraction``
    and ``seed``; classification stratifies when every class has two rows or more, so the
    fit rows keep every class.
    """
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    stratify = None
    if classify:
        _, counts = np.unique(y, return_counts=True)
        n_val = int(np.ceil(fraction * len(y)))
        if counts.min() >= 2 and len(counts) <= n_val <= len(y) - len(counts):
            stratify = y
    fit_rows, val_rows = train_test_split(rows, test_size=fraction, random_state=seed, shuffle=True,
                                          stratify=stratify)
    fit_rows, val_rows = np.sort(fit_rows), np.sort(val_rows)
    return (x[fit_rows], y[fit_rows]), (x[val_rows], y[val_rows])


def encoded_held_out(x: NDArray[np.float64], y_raw: NDArray[Any], classes: NDArray[Any] | None) -> XY:
    """Held-out rows with labels encoded as class indices; rows of labels the fit never saw are left out."""
    if classes is None:
        return x, y_raw
    index = np.searchsorted(classes, y_raw)
    known = (index < len(classes)) & (classes[np.minimum(index, len(classes) - 1)] == y_raw)
    return x[known], index[known]
