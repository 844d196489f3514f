"""The model zoo: every entry builds, fits and predicts; strategies and missing extras."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hitlab.errors import ConfigError
from hitlab.features import feature_frame, resolve_features
from hitlab.modeling import zoo
from hitlab.modeling.tune import predict_scores
from hitlab.modeling.zoo import ModelSpec, available_models, build_pipeline, fit_params, get_model


@pytest.fixture(autouse=True)
def one_thread():
    """OpenMP/BLAS estimators (histogram gradient boosting, MLP) crawl when threads compete for cores."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def small(tracks_slice: pd.DataFrame) -> pd.DataFrame:
    return tracks_slice.head(600)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", available_models("regression"))
def test_every_regressor_fits_and_predicts(small: pd.DataFrame, name: str) -> None:
    features = resolve_features("popularity").without(["time_signature"], "empty in the built-in data")
    X = feature_frame(small, features)
    y = small["popularity"].astype(float).to_numpy()
    pipeline = build_pipeline(get_model("regression", name), features, seed=0, n_jobs=1)
    pipeline.fit(X.iloc[:400], y[:400])
    pred, proba = predict_scores(pipeline, X.iloc[400:], "regression")
    assert pred.shape == (200,) and proba is None
    assert np.isfinite(pred).all()


@pytest.mark.parametrize(
    ("name", "strategy"),
    [
        (name, strategy)
        for name in available_models("classification")
        for strategy in ("none", "class_weight")
        if (name, strategy) != ("knn", "class_weight")
    ],  # k-NN takes no weights: refused, tested below
)
def test_every_classifier_fits_and_gives_probabilities(small: pd.DataFrame, name: str, strategy: str) -> None:
    features = resolve_features("genre")
    X = feature_frame(small, features)
    y = pd.factorize(small["genre"], sort=True)[0]
    pipeline = build_pipeline(
        get_model("classification", name), features, strategy=strategy, seed=0, n_jobs=1
    )
    pipeline.fit(X.iloc[:400], y[:400], **fit_params(pipeline, strategy, y[:400]))
    pred, proba = predict_scores(pipeline, X.iloc[400:], "classification")
    assert proba.shape == (200, y.max() + 1)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(pred) <= set(y)


@pytest.mark.parametrize(
    ("model", "strategy", "check"),
    [
        ("lightgbm", "class_weight", lambda p: p.named_steps["model"].class_weight == "balanced"),
        ("random_forest", "smote", lambda p: type(p.named_steps["sample"]).__name__ == "SMOTE"),
        ("logistic", "undersample", lambda p: type(p.named_steps["sample"]).__name__ == "RandomUnderSampler"),
        ("logistic", "none", lambda p: list(p.named_steps) == ["prep", "model"]),
    ],
)
def test_strategies_shape_the_pipeline(model: str, strategy: str, check) -> None:
    pipeline = build_pipeline(
        get_model("classification", model), resolve_features("genre"), strategy=strategy
    )
    assert check(pipeline)


def test_class_weight_falls_back_to_sample_weights_for_models_without_class_weight() -> None:
    pipeline = build_pipeline(
        get_model("classification", "mlp"), resolve_features("genre"), strategy="class_weight"
    )
    y = np.array([0, 0, 0, 1])
    weights = fit_params(pipeline, "class_weight", y)["model__sample_weight"]
    np.testing.assert_allclose(weights, [2 / 3, 2 / 3, 2 / 3, 2.0])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: get_model("regression", "svm"), "unknown regression model 'svm'; known: median"),
        (lambda: get_model("ranking", "lightgbm"), "model kind must be one of regression, classification"),
        (
            lambda: build_pipeline(
                get_model("regression", "ridge"), resolve_features("popularity"), strategy="smote"
            ),
            "applies to classification only",
        ),
        (
            lambda: build_pipeline(
                get_model("classification", "knn"), resolve_features("genre"), strategy="class_weight"
            ),
            "which model 'knn' does not take",
        ),
        (lambda: zoo.get_strategy("oversample"), "unknown imbalance strategy 'oversample'; known: none"),
    ],
)
def test_zoo_errors_say_what_is_allowed(call, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call()


def test_a_missing_optional_extra_is_skipped_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(zoo._REGISTRY, "regression", dict(zoo._REGISTRY["regression"]))
    zoo.register(
        ModelSpec(
            "fancy", "regression", make=lambda s, j: None, requires="no_such_package_xyz", extra="fancy"
        )
    )
    assert "fancy" not in available_models("regression")
    assert zoo.missing_models("regression")["fancy"] == "pip install 'hitlab[fancy]'"
    with pytest.raises(ConfigError, match=r"needs the optional package 'no_such_package_xyz': pip install"):
        get_model("regression", "fancy")
    with pytest.raises(ConfigError, match="already registered"):
        zoo.register(ModelSpec("fancy", "regression", make=lambda s, j: None))


@pytest.mark.parametrize("kind", ["regression", "classification"])
def test_the_lightgbm_search_space_keeps_the_tree_budget(kind: str) -> None:
    """Tuning may not pick a model too big to score 1M tracks a minute (``zoo.LGBM_ROUNDS``)."""
    import optuna

    spec = get_model(kind, "lightgbm")
    low, high = zoo.LGBM_ROUNDS[kind]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    rounds = []
    for _ in range(200):
        trial = study.ask()
        rounds.append(spec.space(trial)["n_estimators"])
        study.tell(trial, 0.0)
    assert low <= min(rounds) and max(rounds) <= high
    assert max(rounds) > (low + high) / 2  # the space really spans the range, not a constant
    assert low <= spec.defaults["n_estimators"] <= high
