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
