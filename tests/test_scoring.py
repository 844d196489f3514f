"""Fast LightGBM scoring (the compiled tree walk, or LightGBM in blocks of rounds) gives the
pipelines' own predictions, on real tracks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hitlab.features import feature_frame, resolve_features
from hitlab.modeling import _treewalk, scoring
from hitlab.modeling.zoo import build_pipeline, get_model


@pytest.fixture(params=["compiled walk", "lightgbm blocks"])
def small_blocks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both scoring paths, each with several row blocks (a ragged last one) and tree blocks."""
    monkeypatch.setattr(scoring, "TREES_PER_BLOCK", 7)
    monkeypatch.setattr(scoring, "ROWS_PER_BLOCK", 1_234)
    compiled = request.param == "compiled walk"
    monkeypatch.setattr(scoring, "COMPILED_MIN_TREE_ROWS", 0 if compiled else 10**18)
    walked = []
    real = _treewalk.raw_scores
    monkeypatch.setattr(_treewalk, "raw_scores", lambda *a: walked.append(len(a[1])) or real(*a))
    yield
    assert bool(walked) == compiled  # the path named is the one that scored


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
        assert not [n for n in result.notes if "tracks/s" in n]  # not in the report: machine-dependent
        return [n for n in result.speed_notes if "tracks/s" in n]

    # the mechanism, not the machine's speed (that lives in benchmarks/predict.py): a floor every
    # model meets gives no note, one no model meets gives one
    monkeypatch.setattr(task, "SCORING_FLOOR", 0.0)
    assert notes() == []
    monkeypatch.setattr(task, "SCORING_FLOOR", 1e12)
    (note,) = notes()
    assert "lightgbm" in note and "1M tracks" in note


def _booster(pipeline):  # type: ignore[no-untyped-def]
    return pipeline.steps[-1][1].booster_


def test_the_compiled_walk_equals_lightgbm_bit_for_bit(tracks_slice: pd.DataFrame) -> None:
    for kind in ("regression", "classification"):
        pipeline, X = _fit(tracks_slice, kind, "lightgbm", n_estimators=40)
        values = np.ascontiguousarray(np.asarray(pipeline[:-1].transform(X), dtype=np.float64))
        booster = _booster(pipeline)
        trees = _treewalk.compile_trees(booster)
        assert trees is not None
        ours = _treewalk.raw_scores(trees, values, booster.current_iteration())
        theirs = booster.predict(values, raw_score=True).reshape(len(values), -1)
        np.testing.assert_array_equal(ours, theirs)
        half = _treewalk.raw_scores(trees, values, 20)
        np.testing.assert_array_equal(half, booster.predict(values, raw_score=True, num_iteration=20)
                                      .reshape(len(values), -1))


def test_rows_with_missing_values_take_each_splits_default_direction(
    tracks_slice: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LightGBM scores rows with a missing value (the walk has no default directions); the
    others are walked; together they equal the pipeline's own predictions."""
    monkeypatch.setattr(scoring, "COMPILED_MIN_TREE_ROWS", 0)
    holes = tracks_slice.copy()
    rng = np.random.default_rng(0)
    for column in ("tempo", "energy", "valence"):
        holes.loc[rng.random(len(holes)) < 0.15, column] = np.nan
    for kind in ("regression", "classification"):
        pipeline, X = _fit(holes, kind, "lightgbm", n_estimators=30)
        assert X[["tempo", "energy", "valence"]].isna().any(axis=1).mean() > 0.3
        if kind == "regression":
            np.testing.assert_allclose(scoring.predict(pipeline, X), pipeline.predict(X), rtol=1e-10,
                                       atol=1e-9)
        else:
            np.testing.assert_allclose(scoring.predict_proba(pipeline, X), pipeline.predict_proba(X),
                                       rtol=1e-10, atol=1e-12)


def test_models_the_walk_cannot_follow_are_left_to_lightgbm() -> None:
    import lightgbm

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 5, 500), rng.normal(size=500)]).astype(float)
    y = X[:, 0] * 2 + X[:, 1] + rng.normal(size=500)
    categorical = lightgbm.train({"verbose": -1, "min_data_per_group": 5, "cat_smooth": 1}, lightgbm.Dataset(
        X, y, categorical_feature=[0]), num_boost_round=5)
    assert _treewalk.compile_trees(categorical) is None
    X[rng.random(500) < 0.3, 1] = 0.0
    zeros = lightgbm.train({"verbose": -1, "zero_as_missing": True}, lightgbm.Dataset(X, y),
                           num_boost_round=5)
    assert _treewalk.compile_trees(zeros) is None
    plain = lightgbm.train({"verbose": -1}, lightgbm.Dataset(X, y), num_boost_round=5)
    trees = _treewalk.compile_trees(plain)
    assert trees is not None
    with pytest.raises(ValueError, match="reads column 1 of rows that have 1 columns"):
        _treewalk.raw_scores(trees, X[:, :1], 5)  # never a read past the row


def test_a_walk_that_disagrees_with_lightgbm_is_not_used(
    tracks_slice: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scoring, "COMPILED_MIN_TREE_ROWS", 0)
    real = _treewalk.raw_scores
    monkeypatch.setattr(_treewalk, "raw_scores", lambda *a: real(*a) + 1.0)  # a wrong walk
    pipeline, X = _fit(tracks_slice, "regression", "lightgbm", n_estimators=20)
    np.testing.assert_allclose(scoring.predict(pipeline, X), pipeline.predict(X), rtol=1e-10, atol=1e-9)
    assert scoring._TREES[_booster(pipeline)] is None


def test_a_missing_value_in_a_column_no_split_reads_keeps_the_row_on_the_walk(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """A public table without a feature column gives every row a missing value; where the
    model never reads that column, the rows are still walked (and score as LightGBM's)."""
    import lightgbm

    monkeypatch.setattr(scoring, "COMPILED_MIN_TREE_ROWS", 0)
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=400), np.ones(400)])  # the constant column is never split on
    booster = lightgbm.train({"verbose": -1}, lightgbm.Dataset(X, X[:, 0] * 3 + rng.normal(size=400)),
                             num_boost_round=8)
    X[:, 1] = np.nan
    walked = []
    real = _treewalk.raw_scores
    monkeypatch.setattr(_treewalk, "raw_scores", lambda *a: walked.append(len(a[1])) or real(*a))
    scores = scoring._raw_scores(booster, X)
    assert walked[-1] == 400
    np.testing.assert_array_equal(scores, booster.predict(X, raw_score=True))


def test_without_numba_lightgbm_scores_everything(tracks_slice: pd.DataFrame,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Numba is what makes the walk; an install without it scores with LightGBM, the same values."""
    import sys

    monkeypatch.setattr(scoring, "COMPILED_MIN_TREE_ROWS", 0)
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba raises ImportError
    _treewalk._walk.cache_clear()
    try:
        assert not _treewalk.available()
        pipeline, X = _fit(tracks_slice, "regression", "lightgbm", n_estimators=20)
        np.testing.assert_allclose(scoring.predict(pipeline, X), pipeline.predict(X), rtol=1e-10, atol=1e-9)
        assert _booster(pipeline) not in scoring._TREES  # the walk was not even prepared
    finally:
        _treewalk._walk.cache_clear()


@pytest.mark.parametrize("kind", ["regression", "classification"])
def test_a_blend_scores_equal_the_pipeline_predictions(tracks_slice: pd.DataFrame, small_blocks: None,
                                                        kind: str) -> None:
    """The LightGBM + CatBoost average: its LightGBM member on the fast path, CatBoost by itself,
    averaged with the ensemble's weights (uneven here, so a wrong weighting would show)."""
    pytest.importorskip("catboost")
    pipeline, X = _fit(tracks_slice, kind, "blend", weights=[0.7, 0.3], lightgbm__n_estimators=30,
                       catboost__iterations=30)
    if kind == "regression":
        fast, expected = scoring.predict(pipeline, X), pipeline.predict(X)
    else:
        fast, expected = scoring.predict_proba(pipeline, X), pipeline.predict_proba(X)
    assert scoring._blocks(pipeline, X, proba=kind == "classification") is not None
    np.testing.assert_allclose(fast, expected, rtol=1e-10, atol=1e-10)


def test_a_blend_provisional_guess_uses_its_lightgbm_member_only(tracks_slice: pd.DataFrame) -> None:
    pytest.importorskip("catboost")
    pipeline, X = _fit(tracks_slice, "classification", "blend", lightgbm__n_estimators=40,
                       catboost__iterations=20)
    lightgbm_only = build_pipeline(get_model("classification", "lightgbm"), resolve_features("genre"),
                                   seed=0, n_jobs=1)
    lightgbm_only.steps[-1] = ("model", pipeline.named_steps["model"].estimators_[0])
    lightgbm_only.steps[0] = ("prep", pipeline.named_steps["prep"])
    np.testing.assert_allclose(scoring.predict_proba(pipeline, X, share=0.25),
                               scoring.predict_proba(lightgbm_only, X, share=0.25), rtol=1e-12)


def test_a_stack_scores_equal_the_pipeline_predictions(tracks_slice: pd.DataFrame,
                                                       small_blocks: None) -> None:
    """The popularity stack: its LightGBM member on the fast path, extra trees by themselves, both
    columns beside the features into the final model, as the stack's own ``predict`` does."""
    pytest.importorskip("catboost")
    pipeline, X = _fit(tracks_slice, "regression", "stack", final__iterations=40)
    assert scoring._blocks(pipeline, X, proba=False) is not None  # the fast path ran
    np.testing.assert_allclose(scoring.predict(pipeline, X), pipeline.predict(X), rtol=1e-10, atol=1e-9)
    holes = X.copy()
    holes.loc[holes.index[::5], "tempo"] = np.nan  # rows LightGBM scores itself, beside walked ones
    np.testing.assert_allclose(scoring.predict(pipeline, holes), pipeline.predict(holes),
                               rtol=1e-10, atol=1e-9)
