"""Model-agnostic explanations in one prediction call each: permutation importance and partial
dependence.

scikit-learn's ``permutation_importance`` and brute ``partial_dependence`` call ``predict`` once
per shuffled copy or grid value; through a preprocessing pipeline each call costs ~15-20 ms
whatever its size, so on a few hundred rows they are almost all overhead (1.1 s and 1.5 s of a
quick popularity run). Here every copy is stacked into one frame and predicted once. The partial
dependence grid is scikit-learn's (the same values, tested against it); the shuffles are this
module's own (``numpy.random.default_rng(seed)``). A LightGBM pipeline is scored the way
``hitlab predict`` scores it (:func:`hitlab.modeling.scoring.predict`, the same values, faster).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats.mstats import mquantiles

from hitlab.modeling import scoring

__all__ = ["PermutationImportance", "grid_values", "partial_dependence", "permutation_importance"]


@dataclass(frozen=True)
class PermutationImportance:
    """Mean and standard deviation, over the repeats, of each column's score drop."""

    importances_mean: np.ndarray
    importances_std: np.ndarray


Score = Callable[[np.ndarray, np.ndarray], float]
Curve = tuple[np.ndarray, np.ndarray]


def permutation_importance(model, X: pd.DataFrame, y: np.ndarray, score: Score, *, n_repeats: int = 3,
                           seed: int = 42) -> PermutationImportance:
    """How much ``score(y, predictions)`` (higher is better) drops when one column of ``X`` is
    shuffled, for every column and ``n_repeats`` shuffles each; one ``model.predict`` call."""
    rng = np.random.default_rng(seed)
    n = len(X)
    copies = [X]
    for column in X.columns:
        for _ in range(n_repeats):
            shuffled = X.copy()
            shuffled[column] = X[column].to_numpy()[rng.permutation(n)]
            copies.append(shuffled)
    predicted = np.asarray(scoring.predict(model, pd.concat(copies, ignore_index=True)))
    baseline = score(y, predicted[:n])
    drops = np.array([baseline - score(y, predicted[i * n:(i + 1) * n]) for i in range(1, len(copies))])
    drops = drops.reshape(len(X.columns), n_repeats)
    return PermutationImportance(drops.mean(axis=1), drops.std(axis=1))


def grid_values(values: np.ndarray, grid_resolution: int = 15,
                percentiles: tuple[float, float] = (0.02, 0.98)) -> np.ndarray:
    """scikit-learn's partial dependence grid of one numeric column: its unique values when there
    are fewer than ``grid_resolution``, else evenly spaced points between the two percentiles."""
    uniques = np.unique(values)
    if uniques.shape[0] < grid_resolution:
        return uniques
    low, high = mquantiles(values, prob=percentiles, axis=0)
    return np.linspace(low, high, num=grid_resolution, endpoint=True)


def partial_dependence(model, X: pd.DataFrame, features: Sequence[str], *, grid_resolution: int = 15,
                       percentiles: tuple[float, float] = (0.02, 0.98)) -> list[Curve]:
    """For each feature: its grid and the mean prediction over ``X`` with the feature set to each
    grid value (brute-force partial dependence, ``kind="average"``); one ``predict`` call per feature."""
    curves = []
    for feature in features:
        grid = grid_values(X[feature].to_numpy(), grid_resolution, percentiles)
        stacked = pd.concat([X] * len(grid), ignore_index=True)
        stacked[feature] = np.repeat(grid, len(X))
        predicted = np.asarray(scoring.predict(model, stacked), dtype=float)
        curves.append((grid, predicted.reshape(len(grid), len(X)).mean(axis=1)))
    return curves
