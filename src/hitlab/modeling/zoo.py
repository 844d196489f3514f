"""The model zoo: estimators (each inside a Pipeline with its preprocessing) and their
search spaces, for regression and classification, plus imbalance strategies.

A :class:`ModelSpec` says how to build the final estimator (``make(seed, n_jobs)``), which
parameters it starts from, how Optuna samples its search space (``space(trial)``),
whether its numeric inputs must be standardised, and which optional package it needs.
:func:`build_pipeline` wraps it as ``prep -> [sampler] -> model`` in a Pipeline (imbalanced-learn's
when there is a sampler, so it only ever runs at fit time, on the rows being fitted).

A :class:`ModelZoo` is an immutable value holding the models (per kind, by name) and the
strategies; :data:`DEFAULT_ZOO` holds hitlab's own. Add a model by building a new zoo and
passing it where it is used (nothing global changes)::

    my_zoo = DEFAULT_ZOO.with_model(ModelSpec("my_forest", "classification", make=..., space=...))
    fit_task(tracks, task, models=["my_forest"], zoo=my_zoo)

An :class:`Strategy` (``none``, ``undersample``, ``smote``, ``class_weight``) handles class
imbalance: a sampler step, or balanced class weights (``class_weight="balanced"`` where
the estimator has it, else balanced ``sample_weight`` passed to ``fit``; see
:func:`fit_params`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import has_fit_parameter

from hitlab.errors import ConfigError
from hitlab.features import FeatureSet

__all__ = [
    "DEFAULT_ZOO",
    "KINDS",
    "STRATEGIES",
    "ModelSpec",
    "ModelZoo",
    "Strategy",
    "available_models",
    "build_pipeline",
    "fit_params",
    "get_model",
    "get_strategy",
    "make_preprocessor",
    "missing_models",
    "model_description",
    "sampler_note",
]

KINDS = ("regression", "classification")
#: Space = a function of an ``optuna.Trial`` returning estimator parameters.
Space = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class ModelSpec:
    """One zoo entry.

    Parameters
    ----------
    name
        Registry name (``"lightgbm"``), unique per kind.
    kind
        ``"regression"`` or ``"classification"``.
    make
        ``make(seed, n_jobs)`` returns the unfitted estimator with its default parameters.
    space
        ``space(trial)`` samples estimator parameters with Optuna; ``None``: nothing to tune.
    defaults
        The starting parameters: every dimension of ``space`` has its value here, inside
        its range, and they are Optuna's first trial (trial 0), so tuning never ends worse
        (by cross-validation) than them. Keys outside the space are fixed settings.
    space_values
        ``space_values(defaults)`` gives the values the space samples for those parameters,
        when the space's dimensions are not the estimator's parameters (the MLP's width and
        depth make ``hidden_layer_sizes``); ``None``: the same names.
    scale
        Standardise numeric inputs (linear models, k-NN, MLP).
    max_trials
        Tuning trials when the caller gives no count.
    requires
        Optional package (import name) the entry needs; ``extra`` is its pip extra.
    description
        One line for reports.
    """

    name: str
    kind: str
    make: Callable[[int, int], BaseEstimator]
    space: Space | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    scale: bool = False
    space_values: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    max_trials: int = 50
    requires: str | None = None
    extra: str | None = None
    description: str = ""

    @property
    def install(self) -> str | None:
        """The command installing the optional extra, or None."""
        return f"pip install 'hitlab[{self.extra}]'" if self.extra else None

    def is_available(self) -> bool:
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


@dataclass(frozen=True)
class Strategy:
    """A way to handle class imbalance: a sampler step and/or balanced class weights.

    ``sampler(seed, features)`` builds the sampler step. With ``before_encoding`` it runs on
    the feature frame (numeric columns median-imputed, categorical ones as their values)
    before one-hot encoding, so a sampler that makes new rows (SMOTE) picks whole categories
    instead of interpolating dummy columns.
    """

    name: str
    description: str
    sampler: Callable[[int, FeatureSet], Any] | None = None
    balanced_weights: bool = False
    before_encoding: bool = False


class ModelZoo:
    """The models (per kind, by name) and imbalance strategies a task may use: an immutable value.

    Nothing changes a zoo once built: :meth:`with_model` and :meth:`with_strategy` return a new
    one, so a caller (or a test) builds its own and passes it (``fit_task(..., zoo=...)``)
    without touching :data:`DEFAULT_ZOO`.

    Parameters
    ----------
    models
        Model entries; a (kind, name) may appear once.
    strategies
        Imbalance strategies; a name may appear once.

    Raises
    ------
    ConfigError
        A model of an unknown kind, or a repeated model or strategy name.

    >>> zoo = ModelZoo([ModelSpec("const", "regression", make=lambda s, j: None)])
    >>> bigger = zoo.with_strategy(Strategy("none", "no rebalancing"))
    >>> zoo.available_models("regression"), list(zoo.strategies), list(bigger.strategies)
    (['const'], [], ['none'])
    """

    __slots__ = ("_models", "_strategies")

    def __init__(self, models: Iterable[ModelSpec] = (), strategies: Iterable[Strategy] = ()) -> None:
        by_kind: dict[str, dict[str, ModelSpec]] = {kind: {} for kind in KINDS}
        for spec in models:
            if spec.kind not in KINDS:
                raise ConfigError(f"model kind must be one of {', '.join(KINDS)}, got {spec.kind!r}")
            if spec.name in by_kind[spec.kind]:
                raise ConfigError(f"a {spec.kind} model named {spec.name!r} is already in the zoo")
            by_kind[spec.kind][spec.name] = spec
        named: dict[str, Strategy] = {}
        for strategy in strategies:
            if strategy.name in named:
                raise ConfigError(f"an imbalance strategy named {strategy.name!r} is already in the zoo")
            named[strategy.name] = strategy
        self._models = MappingProxyType({kind: MappingProxyType(specs) for kind, specs in by_kind.items()})
        self._strategies = MappingProxyType(named)

    @property
    def models(self) -> Mapping[str, Mapping[str, ModelSpec]]:
        """Kind -> name -> :class:`ModelSpec` (read-only)."""
        return self._models

    @property
    def strategies(self) -> Mapping[str, Strategy]:
        """Name -> :class:`Strategy` (read-only)."""
        return self._strategies

    def _specs(self) -> list[ModelSpec]:
        return [spec for kind in KINDS for spec in self._models[kind].values()]

    def with_model(self, spec: ModelSpec, *, replace: bool = False) -> ModelZoo:
        """A new zoo with ``spec`` added (``replace=True``: in place of its namesake, same position)."""
        kind = self._models.get(spec.kind, {})
        if spec.name in kind and not replace:
            raise ConfigError(f"a {spec.kind} model named {spec.name!r} is already in the zoo")
        specs = [spec if (s.kind, s.name) == (spec.kind, spec.name) else s for s in self._specs()]
        if spec.name not in kind:
            specs.append(spec)
        return ModelZoo(specs, self._strategies.values())

    def with_strategy(self, strategy: Strategy, *, replace: bool = False) -> ModelZoo:
        """A new zoo with ``strategy`` added (``replace=True``: in place of its namesake)."""
        if strategy.name in self._strategies and not replace:
            raise ConfigError(f"an imbalance strategy named {strategy.name!r} is already in the zoo")
        strategies = {**self._strategies, strategy.name: strategy}
        return ModelZoo(self._specs(), strategies.values())

    def get_model(self, kind: str, name: str) -> ModelSpec:
        """The entry ``name`` of ``kind``.

        Raises
        ------
        ConfigError
            Unknown kind or name (the message lists the known names), or an optional
            extra that is not installed (the message gives the install command).
        """
        if kind not in KINDS:
            raise ConfigError(f"model kind must be one of {', '.join(KINDS)}, got {kind!r}")
        try:
            spec = self._models[kind][name]
        except KeyError:
            raise ConfigError(
                f"unknown {kind} model {name!r}; known: {', '.join(self._models[kind])}"
            ) from None
        if not spec.is_available():
            raise ConfigError(f"model {name!r} needs the optional package {spec.requires!r}: {spec.install}")
        return spec

    def available_models(self, kind: str) -> list[str]:
        """Names of the models of ``kind`` whose packages are installed."""
        return [name for name, spec in self._models[kind].items() if spec.is_available()]

    def missing_models(self, kind: str) -> dict[str, str]:
        """Models of ``kind`` that need a package that is missing: name -> install command."""
        return {name: spec.install or "" for name, spec in self._models[kind].items()
                if not spec.is_available()}

    def get_strategy(self, name: str) -> Strategy:
        """The imbalance strategy ``name`` (ConfigError listing the known ones otherwise)."""
        try:
            return self._strategies[name]
        except KeyError:
            raise ConfigError(
                f"unknown imbalance strategy {name!r}; known: {', '.join(self._strategies)}"
            ) from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelZoo):
            return NotImplemented
        return self._specs() == other._specs() and list(self._strategies.values()) == list(
            other._strategies.values())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        names = {kind: list(specs) for kind, specs in self._models.items()}
        return f"ModelZoo(models={names}, strategies={list(self._strategies)})"


def _zoo(zoo: ModelZoo | None) -> ModelZoo:
    return DEFAULT_ZOO if zoo is None else zoo


def get_model(kind: str, name: str, *, zoo: ModelZoo | None = None) -> ModelSpec:
    """The entry ``name`` of ``kind`` in ``zoo`` (default :data:`DEFAULT_ZOO`); see
    :meth:`ModelZoo.get_model`."""
    return _zoo(zoo).get_model(kind, name)


def available_models(kind: str, *, zoo: ModelZoo | None = None) -> list[str]:
    """Names of the models of ``kind`` in ``zoo`` (default :data:`DEFAULT_ZOO`) whose packages are
    installed."""
    return _zoo(zoo).available_models(kind)


def missing_models(kind: str, *, zoo: ModelZoo | None = None) -> dict[str, str]:
    """Models of ``kind`` in ``zoo`` (default :data:`DEFAULT_ZOO`) that need a missing package:
    name -> install command."""
    return _zoo(zoo).missing_models(kind)


def model_description(kind: str, name: str, *, zoo: ModelZoo | None = None) -> str | None:
    """The one-line description of zoo entry ``name`` (for reports), or None when the zoo has none.

    >>> model_description("regression", "blend")
    'the average of LightGBM and CatBoost'
    """
    spec = _zoo(zoo).models.get(kind, {}).get(name)
    return spec.description or None if spec is not None else None


def make_preprocessor(features: FeatureSet, *, scale: bool) -> ColumnTransformer:
    """Median-impute (and optionally standardise) numeric columns; one-hot encode categorical ones."""
    numeric_steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True))
    ]
    if scale:
        numeric_steps.append(("scale", StandardScaler()))
    parts: list[tuple[str, Any, list[str]]] = []
    if features.numeric:
        parts.append(("num", Pipeline(numeric_steps), list(features.numeric)))
    if features.categorical:
        parts.append(
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(features.categorical))
        )
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=True)


def build_pipeline(
    spec: ModelSpec,
    features: FeatureSet,
    *,
    params: dict[str, Any] | None = None,
    strategy: str = "none",
    seed: int = 42,
    n_jobs: int = -1,
    zoo: ModelZoo | None = None,
) -> Pipeline:
    """``prep -> [sample] -> model``: an unfitted Pipeline (imbalanced-learn's when a sampler is in
    it, so the sampler only runs at fit time; scikit-learn's otherwise: importing imbalanced-learn
    costs each process half a second, it imports scikit-learn's test helpers and pytest).

    Parameters
    ----------
    spec
        The zoo entry.
    features
        The columns the pipeline receives (a :func:`hitlab.features.feature_frame`).
    params
        Estimator parameters on top of ``spec.defaults``.
    strategy
        Imbalance strategy name (classification only; ``"none"`` for regression).
    seed, n_jobs
        Random seed and threads of the estimator and sampler.
    zoo
        Where ``strategy`` is looked up (default :data:`DEFAULT_ZOO`).

    Raises
    ------
    ConfigError
        Unknown strategy, a strategy used for regression, or class weights for an estimator
        that takes neither ``class_weight`` nor ``sample_weight``.
    """
    plan = get_strategy(strategy, zoo=zoo)
    if spec.kind == "regression" and strategy != "none":
        raise ConfigError(f"imbalance strategy {strategy!r} applies to classification only")
    estimator = spec.make(seed, n_jobs)
    estimator.set_params(**{**spec.defaults, **(params or {})})
    if plan.balanced_weights:
        if "class_weight" in estimator.get_params():
            estimator.set_params(class_weight="balanced")
        elif not _takes_sample_weight(estimator):
            raise ConfigError(
                f"strategy {strategy!r} needs class or sample weights, "
                f"which model {spec.name!r} does not take"
            )
    steps: list[tuple[str, Any]] = []
    if plan.sampler is not None and plan.before_encoding:
        steps += [("fill", _fill_numeric(features)), ("sample", plan.sampler(seed, features))]
    steps.append(("prep", make_preprocessor(features, scale=spec.scale)))
    if plan.sampler is not None and not plan.before_encoding:
        steps.append(("sample", plan.sampler(seed, features)))
    steps.append(("model", estimator))
    if plan.sampler is None:
        return Pipeline(steps)
    from imblearn.pipeline import Pipeline as SamplingPipeline

    return SamplingPipeline(steps)


def _takes_sample_weight(estimator: Any) -> bool:
    """Whether ``fit`` takes ``sample_weight``: a parameter of its own, or, for an average of
    members (scikit-learn's voting ensembles, whose ``fit(X, y, **fit_params)`` passes
    ``sample_weight`` on to every member), every member's."""
    members = getattr(estimator, "estimators", None)
    if isinstance(members, list) and members and not has_fit_parameter(estimator, "sample_weight"):
        return all(_takes_sample_weight(member) for _, member in members)
    return has_fit_parameter(estimator, "sample_weight")


def _fill_numeric(features: FeatureSet) -> ColumnTransformer:
    """Median-impute numeric columns, pass categorical ones through; a DataFrame out, columns kept."""
    parts: list[tuple[str, Any, list[str]]] = []
    if features.numeric:
        impute = SimpleImputer(strategy="median", keep_empty_features=True)
        parts.append(("num", impute, list(features.numeric)))
    if features.categorical:
        parts.append(("cat", "passthrough", list(features.categorical)))
    fill = ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)
    return fill.set_output(transform="pandas")


def sampler_note(pipeline: Pipeline) -> str | None:
    """What the pipeline's sampler reported while fitting (e.g. skipped for a tiny class), or None."""
    sampler = pipeline.named_steps.get("sample")
    return getattr(sampler, "note_", None)


def get_strategy(name: str, *, zoo: ModelZoo | None = None) -> Strategy:
    """The imbalance strategy ``name`` in ``zoo`` (default :data:`DEFAULT_ZOO`; ConfigError listing
    the known ones otherwise)."""
    return _zoo(zoo).get_strategy(name)


def fit_params(pipeline: Pipeline, strategy: str, y: np.ndarray, *, zoo: ModelZoo | None = None,
               groups: np.ndarray | None = None) -> dict[str, Any]:
    """Extra ``fit`` arguments: balanced ``sample_weight`` when the strategy weights classes
    and the model has no ``class_weight`` parameter; the rows' split ``groups`` when the model's
    ``fit`` takes them (a stack makes grouped folds of its own); else nothing."""
    plan = get_strategy(strategy, zoo=zoo)
    model = pipeline.named_steps["model"]
    extra: dict[str, Any] = {}
    if plan.balanced_weights and "class_weight" not in model.get_params():
        extra["model__sample_weight"] = compute_sample_weight("balanced", y)
    if groups is not None and has_fit_parameter(model, "groups"):
        extra["model__groups"] = np.asarray(groups)
    return extra


# --------------------------------------------------------------------------- strategies


class SmallClassSMOTE(BaseEstimator):
    """SMOTE that never invents a category and adapts to small classes.

    On the feature frame (before one-hot encoding): SMOTENC when there are categorical
    columns (a synthetic row takes the most frequent category of its neighbours, never a
    fraction of a dummy column), plain SMOTE otherwise. ``k_neighbors`` is cut to the
    smallest class size minus one; when a class has fewer than two rows there is no
    neighbour to interpolate with, so the rows pass through unchanged and ``note_`` says why.
    """

    def __init__(
        self, categorical: tuple[str, ...] = (), k_neighbors: int = 5, random_state: int | None = None
    ) -> None:
        self.categorical = categorical
        self.k_neighbors = k_neighbors
        self.random_state = random_state

    def fit_resample(self, X: Any, y: Any) -> tuple[Any, Any]:
        import pandas as pd
        from imblearn.over_sampling import SMOTE, SMOTENC

        counts = pd.Series(np.asarray(y)).value_counts()
        smallest = int(counts.min()) if len(counts) else 0
        self.note_: str | None = None
        if len(counts) < 2 or smallest < 2:
            self.note_ = (f"SMOTE skipped in a training fold: class {counts.idxmin()} has {smallest} "
                          "row(s), SMOTE needs at least 2")
            return X, y
        k = min(self.k_neighbors, smallest - 1)
        if k < self.k_neighbors:
            self.note_ = (f"SMOTE used {k} neighbour(s) instead of {self.k_neighbors}: a class has "
                          f"{smallest} rows")
        categorical = [c for c in self.categorical if c in getattr(X, "columns", ())]
        if categorical:
            sampler: Any = SMOTENC(categorical_features=categorical, k_neighbors=k,
                                   random_state=self.random_state)
        else:
            sampler = SMOTE(k_neighbors=k, random_state=self.random_state)
        X_out, y_out = sampler.fit_resample(X, y)
        if hasattr(X, "dtypes") and hasattr(X_out, "astype"):
            X_out = X_out.astype(X.dtypes.to_dict())
        return X_out, y_out


def _undersampler(seed: int, features: FeatureSet) -> Any:
    from imblearn.under_sampling import RandomUnderSampler

    return RandomUnderSampler(random_state=seed)


def _smote(seed: int, features: FeatureSet) -> Any:
    return SmallClassSMOTE(tuple(features.categorical), random_state=seed)


_STRATEGIES = (
    Strategy("none", "no rebalancing"),
    Strategy("undersample", "random undersampling to the smallest class (training folds only)",
             sampler=_undersampler),
    Strategy("smote", "SMOTE oversampling of minority classes, whole categories (SMOTENC; "
             "training folds only)", sampler=_smote, before_encoding=True),
    Strategy("class_weight", "balanced class weights", balanced_weights=True),
)


# --------------------------------------------------------------------------- regressors


#: Boosting rounds the LightGBM search may pick, by task kind. The cap is a prediction-cost
#: budget: every tree costs about 20-50 ns per scored track on one core, so the saved models
#: stay fast enough for ``hitlab predict`` to score 1M tracks a minute (``benchmarks/predict.py``;
#: a classifier grows one tree per class and round).
LGBM_ROUNDS: dict[str, tuple[int, int]] = {"regression": (100, 400), "classification": (40, 100)}


def _lgbm_space(trial: Any, objectives: tuple[str, ...] | None) -> dict[str, Any]:
    low, high = LGBM_ROUNDS["regression" if objectives else "classification"]
    params = {
        "n_estimators": trial.suggest_int("n_estimators", low, high, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.03, 0.25, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 8, 64, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 200, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 30.0, log=True),
    }
    if objectives:
        params["objective"] = trial.suggest_categorical("objective", list(objectives))
    return params


def _forest_space(trial: Any) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 250, step=10),
        "max_depth": trial.suggest_int("max_depth", 6, 24),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 30, log=True),
        "max_features": trial.suggest_float("max_features", 0.2, 1.0),
        "max_samples": trial.suggest_float("max_samples", 0.3, 1.0),
    }


def _tree_space(trial: Any) -> dict[str, Any]:
    return {
        "max_depth": trial.suggest_int("max_depth", 2, 20),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 300, log=True),
    }


def _knn_space(trial: Any) -> dict[str, Any]:
    return {
        "n_neighbors": trial.suggest_int("n_neighbors", 5, 150, log=True),
        "weights": trial.suggest_categorical("weights", ["uniform", "distance"]),
    }


def _mlp_space(trial: Any) -> dict[str, Any]:
    width = trial.suggest_categorical("width", [32, 64, 128])
    depth = trial.suggest_int("depth", 1, 2)
    return {
        "hidden_layer_sizes": (width,) * depth,
        "alpha": trial.suggest_float("alpha", 1e-5, 1e-1, log=True),
        "learning_rate_init": trial.suggest_float("learning_rate_init", 1e-4, 1e-2, log=True),
    }


def _mlp_values(defaults: dict[str, Any]) -> dict[str, Any]:
    """The MLP's width and depth from ``hidden_layer_sizes`` (equal widths, as the space makes them)."""
    layers = tuple(defaults.get("hidden_layer_sizes", ()))
    values = {k: v for k, v in defaults.items() if k != "hidden_layer_sizes"}
    if layers and len(set(layers)) == 1:
        values.update(width=layers[0], depth=len(layers))
    return values


def _hgb_space(trial: Any) -> dict[str, Any]:
    return {
        "max_iter": trial.suggest_int("max_iter", 100, 500, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 8, 128, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 200, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-4, 10.0, log=True),
    }


def _xgb_space(trial: Any) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 200, 1200, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.15, log=True),
        "max_depth": trial.suggest_int("max_depth", 3, 10),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 50.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
    }


#: CatBoost's starting parameters per task kind (chosen by ``benchmarks/ensembles.py``: see its
#: note in docs/modeling.md). 64 borders as LightGBM's 63 bins; files written by CatBoost while
#: fitting (``catboost_info/``) are switched off.
CATBOOST_DEFAULTS: dict[str, dict[str, Any]] = {
    "regression": {"loss_function": "MAE", "iterations": 600, "learning_rate": 0.05, "depth": 6,
                   "l2_leaf_reg": 3.0, "border_count": 64},
    "classification": {"loss_function": "MultiClass", "iterations": 500, "learning_rate": 0.12,
                       "depth": 6, "l2_leaf_reg": 3.0, "border_count": 64},
}
#: The members of the ``blend`` entries (zoo names) and their weights in the average.
BLEND_MEMBERS: tuple[str, ...] = ("lightgbm", "catboost")
BLEND_WEIGHTS: tuple[float, ...] = (0.5, 0.5)


def _catboost(kind: str) -> Callable[[int, int], BaseEstimator]:
    def make(seed: int, n_jobs: int) -> BaseEstimator:
        from catboost import CatBoostClassifier, CatBoostRegressor

        estimator = CatBoostRegressor if kind == "regression" else CatBoostClassifier
        return estimator(random_seed=seed, thread_count=n_jobs if n_jobs > 0 else -1, verbose=0,
                         allow_writing_files=False)

    return make


def _catboost_space(trial: Any) -> dict[str, Any]:
    return {
        "iterations": trial.suggest_int("iterations", 200, 1200, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "depth": trial.suggest_int("depth", 4, 8),
        "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 0.5, 30.0, log=True),
    }


def _blend(kind: str, specs: list[ModelSpec]) -> ModelSpec:
    """The weighted average of :data:`BLEND_MEMBERS` (each with its own zoo defaults): scikit-learn's
    ``VotingRegressor`` / soft ``VotingClassifier``. Member parameters are set as
    ``<member>__<parameter>`` (``lightgbm__n_estimators``)."""
    members = {spec.name: spec for spec in specs if spec.name in BLEND_MEMBERS}

    def make(seed: int, n_jobs: int) -> BaseEstimator:
        from sklearn.ensemble import VotingClassifier, VotingRegressor

        estimators = []
        for name in BLEND_MEMBERS:
            member = members[name].make(seed, n_jobs)
            member.set_params(**members[name].defaults)
            estimators.append((name, member))
        if kind == "regression":
            return VotingRegressor(estimators)
        return VotingClassifier(estimators, voting="soft")

    return ModelSpec("blend", kind, make, defaults={"weights": list(BLEND_WEIGHTS)},
                     max_trials=1,
                     description="the average of " + " and ".join(
                         members[name].description.split(" ")[0] for name in BLEND_MEMBERS))


#: The ``stack`` entry (regression): LightGBM (its zoo defaults) and extra trees, their
#: out-of-fold predictions on 2 grouped folds beside the features, under CatBoost (MAE, 1000
#: rounds at 0.03). Chosen by nested song-grouped CV on the seed-42 training part
#: (`benchmarks/stacking.py --nested --inner 2 --level2 catboost_1000_0.03 lgbm,et_50_10`):
#: CV MAE 17.485 against 17.548 for ``blend`` (docs/modeling.md, "Stacking").
STACK_TREES: dict[str, Any] = {"n_estimators": 50, "min_samples_leaf": 10, "max_features": 0.6}
STACK_FINAL: dict[str, Any] = {"loss_function": "MAE", "iterations": 1000, "learning_rate": 0.03, "depth": 6,
                               "l2_leaf_reg": 3.0, "border_count": 64}


def _stack(specs: list[ModelSpec]) -> ModelSpec:
    lightgbm = next(spec for spec in specs if spec.name == "lightgbm")

    def make(seed: int, n_jobs: int) -> BaseEstimator:
        from sklearn.ensemble import ExtraTreesRegressor

        from hitlab.modeling.stack import GroupedStackRegressor

        first = lightgbm.make(seed, n_jobs).set_params(**lightgbm.defaults)
        trees = ExtraTreesRegressor(random_state=seed, n_jobs=n_jobs, **STACK_TREES)
        final = _catboost("regression")(seed, n_jobs).set_params(**STACK_FINAL)
        return GroupedStackRegressor([("lightgbm", first), ("extra_trees", trees)], final, random_state=seed)

    return ModelSpec("stack", "regression", make, defaults={"n_folds": 2}, max_trials=1,
                     description="CatBoost on the features plus LightGBM's and extra trees' grouped "
                                 "out-of-fold predictions")


def _regressors() -> list[ModelSpec]:
    from lightgbm import LGBMRegressor
    from sklearn.dummy import DummyRegressor
    from sklearn.ensemble import AdaBoostRegressor, HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import Lasso, LinearRegression, Ridge
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.neural_network import MLPRegressor
    from sklearn.tree import DecisionTreeRegressor

    def xgb(seed: int, n_jobs: int) -> BaseEstimator:
        from xgboost import XGBRegressor

        return XGBRegressor(random_state=seed, n_jobs=n_jobs, tree_method="hist", verbosity=0)

    specs = [
        ModelSpec("median", "regression", lambda s, j: DummyRegressor(strategy="median"),
                  description="the trivial baseline: the training median"),
        ModelSpec("linear", "regression", lambda s, j: LinearRegression(), scale=True,
                  description="ordinary least squares"),
        ModelSpec("ridge", "regression", lambda s, j: Ridge(), scale=True, max_trials=8,
                  defaults={"alpha": 1.0},
                  space=lambda t: {"alpha": t.suggest_float("alpha", 1e-3, 1e3, log=True)},
                  description="L2-penalised linear regression"),
        ModelSpec("lasso", "regression", lambda s, j: Lasso(max_iter=2000, tol=1e-3), scale=True,
                  max_trials=8, defaults={"alpha": 0.01},
                  space=lambda t: {"alpha": t.suggest_float("alpha", 1e-3, 1.0, log=True)},
                  description="L1-penalised linear regression"),
        ModelSpec("decision_tree", "regression", lambda s, j: DecisionTreeRegressor(random_state=s),
                  space=_tree_space, defaults={"max_depth": 8, "min_samples_leaf": 20}, max_trials=15,
                  description="one regression tree"),
        ModelSpec("random_forest", "regression",
                  lambda s, j: RandomForestRegressor(random_state=s, n_jobs=j),
                  space=_forest_space, max_trials=6,
                  defaults={"n_estimators": 80, "max_depth": 14, "min_samples_leaf": 3, "max_features": 0.5,
                            "max_samples": 0.5},
                  description="random forest"),
        ModelSpec("gradient_boosting", "regression",
                  lambda s, j: HistGradientBoostingRegressor(random_state=s, early_stopping=False),
                  space=_hgb_space, max_trials=10,
                  defaults={"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 31,
                            "min_samples_leaf": 20, "l2_regularization": 1e-4},
                  description="scikit-learn histogram gradient boosting"),
        ModelSpec("adaboost", "regression",
                  lambda s, j: AdaBoostRegressor(DecisionTreeRegressor(max_depth=4), random_state=s),
                  max_trials=4, defaults={"n_estimators": 20, "learning_rate": 0.1, "loss": "linear"},
                  space=lambda t: {
                      "n_estimators": t.suggest_int("n_estimators", 20, 100, log=True),
                      "learning_rate": t.suggest_float("learning_rate", 0.01, 1.0, log=True),
                      "loss": t.suggest_categorical("loss", ["linear", "square"]),
                  },
                  description="AdaBoost over depth-4 trees"),
        ModelSpec("knn", "regression", lambda s, j: KNeighborsRegressor(n_jobs=j), scale=True,
                  space=_knn_space, defaults={"n_neighbors": 50, "weights": "uniform"}, max_trials=6,
                  description="k nearest neighbours"),
        ModelSpec("mlp", "regression",
                  lambda s, j: MLPRegressor(random_state=s, early_stopping=True, max_iter=80, batch_size=256),
                  scale=True, space=_mlp_space, space_values=_mlp_values, max_trials=4,
                  defaults={"hidden_layer_sizes": (32,), "alpha": 1e-3, "learning_rate_init": 3e-3},
                  description="multi-layer perceptron"),
        ModelSpec("lightgbm", "regression",
                  lambda s, j: LGBMRegressor(random_state=s, n_jobs=j, verbose=-1, subsample_freq=1),
                  space=lambda t: _lgbm_space(t, ("l1", "huber", "l2")), max_trials=60,
                  # Chosen by `python benchmarks/defaults.py --task popularity --tune 40` (2026-11-28):
                  # CV MAE 17.59 on 3 song-grouped folds of the seed-42 training part, against 17.64
                  # for the earlier defaults (300 rounds, rate 0.06, 31 leaves, 20 per leaf); the top
                  # trials agree on a slower rate, more leaves, small leaves and most columns. 63 histogram
                  # bins instead of 255: the same CV MAE (17.595 against 17.593), fits 10-20% faster.
                  # 2026-11-27: 200 rounds at rate 0.06 instead of 330 at 0.036 (CV MAE 17.62 against
                  # 17.60, about the fold noise): scoring cost follows the trees, and 330 trees put
                  # `hitlab predict` under its 1M tracks a minute per core (benchmarks/predict.py).
                  defaults={"objective": "l1", "n_estimators": 200, "learning_rate": 0.06, "num_leaves": 45,
                            "min_child_samples": 6, "subsample": 0.85, "colsample_bytree": 0.92,
                            "reg_lambda": 0.06, "max_bin": 63},
                  description="LightGBM gradient-boosted trees"),
        ModelSpec("xgboost", "regression", xgb, space=_xgb_space, max_trials=20,
                  defaults={"objective": "reg:absoluteerror", "n_estimators": 500, "learning_rate": 0.05,
                            "max_depth": 6, "min_child_weight": 1.0, "subsample": 0.8,
                            "colsample_bytree": 0.8},
                  requires="xgboost", extra="xgboost", description="XGBoost (optional extra)"),
        ModelSpec("catboost", "regression", _catboost("regression"), space=_catboost_space, max_trials=10,
                  defaults=CATBOOST_DEFAULTS["regression"], description="CatBoost gradient-boosted trees"),
    ]
    specs.append(_blend("regression", specs))
    specs.append(_stack(specs))
    return specs


def _classifiers() -> list[ModelSpec]:
    from lightgbm import LGBMClassifier
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier

    def xgb(seed: int, n_jobs: int) -> BaseEstimator:
        from xgboost import XGBClassifier

        return XGBClassifier(random_state=seed, n_jobs=n_jobs, tree_method="hist", verbosity=0)

    specs = [
        ModelSpec("majority", "classification", lambda s, j: DummyClassifier(strategy="most_frequent"),
                  description="the trivial baseline: always the most frequent class"),
        ModelSpec("logistic", "classification", lambda s, j: LogisticRegression(max_iter=2000), scale=True,
                  defaults={"C": 1.0}, space=lambda t: {"C": t.suggest_float("C", 1e-3, 1e2, log=True)},
                  max_trials=8,
                  description="multinomial logistic regression"),
        ModelSpec("random_forest", "classification",
                  lambda s, j: RandomForestClassifier(random_state=s, n_jobs=j),
                  space=_forest_space, max_trials=6,
                  defaults={"n_estimators": 200, "max_depth": 20, "min_samples_leaf": 2, "max_features": 0.5,
                            "max_samples": 1.0},
                  description="random forest"),
        ModelSpec("gradient_boosting", "classification",
                  lambda s, j: HistGradientBoostingClassifier(random_state=s, early_stopping=False),
                  space=_hgb_space, max_trials=10,
                  defaults={"max_iter": 200, "learning_rate": 0.1, "max_leaf_nodes": 31,
                            "min_samples_leaf": 20, "l2_regularization": 1e-4},
                  description="scikit-learn histogram gradient boosting"),
        ModelSpec("knn", "classification", lambda s, j: KNeighborsClassifier(n_jobs=j), scale=True,
                  space=_knn_space, defaults={"n_neighbors": 30, "weights": "distance"}, max_trials=6,
                  description="k nearest neighbours"),
        ModelSpec("mlp", "classification",
                  lambda s, j: MLPClassifier(random_state=s, early_stopping=True, max_iter=300),
                  scale=True, space=_mlp_space, space_values=_mlp_values, max_trials=4,
                  defaults={"hidden_layer_sizes": (64,), "alpha": 1e-3, "learning_rate_init": 1e-3},
                  description="multi-layer perceptron"),
        ModelSpec("lightgbm", "classification",
                  lambda s, j: LGBMClassifier(random_state=s, n_jobs=j, verbose=-1, subsample_freq=1),
                  space=lambda t: _lgbm_space(t, None), max_trials=40,
                  defaults={"n_estimators": 100, "learning_rate": 0.1, "num_leaves": 31,
                            "min_child_samples": 20, "subsample": 0.8, "colsample_bytree": 0.8,
                            "reg_lambda": 1.0},
                  description="LightGBM gradient-boosted trees"),
        ModelSpec("xgboost", "classification", xgb, space=_xgb_space, max_trials=20,
                  defaults={"n_estimators": 400, "learning_rate": 0.05, "max_depth": 6,
                            "min_child_weight": 1.0, "subsample": 0.8, "colsample_bytree": 0.8},
                  requires="xgboost", extra="xgboost", description="XGBoost (optional extra)"),
        ModelSpec("catboost", "classification", _catboost("classification"), space=_catboost_space,
                  max_trials=10, defaults=CATBOOST_DEFAULTS["classification"],
                  description="CatBoost gradient-boosted trees"),
    ]
    specs.append(_blend("classification", specs))
    return specs


#: hitlab's own zoo: every regressor and classifier above and the four imbalance strategies.
DEFAULT_ZOO = ModelZoo([*_regressors(), *_classifiers()], _STRATEGIES)
#: Imbalance strategies of :data:`DEFAULT_ZOO` by name (read-only).
STRATEGIES: Mapping[str, Strategy] = DEFAULT_ZOO.strategies
