"""What both analyses share: a task's model-ready data, one fold fitted with the zoo's LightGBM,
and bootstrap intervals of a mean and of a paired difference.

Fitting goes through the modelling package (:func:`~hitlab.modeling.zoo.build_pipeline` with
the zoo's LightGBM defaults, no tuning; :func:`~hitlab.modeling.tune.predict_scores`), so the
analyses score exactly the way the popularity and genre tasks do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from hitlab.features import FeatureSet
from hitlab.modeling import Estimate, Task
from hitlab.modeling.evaluate import Metric, bootstrap, bootstrap_indices
from hitlab.modeling.task import TaskData
from hitlab.modeling.task import task_data as model_ready
from hitlab.modeling.tune import predict_scores, quiet_fit
from hitlab.modeling.zoo import build_pipeline, get_model
from hitlab.songs import group_labels

MODEL = "lightgbm"


def task_data(tracks: pd.DataFrame, task: Task, groups: np.ndarray | None = None) -> TaskData:
    """Rows with a target, their feature frame and target (:func:`hitlab.modeling.task.task_data`).

    ``groups`` (one label per row of ``tracks``; default the song) follows the rows kept.
    """
    return model_ready(tracks, task, group_labels(tracks, "song") if groups is None else groups)


def fit_model(task: Task, features: FeatureSet, X: pd.DataFrame, y: np.ndarray, *, seed: int = 42,
              n_jobs: int = 1, sample_weight: np.ndarray | None = None,
              params: dict[str, Any] | None = None) -> Any:
    """The task's LightGBM pipeline (the zoo's defaults, no tuning; ``params`` laid over them)
    fitted on ``X``, ``y``."""
    pipeline = build_pipeline(get_model(task.kind, MODEL), features, params=params, seed=seed, n_jobs=n_jobs)
    extra = {} if sample_weight is None else {"model__sample_weight": sample_weight}
    return quiet_fit(pipeline, X, y, ignore=(ConvergenceWarning, UserWarning), **extra)


def predict(pipeline: Any, kind: str, X: pd.DataFrame,
            n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions and (classification) probabilities with ``n_classes`` columns, in class-code order."""
    pred, proba = predict_scores(pipeline, X, kind)
    if proba is not None and n_classes is not None and proba.shape[1] < n_classes:
        proba = np.pad(proba, ((0, 0), (0, n_classes - proba.shape[1])))
    return pred, proba


#: The mean of the values passed as ``y``, as a metric :func:`~hitlab.modeling.evaluate.bootstrap`
#: can resample (the analyses need CIs of means of per-row quantities: differences, hits, overlaps).
MEAN = Metric("mean", "regression", True, lambda y, pred, proba, idx, k: y[idx].mean(axis=1), label="mean")


def mean_ci(per_row: np.ndarray, *, n_boot: int = 1000, seed: int = 42,
            groups: np.ndarray | None = None) -> Estimate:
    """Mean of ``per_row`` with a bootstrap 95% CI (whole ``groups`` resampled when given).

    >>> est = mean_ci(np.array([1.0, 2.0, 3.0, 4.0]), n_boot=200)
    >>> est.value, est.low <= est.value <= est.high
    (2.5, True)
    """
    per_row = np.asarray(per_row, dtype=float)
    if per_row.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"))
    return bootstrap({"mean": MEAN}, per_row, per_row, n_boot=n_boot, seed=seed, groups=groups)["mean"]


def resampled_means(per_row: np.ndarray, *, n_boot: int = 1000, seed: int = 42,
                    groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Column means of an (n, p) array and their (n_boot, p) bootstrap resamples (same resamples for
    every column), for CIs of each column and of differences between two independent samples."""
    per_row = np.asarray(per_row, dtype=float)
    if n_boot <= 0:
        return per_row.mean(axis=0), np.empty((0, per_row.shape[1]))
    n = per_row.shape[0]
    idx = bootstrap_indices(n, n_boot, seed, groups)
    boots = []
    for start in range(0, n_boot, 100):  # times each row is drawn, then one matrix product per chunk
        chunk = idx[start:start + 100]
        offsets = (np.arange(chunk.shape[0]) * n)[:, None]
        counts = np.bincount((chunk + offsets).ravel(), minlength=chunk.shape[0] * n).reshape(-1, n)
        boots.append(counts @ per_row / n)
    boots = np.concatenate(boots)
    return per_row.mean(axis=0), boots


def percentile_ci(point: float, values: np.ndarray) -> Estimate:
    """``point`` with the 2.5 and 97.5 percentiles of its resampled ``values``."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Estimate(float(point), float("nan"), float("nan"))
    low, high = np.percentile(values, [2.5, 97.5])
    return Estimate(float(point), float(low), float(high))


def mean_cis(columns: dict[str, np.ndarray], *, n_boot: int = 1000, seed: int = 42,
             groups: np.ndarray | None = None) -> dict[str, Estimate]:
    """Means of several per-row columns over the same rows, each with a bootstrap 95% CI from one
    shared set of resamples (cheaper than one :func:`mean_ci` per column, and paired)."""
    names = list(columns)
    matrix = np.column_stack([np.asarray(columns[n], dtype=float) for n in names])
    point, boots = resampled_means(matrix, n_boot=n_boot, seed=seed, groups=groups)
    return {n: percentile_ci(point[j], boots[:, j]) for j, n in enumerate(names)}


def member(values: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Whether each of ``values`` is among ``members`` (hashing; ``np.isin`` on text is very slow)."""
    return pd.Index(values).isin(pd.unique(np.asarray(members)))


def difference_ci(a: np.ndarray, b: np.ndarray, *, n_boot: int = 1000, seed: int = 42,
                  groups: np.ndarray | None = None) -> Estimate:
    """Paired difference of means ``mean(a) - mean(b)`` over the same rows, with a bootstrap 95% CI
    (the same resampled rows for both sides)."""
    return mean_ci(np.asarray(a, dtype=float) - np.asarray(b, dtype=float), n_boot=n_boot, seed=seed,
                   groups=groups)


def independent_difference(point_a: float, boots_a: np.ndarray, point_b: float,
                           boots_b: np.ndarray) -> Estimate:
    """``a - b`` for two independent samples, with the CI from their independent resamples."""
    return percentile_ci(point_a - point_b, np.asarray(boots_a) - np.asarray(boots_b))


def excludes_zero(est: Estimate) -> bool:
    """Whether a difference's 95% CI lies wholly on one side of 0."""
    return bool(np.isfinite(est.low) and np.isfinite(est.high) and (est.low > 0 or est.high < 0))
