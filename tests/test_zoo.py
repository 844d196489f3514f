"""The model zoo: every entry builds, fits and predicts; strategies and missing extras."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator

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
        ("random_forest", "smote", lambda p: list(p.named_steps) == ["fill", "sample", "prep", "model"]
         and type(p.named_steps["sample"]).__name__ == "SmallClassSMOTE"),
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


def test_a_missing_optional_extra_is_skipped_with_the_install_command() -> None:
    fancy = ModelSpec(
        "fancy", "regression", make=lambda s, j: None, requires="no_such_package_xyz", extra="fancy"
    )
    own = zoo.DEFAULT_ZOO.with_model(fancy)
    assert "fancy" not in available_models("regression", zoo=own)
    assert zoo.missing_models("regression", zoo=own)["fancy"] == "pip install 'hitlab[fancy]'"
    with pytest.raises(ConfigError, match=r"needs the optional package 'no_such_package_xyz': pip install"):
        get_model("regression", "fancy", zoo=own)
    with pytest.raises(ConfigError, match="'fancy' is already in the zoo"):
        own.with_model(ModelSpec("fancy", "regression", make=lambda s, j: None))
    assert "fancy" not in zoo.DEFAULT_ZOO.models["regression"]


# --------------------------------------------------------------------------- zoos are values


def _toy_mean(seed: int, n_jobs: int) -> BaseEstimator:
    from sklearn.dummy import DummyRegressor

    return DummyRegressor(strategy="mean")


def test_a_custom_zoo_with_a_toy_model_and_strategy_runs_in_fit_task_and_leaves_the_default_alone(
    small: pd.DataFrame,
) -> None:
    from hitlab.modeling import Task, fit_task

    before = {kind: dict(specs) for kind, specs in zoo.DEFAULT_ZOO.models.items()}
    strategies_before = dict(zoo.DEFAULT_ZOO.strategies)
    own = zoo.DEFAULT_ZOO.with_model(ModelSpec("toy_mean", "regression", make=_toy_mean)).with_strategy(
        zoo.Strategy("toy_weights", "balanced weights under another name", balanced_weights=True)
    )
    rows = small.head(400)
    popularity = Task("popularity", "regression", "popularity", resolve_features("popularity"), "mae")
    result = fit_task(rows, popularity, models=["toy_mean"], n_boot=20, seed=0, n_jobs=1, zoo=own)
    assert [c.key for c in result.candidates] == ["median", "toy_mean"]
    train_mean = result.y[result.split.train].mean()
    np.testing.assert_allclose(result.best.prediction, train_mean)
    np.testing.assert_allclose(result.final.predict(result.X.head(3)), result.y.mean())

    genre = Task("genre", "classification", "genre", resolve_features("genre"), "accuracy")
    result = fit_task(rows, genre, models=["logistic"], strategies=("toy_weights",), max_trials=1, n_boot=20,
                      seed=0, n_jobs=1, zoo=own)
    assert [c.key for c in result.candidates] == ["majority", "logistic+toy_weights"]
    assert result.best.pipeline.named_steps["model"].class_weight == "balanced"

    with pytest.raises(ConfigError, match="unknown regression model 'toy_mean'"):
        fit_task(rows, popularity, models=["toy_mean"], n_boot=20, seed=0, n_jobs=1)
    with pytest.raises(ConfigError, match="unknown imbalance strategy 'toy_weights'"):
        fit_task(rows, genre, models=["logistic"], strategies=("toy_weights",), max_trials=1, n_boot=20,
                 seed=0, n_jobs=1)
    assert {kind: dict(specs) for kind, specs in zoo.DEFAULT_ZOO.models.items()} == before
    assert dict(zoo.DEFAULT_ZOO.strategies) == strategies_before
    assert zoo.STRATEGIES is zoo.DEFAULT_ZOO.strategies


def test_a_zoo_cannot_change_in_place_and_with_model_returns_a_new_one() -> None:
    own = zoo.ModelZoo([ModelSpec(n, "regression", make=_toy_mean) for n in ("a", "b")])
    with pytest.raises(TypeError):
        own.models["regression"]["c"] = ModelSpec("c", "regression", make=_toy_mean)  # type: ignore[index]
    with pytest.raises(TypeError):
        own.strategies["none"] = zoo.Strategy("none", "")  # type: ignore[index]
    with pytest.raises(AttributeError):
        own.extra = 1  # type: ignore[attr-defined]
    replaced = own.with_model(ModelSpec("a", "regression", make=_toy_mean, description="new"), replace=True)
    assert list(replaced.models["regression"]) == ["a", "b"]
    assert replaced.models["regression"]["a"].description == "new"
    assert own.models["regression"]["a"].description == ""
    assert replaced != own and own == zoo.ModelZoo(own.models["regression"].values())
    wider = own.with_model(ModelSpec("c", "classification", make=_toy_mean))
    assert list(wider.models["classification"]) == ["c"]
    assert own.models["classification"] == {}


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: zoo.ModelZoo([ModelSpec("a", "ranking", make=_toy_mean)]), "kind must be one of regression"),
        (lambda: zoo.ModelZoo([ModelSpec("a", "regression", make=_toy_mean)] * 2),
         "a regression model named 'a' is already in the zoo"),
        (lambda: zoo.ModelZoo(strategies=[zoo.Strategy("x", "")] * 2),
         "an imbalance strategy named 'x' is already in the zoo"),
        (lambda: zoo.DEFAULT_ZOO.with_strategy(zoo.Strategy("smote", "")),
         "an imbalance strategy named 'smote' is already in the zoo"),
        (lambda: zoo.ModelZoo().get_model("regression", "lightgbm"), "unknown regression model 'lightgbm'"),
        (lambda: zoo.ModelZoo().get_strategy("none"), "unknown imbalance strategy 'none'"),
    ],
)
def test_zoo_construction_errors_say_what_is_wrong(build, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build()


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


# --------------------------------------------------------------------------- trial 0 = the defaults

ENTRIES = [(kind, name) for kind in zoo.KINDS for name in zoo.DEFAULT_ZOO.models[kind]]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(("kind", "name"), ENTRIES)
def test_trial_0_of_every_zoo_entry_is_all_of_its_defaults(small: pd.DataFrame, kind: str, name: str) -> None:
    """Issue 13: ridge's trial 0 had alpha 1.96, not 1.0; the MLP's (64, 64), not (32,)."""
    from hitlab.modeling.split import inner_folds
    from hitlab.modeling.tune import _replay, first_trial, tune

    spec = zoo.DEFAULT_ZOO.models[kind][name]
    first = first_trial(spec)  # every dimension of the space has its default, inside its range
    replayed = _replay(spec, first)
    assert replayed == {k: spec.defaults[k] for k in replayed}
    if spec.space is None:
        assert first == {}
        return
    assert replayed, "a tunable entry must start from explicit defaults"
    if not spec.is_available():
        pytest.skip(f"{name} needs {spec.requires}")
    task = "popularity" if kind == "regression" else "genre"
    features = resolve_features(task).without(["time_signature"], "empty") if kind == "regression" \
        else resolve_features(task)
    rows = small.head(300)
    X = feature_frame(rows, features)
    y = rows["popularity"].astype(float).to_numpy() if kind == "regression" \
        else pd.factorize(rows["genre"], sort=True)[0]
    folds = inner_folds(np.arange(len(rows)).astype(str), n_splits=2, seed=0)
    metric = "mae" if kind == "regression" else "log_loss"
    result = tune(spec, features, X, y, folds, metric=metric, max_trials=1, seed=0, n_jobs=1,
                  n_classes=None if kind == "regression" else int(y.max()) + 1)
    sampled = {k: v for k, v in result.history.iloc[0].items() if k not in ("trial", "state", "score")}
    assert _replay(spec, sampled) == replayed
    assert result.params == spec.defaults


def test_the_genre_starting_parameters_are_trial_0_too() -> None:
    import dataclasses

    from hitlab import genre
    from hitlab.modeling.tune import _replay, first_trial

    starts = {**genre.ZOO_PARAMS, "lightgbm": genre.LIGHTGBM_PARAMS}
    for name, params in [*starts.items(), ("lightgbm", genre.QUICK_LIGHTGBM_PARAMS)]:
        spec = get_model("classification", name)
        spec = dataclasses.replace(spec, defaults={**spec.defaults, **params})
        replayed = _replay(spec, first_trial(spec))
        assert replayed == {k: spec.defaults[k] for k in replayed}, name


def test_a_default_outside_the_space_is_refused() -> None:
    import dataclasses

    from hitlab.modeling.tune import first_trial

    spec = get_model("regression", "ridge")
    with pytest.raises(ConfigError, match=r"default alpha=5000\.0 lies outside its search space"):
        first_trial(dataclasses.replace(spec, defaults={"alpha": 5000.0}))
    with pytest.raises(ConfigError, match="defaults give no value for alpha"):
        first_trial(dataclasses.replace(spec, defaults={}))


# --------------------------------------------------------------------------- SMOTE on mixed data


def test_smote_rows_have_only_whole_category_values(small: pd.DataFrame) -> None:
    """Issue 13: SMOTE on one-hot columns made fractional keys and modes (93% of synthetic rows)."""
    features = resolve_features("genre")
    assert features.categorical  # key and mode
    X = feature_frame(small, features)
    y = pd.factorize(small["genre"], sort=True)[0]
    pipeline = build_pipeline(get_model("classification", "logistic"), features, strategy="smote", seed=0)
    filled = pipeline.named_steps["fill"].fit_transform(X)
    X_res, _ = pipeline.named_steps["sample"].fit_resample(filled, y)
    synthetic = X_res.iloc[len(X):]
    assert len(synthetic) > 100
    for column in features.categorical:
        assert set(synthetic[column]) <= set(X[column]), column
    prep = pipeline.named_steps["prep"].fit(X_res)
    encoded = prep.transform(synthetic)
    names = prep.get_feature_names_out()
    for column in features.categorical:
        block = encoded[:, [i for i, n in enumerate(names) if n.startswith(f"cat__{column}_")]]
        assert np.isin(block, (0.0, 1.0)).all(), column
        np.testing.assert_array_equal(block.sum(axis=1), 1.0)


def test_smote_adapts_to_small_classes_and_skips_a_single_row_class() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=23), "key": rng.choice(["1", "2"], size=23)})
    sampler = zoo.SmallClassSMOTE(("key",), random_state=0)
    y = np.array([0] * 20 + [1] * 3)
    _, y_res = sampler.fit_resample(X, y)
    assert (np.bincount(y_res) == 20).all() and "2 neighbour(s) instead of 5" in sampler.note_
    y_one = np.array([0] * 20 + [1] * 2 + [2])
    X_same, _ = sampler.fit_resample(X, y_one)
    assert X_same is X and "class 2 has 1 row(s)" in sampler.note_


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_genre_with_two_tracks_does_not_crash_any_strategy(tracks_slice: pd.DataFrame) -> None:
    from hitlab import genre

    rows = tracks_slice[tracks_slice["genre"].notna()].head(500)
    rare = rows["genre"].value_counts().index[-1]
    keep = (rows["genre"] != rare) | (rows.groupby("genre").cumcount() < 2)
    tiny = rows[keep.to_numpy()]
    assert (tiny["genre"] == rare).sum() == 2
    result = genre.fit(tiny, models=[], full=True, n_boot=20, seed=1, max_trials=1)
    assert {c.strategy for c in result.fit.candidates} == {"none", "undersample", "smote", "class_weight"}
