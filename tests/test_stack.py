"""Stacking on grouped out-of-fold predictions (hitlab.modeling.stack)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeRegressor

from hitlab.modeling.stack import GroupedStackRegressor


class _Recorder(DecisionTreeRegressor):
    """A tree that remembers the rows (by their first feature, a row id) of every fit."""

    fits: ClassVar[list[np.ndarray]] = []

    def fit(self, X, y, *args, **kwargs):  # type: ignore[no-untyped-def]
        _Recorder.fits.append(np.asarray(X)[:, 0].astype(int))
        return super().fit(X, y, *args, **kwargs)


def _data(n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = np.column_stack([np.arange(n), rng.normal(size=(n, 3))])
    y = X[:, 1] * 3 + rng.normal(size=n)
    return X, y, np.arange(n) // 4  # groups of four rows: one song, four track ids


def test_out_of_fold_members_never_see_a_group_of_the_rows_they_predict() -> None:
    X, y, groups = _data()
    _Recorder.fits = []
    stack = GroupedStackRegressor([("tree", _Recorder(max_depth=3))], LinearRegression(), n_folds=3)
    stack.fit(X, y, groups=groups)
    fold_fits, final_fit = _Recorder.fits[:3], _Recorder.fits[3]
    assert len(final_fit) == len(y)  # refitted on every row for prediction
    for fitted in fold_fits:
        held_out = np.setdiff1d(np.arange(len(y)), fitted)
        assert held_out.size and not set(groups[fitted]) & set(groups[held_out])


def test_predict_feeds_the_members_predictions_beside_the_features() -> None:
    X, y, groups = _data()
    stack = GroupedStackRegressor([("tree", DecisionTreeRegressor(max_depth=3, random_state=0))],
                                  LinearRegression()).fit(X, y, groups=groups)
    inputs = np.hstack([X, stack.member_predictions(X)])
    assert inputs.shape[1] == X.shape[1] + 1
    np.testing.assert_allclose(stack.predict(X), stack.final_.predict(inputs))
    assert np.mean(np.abs(stack.predict(X) - y)) < np.mean(np.abs(y - np.median(y)))


def test_groups_of_another_length_are_refused() -> None:
    X, y, groups = _data()
    with pytest.raises(ValueError, match="120 rows"):
        GroupedStackRegressor([("tree", DecisionTreeRegressor())], LinearRegression()).fit(X, y, groups[:10])


def test_the_task_mechanism_hands_the_split_groups_to_the_stack() -> None:
    from hitlab.modeling import zoo
    from hitlab.modeling.zoo import build_pipeline, fit_params

    pipeline = build_pipeline(zoo.get_model("regression", "stack"), _features(), n_jobs=1)
    groups = np.arange(10)
    extra = fit_params(pipeline, "none", np.zeros(10), groups=groups)
    assert list(extra) == ["model__groups"]
    np.testing.assert_array_equal(extra["model__groups"], groups)
    lightgbm = build_pipeline(zoo.get_model("regression", "lightgbm"), _features(), n_jobs=1)
    assert fit_params(lightgbm, "none", np.zeros(10), groups=groups) == {}


def _features():  # type: ignore[no-untyped-def]
    from hitlab.features import FeatureSet

    return FeatureSet(name="custom", numeric=("danceability",), categorical=())
