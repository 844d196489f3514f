"""Tuning: seeded, budgeted, and it never sees the test rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hitlab.features import feature_frame, resolve_features
from hitlab.modeling import Task, fit_task
from hitlab.modeling.split import inner_folds, outer_split
from hitlab.modeling.tune import tune
from hitlab.modeling.zoo import get_model
from hitlab.songs import group_labels


@pytest.fixture(scope="module")
def popularity_run(tracks_slice: pd.DataFrame):
    task = Task("popularity", "regression", "popularity", resolve_features("popularity"), "mae")
    return fit_task(
        tracks_slice, task, models=["ridge", "lightgbm"], max_trials=2, n_boot=50, seed=0, n_jobs=1
    )


@pytest.fixture(scope="module")
def genre_run(tracks_slice: pd.DataFrame):
    task = Task("genre", "classification", "genre", resolve_features("genre"), "accuracy")
    return fit_task(
        tracks_slice,
        task,
        models=["logistic"],
        strategies=("none", "smote"),
        max_trials=1,
        n_boot=50,
        seed=0,
        groups=group_labels(tracks_slice, "artist"),
        group_by="artist",
        n_jobs=1,
    )


@pytest.mark.parametrize("run", ["popularity_run", "genre_run"])
def test_tuning_folds_never_see_test_rows(request: pytest.FixtureRequest, run: str) -> None:
    result = request.getfixturevalue(run)
    test_ids = set(result.rows.index[result.split.test])
    train_ids = set(result.rows.index[result.split.train])
    for candidate in result.candidates:
        seen = set(candidate.tuning.seen)
        assert seen, candidate.key
        assert not seen & test_ids, candidate.key
        assert seen == train_ids, candidate.key


@pytest.mark.parametrize("run", ["popularity_run", "genre_run"])
def test_the_best_candidate_is_chosen_by_cross_validation_not_by_the_test_score(
    request: pytest.FixtureRequest, run: str
) -> None:
    result = request.getfixturevalue(run)
    contenders = [c for c in result.candidates if c.model != result.task.baseline]
    scores = [c.tuning.score for c in contenders]
    best = max(scores) if result.task.kind == "classification" else min(scores)
    assert result.best.tuning.score == best
    board = result.leaderboard()
    assert board["chosen"].sum() == 1
    assert set(board["model"]) == {result.task.baseline, *(c.model for c in contenders)}
    assert (board["trials"] > 0).all() and not board["clock_capped"].any()
    timings = result.timings()
    for column in ("fit_s", "predict_rows_per_s", "tune_s"):
        assert (timings[column] > 0).all()


def test_genre_candidates_cross_models_and_strategies(genre_run) -> None:
    assert [c.key for c in genre_run.candidates] == ["majority", "logistic", "logistic+smote"]
    assert genre_run.classes == sorted(genre_run.rows["genre"].unique())
    summary = genre_run.summary()
    assert set(summary["metrics"]) == {"accuracy", "macro_f1", "balanced_accuracy", "top2", "log_loss"}
    majority = summary["metrics"]["accuracy"]["baseline"]["value"]
    share = pd.Series(genre_run.y_test).value_counts(normalize=True)
    assert majority == pytest.approx(share.loc[genre_run.baseline.prediction[0]])


@pytest.fixture(scope="module")
def train_part(tracks_slice: pd.DataFrame):
    features = resolve_features("popularity").without(["time_signature"], "empty")
    split = outer_split(group_labels(tracks_slice, "song"), seed=0)
    rows = tracks_slice.iloc[split.train]
    X = feature_frame(rows, features)
    y = rows["popularity"].astype(float).to_numpy()
    return features, X, y, inner_folds(split.groups[split.train], n_splits=3, seed=0)


def test_tuning_is_reproducible_with_a_seed(train_part) -> None:
    features, X, y, folds = train_part
    spec = get_model("regression", "decision_tree")
    runs = [
        tune(spec, features, X, y, folds, metric="mae", max_trials=5, seed=s) for s in (3, 3, 4)
    ]
    assert runs[0].params == runs[1].params and runs[0].score == runs[1].score
    assert runs[0].n_trials == 5
    assert not runs[0].history.equals(runs[2].history)


def test_the_first_trial_is_the_default_and_the_budget_stops_the_study(train_part) -> None:
    features, X, y, folds = train_part
    spec = get_model("regression", "decision_tree")
    result = tune(spec, features, X, y, folds, metric="mae", budget=1e-6, max_trials=50, seed=0)
    assert result.n_trials == 1
    assert result.clock_capped and result.planned_trials == 50
    first = result.history.iloc[0]
    assert first["max_depth"] == spec.defaults["max_depth"]
    assert first["min_samples_leaf"] == spec.defaults["min_samples_leaf"]
    assert result.params == spec.defaults


def test_a_model_with_nothing_to_tune_runs_one_trial(train_part) -> None:
    features, X, y, folds = train_part
    result = tune(get_model("regression", "linear"), features, X, y, folds, metric="mae", budget=60)
    assert result.n_trials == 1
    assert np.isfinite(result.score)


def test_quiet_fit_silences_only_the_warnings_it_is_told_to() -> None:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Lasso

    from hitlab.modeling.tune import quiet_fit

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 5)), columns=list("abcde"))
    y = X.to_numpy() @ np.arange(5.0) + rng.normal(size=200)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = quiet_fit(Lasso(alpha=1e-6, max_iter=2, tol=0.0), X, y)
    assert hasattr(fitted, "coef_")
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    with pytest.warns(ConvergenceWarning):
        quiet_fit(Lasso(alpha=1e-6, max_iter=2, tol=0.0), X, y, ignore=())
    with pytest.warns(UserWarning, match="kept"):
        quiet_fit(_Warns(), X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet_fit(_Warns(), X, y, ignore=(ConvergenceWarning, UserWarning), sample_weight=np.ones(200))


class _Warns:
    def fit(self, X: pd.DataFrame, y: np.ndarray, sample_weight: np.ndarray | None = None) -> _Warns:
        import warnings

        warnings.warn("kept", UserWarning, stacklevel=2)
        return self


def test_folds_fitted_in_parallel_give_the_same_study_as_one_at_a_time(train_part) -> None:
    """Both cores, same numbers: the trial history (pruned trials included) does not depend on fold_jobs."""
    features, X, y, folds = train_part
    spec = get_model("regression", "lightgbm")
    runs = [tune(spec, features, X, y, folds, metric="mae", max_trials=8, seed=1, n_jobs=1, fold_jobs=jobs)
            for jobs in (1, 2, 3)]
    for other in runs[1:]:
        pd.testing.assert_frame_equal(runs[0].history, other.history)
        assert other.params == runs[0].params and other.score == runs[0].score
        np.testing.assert_array_equal(other.seen, runs[0].seen)


def test_the_zoo_mlp_on_fewer_rows_than_a_batch_fits_without_a_warning(tracks_slice: pd.DataFrame) -> None:
    """``hitlab run --full`` on a small table (a public top-songs list) printed scikit-learn's
    batch-size warning once per MLP fit; the batch is simply all rows."""
    import warnings

    from hitlab.modeling.tune import quiet_fit
    from hitlab.modeling.zoo import build_pipeline

    small = tracks_slice.head(150)
    features = resolve_features("popularity")
    spec = get_model("regression", "mlp")
    X, y = feature_frame(small, features), small["popularity"].to_numpy(dtype=float)
    folds = inner_folds(np.arange(len(y)), None, n_splits=2, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_fit(build_pipeline(spec, features, seed=0, n_jobs=1), X, y)  # a refit
        tune(spec, features, X, y, folds, metric="mae", max_trials=1, fold_jobs=2)  # CV, folds in threads
    assert not [str(w.message) for w in caught if "batch_size" in str(w.message)]
