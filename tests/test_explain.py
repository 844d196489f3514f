"""``hitlab.modeling.explain``: one-call permutation importance and partial dependence agree
with scikit-learn's (same grid and averages; importances rank the same columns)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMRegressor
from sklearn.inspection import partial_dependence as sk_partial_dependence
from sklearn.inspection import permutation_importance as sk_permutation_importance
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hitlab.modeling import explain

COLUMNS = ["danceability", "energy", "year", "mode", "speechiness"]


@pytest.fixture(scope="module")
def fitted(clean_tracks: pd.DataFrame):
    rows = clean_tracks.sample(n=1200, random_state=3)
    X = rows[COLUMNS].astype(float).reset_index(drop=True)
    y = rows["popularity"].to_numpy(float)
    model = make_pipeline(StandardScaler(), LGBMRegressor(n_estimators=40, verbose=-1, random_state=0))
    return model.fit(X.iloc[:900], y[:900]), X.iloc[900:].reset_index(drop=True), y[900:]


def test_partial_dependence_is_scikit_learns(fitted) -> None:
    model, X, _ = fitted
    ours = explain.partial_dependence(model, X, COLUMNS, grid_resolution=15, percentiles=(0.02, 0.98))
    for feature, (grid, average) in zip(COLUMNS, ours, strict=True):
        theirs = sk_partial_dependence(model, X, [feature], kind="average", grid_resolution=15,
                                       percentiles=(0.02, 0.98))
        np.testing.assert_allclose(grid, theirs["grid_values"][0])  # 'mode' has 2 values: its uniques
        np.testing.assert_allclose(average, theirs["average"][0], rtol=1e-12, atol=1e-9)


def test_permutation_importance_ranks_like_scikit_learn(fitted) -> None:
    model, X, y = fitted
    ours = explain.permutation_importance(model, X, y, lambda a, b: -float(np.mean(np.abs(a - b))),
                                          n_repeats=10, seed=0)
    theirs = sk_permutation_importance(model, X, y, scoring="neg_mean_absolute_error", n_repeats=10,
                                       random_state=0)
    assert ours.importances_mean.shape == (len(COLUMNS),) and (ours.importances_std >= 0).all()
    # different shuffles, the same estimate: within a few standard errors, and the top column agrees
    error = np.sqrt((ours.importances_std**2 + theirs.importances_std**2) / 10)
    assert (np.abs(ours.importances_mean - theirs.importances_mean) <= 4 * error + 1e-9).all()
    assert np.argmax(ours.importances_mean) == np.argmax(theirs.importances_mean)
