"""Metrics and bootstrap CIs agree with scikit-learn's metrics."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from hitlab.errors import ConfigError
from hitlab.modeling.evaluate import METRICS, bootstrap, class_recall, score

RNG = np.random.default_rng(3)
N, K = 600, 4
Y_REG = RNG.uniform(0, 100, N)
P_REG = Y_REG + RNG.normal(0, 15, N)
Y_CLS = RNG.integers(0, K, N)
PROBA = RNG.dirichlet(np.ones(K), N)
PROBA[np.arange(N), Y_CLS] += 0.4 * RNG.random(N)
PROBA /= PROBA.sum(axis=1, keepdims=True)
P_CLS = PROBA.argmax(axis=1)


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("mae", lambda: skm.mean_absolute_error(Y_REG, P_REG)),
        ("rmse", lambda: np.sqrt(skm.mean_squared_error(Y_REG, P_REG))),
        ("r2", lambda: skm.r2_score(Y_REG, P_REG)),
        ("accuracy", lambda: skm.accuracy_score(Y_CLS, P_CLS)),
        ("balanced_accuracy", lambda: skm.balanced_accuracy_score(Y_CLS, P_CLS)),
        ("macro_f1", lambda: skm.f1_score(Y_CLS, P_CLS, average="macro")),
        ("top2", lambda: skm.top_k_accuracy_score(Y_CLS, PROBA, k=2, labels=range(K))),
        ("log_loss", lambda: skm.log_loss(Y_CLS, PROBA, labels=range(K))),
    ],
)
def test_metrics_match_scikit_learn(name: str, reference) -> None:
    kind = METRICS[name].kind
    y, pred = (Y_REG, P_REG) if kind == "regression" else (Y_CLS, P_CLS)
    proba = PROBA if kind == "classification" else None
    assert score(name, y, pred, proba) == pytest.approx(reference(), rel=1e-9)
    est = bootstrap([name], y, pred, proba, n_boot=200, seed=0)[name]
    assert est.value == pytest.approx(reference(), rel=1e-9)
    assert est.low < est.value < est.high


def test_bootstrap_is_reproducible_and_narrows_with_more_rows() -> None:
    first = bootstrap(["mae"], Y_REG, P_REG, n_boot=300, seed=5)["mae"]
    again = bootstrap(["mae"], Y_REG, P_REG, n_boot=300, seed=5)["mae"]
    other = bootstrap(["mae"], Y_REG, P_REG, n_boot=300, seed=6)["mae"]
    small = bootstrap(["mae"], Y_REG[:60], P_REG[:60], n_boot=300, seed=5)["mae"]
    assert first == again
    assert first != other
    assert (small.high - small.low) > (first.high - first.low)


def test_class_recall_matches_scikit_learn() -> None:
    table = class_recall(Y_CLS, P_CLS, ["a", "b", "c", "d"], n_boot=100, seed=0)
    expected = skm.recall_score(Y_CLS, P_CLS, average=None)
    np.testing.assert_allclose(table["recall"].to_numpy(), expected)
    assert list(table.index) == ["a", "b", "c", "d"]
    assert (table["low"] <= table["recall"]).all() and (table["recall"] <= table["high"]).all()
    assert table["n"].sum() == N


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: bootstrap(["top2"], Y_CLS, P_CLS), "metric 'top2' needs predicted probabilities"),
        (lambda: score("mape", Y_REG, P_REG), "unknown metric 'mape'; known: mae"),
    ],
)
def test_metric_errors_say_what_is_wrong(call, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call()


def test_one_row_per_group_is_the_plain_row_bootstrap() -> None:
    from hitlab.modeling.evaluate import bootstrap_indices

    groups = np.array([f"t:{i}" for i in range(50)], dtype=object)
    np.testing.assert_array_equal(bootstrap_indices(50, 30, seed=4, groups=groups),
                                  bootstrap_indices(50, 30, seed=4))


def test_grouped_resamples_keep_groups_whole_but_the_last_cut_one() -> None:
    from hitlab.modeling.evaluate import bootstrap_indices

    rng = np.random.default_rng(0)
    groups = rng.integers(0, 40, 300)  # 40 "artists" of uneven size
    sizes = np.bincount(groups, minlength=40)
    idx = bootstrap_indices(300, 200, seed=1, groups=groups)
    assert idx.shape == (200, 300)
    for row in idx:
        counts = np.bincount(groups[row], minlength=40)
        partial = [g for g in range(40) if counts[g] % sizes[g] if sizes[g]]
        assert len(partial) <= 1  # only the group drawn last may be cut
        # positions of one group come as whole copies of that group's rows
        for g in np.flatnonzero(counts)[:5]:
            if g not in partial:
                rows = np.sort(row[groups[row] == g])
                np.testing.assert_array_equal(rows, np.sort(np.tile(np.flatnonzero(groups == g),
                                                                    counts[g] // sizes[g])))
    with pytest.raises(ConfigError, match="labels"):
        bootstrap_indices(10, 5, groups=np.arange(9))


def test_artist_grouped_intervals_are_wider_on_real_tracks(clean_tracks) -> None:
    """Tracks of one artist are alike in popularity, so resampling artists widens the CI."""
    from hitlab.songs import group_labels

    y = clean_tracks["popularity"].to_numpy(dtype=float)
    pred = np.full_like(y, np.median(y))
    by_row = bootstrap(["mae"], y, pred, n_boot=300, seed=0)["mae"]
    by_artist = bootstrap(["mae"], y, pred, n_boot=300, seed=0,
                          groups=group_labels(clean_tracks, "artist"))["mae"]
    assert by_artist.value == by_row.value
    assert (by_artist.high - by_artist.low) > 1.3 * (by_row.high - by_row.low)


def test_fit_task_reports_artist_grouped_intervals(tracks_slice) -> None:
    from hitlab.features import resolve_features
    from hitlab.modeling import Task, fit_task
    from hitlab.songs import group_labels

    task = Task("popularity", "regression", "popularity", resolve_features("popularity"), "mae")
    result = fit_task(tracks_slice, task, models=["linear"], budget=1, max_trials=1, n_boot=100, seed=0,
                      n_jobs=1, groups=group_labels(tracks_slice, "artist"), group_by="artist")
    groups = result.test_groups
    assert all(str(g).startswith(("a:", "n:", "t:")) for g in groups)
    expected = bootstrap(["mae"], result.y_test, result.best.prediction, n_boot=100, seed=0, groups=groups)
    assert result.best.metrics["mae"] == expected["mae"]
