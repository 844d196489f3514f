"""Block-wise LightGBM scoring gives the pipelines' own predictions, on real tracks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hitlab.features import feature_frame, resolve_features
from hitlab.modeling import scoring
from hitlab.modeling.zoo import build_pipeline, get_model


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several tree blocks and row blocks even on a small slice, with a ragged last block."""
    monkeypatch.setattr(scoring, "TREES_PER_BLOCK", 7)
    monkeypatch.setattr(scoring, "ROWS_PER_BLOCK", 1_234)


def _fit(tracks: pd.DataFrame, kind: str, model: str, strategy: str = "none", **params):  # type: ignore[no-untyped-def]
    task, target = ("popularity", "popularity") if kind == "regression" else ("genre", "genre")
    features = resolve_features(task)
    X = feature_frame(tracks, features)
    y = tracks[target].to_numpy(dtype=float) if kind == "regression" else \
        pd.Categorical(tracks[target].astype(str)).codes
    pipeline = build_pipeline(get_model(kind, model), features, params=params, strategy=strategy, seed=0,
                              n_jobs=1)
    return pipeline.fit(X, y), X


@pytest.mark.parametrize("objective", ["l1", "huber", "l2"])
def test_regressor_scores_equal_the_pipeline_predictions(
    tracks_slice: pd.DataFrame, small_blocks: None, objective: str
) -> None:
    pipeline, X = _fit(tracks_slice, "regression", "lightgbm", objective=objective, n_estimators=60)
    fast = scoring.predict(pipeline, X)
    assert scoring._blocks(pipeline, X, proba=False) is not None  # the fast path ran
    np.testing.assert_allclose(fast, pipeline.predict(X), rtol=1e-10, atol=1e-9)
    assert fast.shape == (len(X),)


@pytest.mark.parametrize("strategy", ["none", "smote", "class_weight"])
def test_classifier_probabilities_equal_the_pipeline_probabilities(
    tracks_slice: pd.DataFrame, small_blocks: None, strategy: str
) -> None:
    pipeline, X = _fit(tracks_slice, "classification", "lightgbm", strategy, n_estimators=25)
    fast = scoring.predict_proba(pipeline, X)
    assert scoring._blocks(pipeline, X, proba=True) is not None
    expected = pipeline.predict_proba(X)
    assert fast.shape == expected.shape == (len(X), tracks_slice["genre"].nunique())
    np.testing.assert_allclose(fast, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(fast.argmax(axis=1), expected.argmax(axis=1))


def test_other_models_and_unknown_links_fall_back_to_the_pipeline(tracks_slice: pd.DataFrame) -> None:
    logistic, X = _fit(tracks_slice, "classification", "logistic")
    assert scoring._blocks(logistic, X, proba=True) is None
    np.testing.assert_array_equal(scoring.predict_proba(logistic, X), logistic.predict_proba(X))
    poisson, X = _fit(tracks_slice, "regression", "lightgbm", objective="poisson", n_estimators=20)
    assert scoring._blocks(poisson, X, proba=False) is None  # exp link: not handled, not guessed
    np.testing.assert_array_equal(scoring.predict(poisson, X), poisson.predict(X))


def test_an_empty_table_scores_to_an_empty_result(tracks_slice: pd.DataFrame) -> None:
    pipeline, X = _fit(tracks_slice, "regression", "lightgbm", n_estimators=10)
    assert scoring.predict(pipeline, X.iloc[:0]).shape == (0,)


def test_a_share_of_the_rounds_equals_lightgbm_with_that_many_iterations(
    tracks_slice: pd.DataFrame, small_blocks: None
) -> None:
    pipeline, X = _fit(tracks_slice, "classification", "lightgbm", n_estimators=30)
    third = scoring.predict_proba(pipeline, X, share=1 / 3)
    np.testing.assert_allclose(third, pipeline.predict_proba(X, num_iteration=10), rtol=1e-10, atol=1e-12)
    assert not np.allclose(third, pipeline.predict_proba(X))  # really a different, shorter model
    with pytest.raises(ValueError, match="share"):
        scoring.predict_proba(pipeline, X, share=0)


def test_a_chosen_model_too_slow_to_score_gets_a_note(tracks_slice: pd.DataFrame,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from hitlab.modeling import Task, fit_task, task

    spec = Task("popularity", "regression", "popularity", resolve_features("popularity"), "mae")

    def notes() -> list[str]:
        result = fit_task(tracks_slice, spec, models=["lightgbm"], max_trials=1, n_boot=10, seed=0, n_jobs=1,
                          refit=False)
        assert result.best.predict_rows_per_s > 0
        return [n for n in result.notes if "tracks/s" in n]

    # the mechanism, not the machine's speed (that lives in benchmarks/predict.py): a floor every
    # model meets gives no note, one no model meets gives one
    monkeypatch.setattr(task, "SCORING_FLOOR", 0.0)
    assert notes() == []
    monkeypatch.setattr(task, "SCORING_FLOOR", 1e12)
    (note,) = notes()
    assert "lightgbm" in note and "1M tracks" in note
