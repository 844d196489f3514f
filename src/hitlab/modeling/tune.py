"""Seeded hyper-parameter tuning with Optuna on grouped inner folds, bounded by a trial count.

Why Optuna rather than scikit-learn's successive-halving search: its TPE sampler spends a
small number of trials better than random candidates; it prunes a bad trial after its
first fold; spaces can be conditional (MLP width x depth); and the spec's default
parameters are enqueued as the first trial (every one of them: :func:`first_trial`), so
tuning never ends worse, by the cross-validated score, than the defaults. Halving search
would need a fixed candidate list and a resource (rows or trees) that does not suit every
zoo member.

Repeatable by default: a study runs ``max_trials`` trials (the zoo entry's own count when
not given). The sampler is seeded, so the same seed and data give the same trials on any
machine, busy or idle. ``budget`` (seconds) is only a safety cap: when the clock stops a
study before its trial count, :attr:`TuneResult.clock_capped` says so and the callers
report it (leaderboard column ``clock_capped``, a note in the summary).

The tuner only ever receives the training part: ``X``/``y`` are the training rows and
``folds`` index into them. ``TuneResult.seen`` lists the index labels of every row a
trial fitted or scored on, so tests can check that no test row was touched.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from hitlab.errors import ConfigError
from hitlab.features import FeatureSet
from hitlab.modeling import scoring
from hitlab.modeling.evaluate import get_metric, score
from hitlab.modeling.zoo import DEFAULT_ZOO, ModelSpec, ModelZoo, build_pipeline, fit_params, sampler_note

__all__ = ["QUIET_MESSAGES", "QUIET_WARNINGS", "TuneResult", "first_trial", "predict_scores", "quiet",
           "quiet_fit", "tune"]

#: Warnings :func:`quiet_fit` ignores by default: a linear model or MLP stopping at its iteration
#: cap says nothing the caller can act on (its cross-validated and test scores say how well it did).
QUIET_WARNINGS: tuple[type[Warning], ...] = (ConvergenceWarning,)
#: Warning messages (regular expressions) :func:`quiet_fit` ignores whatever their category: an
#: MLP whose training rows are fewer than one batch trains on all of them in one batch, which is
#: what a smaller batch would mean anyway (scikit-learn says so with a ``UserWarning``, once per fit).
QUIET_MESSAGES: tuple[str, ...] = ("Got `batch_size` less than 1 or larger than sample size",)


@dataclass
class TuneResult:
    """The outcome of tuning one model (and imbalance strategy)."""

    params: dict[str, Any]
    score: float
    metric: str
    n_trials: int
    seconds: float
    history: pd.DataFrame
    planned_trials: int = 1
    clock_capped: bool = False
    notes: list[str] = field(default_factory=list)
    seen: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, dtype=object))


def quiet_fit(pipeline: Any, X: pd.DataFrame, y: np.ndarray, *,
              ignore: Sequence[type[Warning]] = QUIET_WARNINGS, **fit_kwargs: Any) -> Any:
    """``pipeline.fit(X, y, **fit_kwargs)`` with the ``ignore`` warning categories silenced;
    returns the fitted pipeline. The one place hitlab fits a model quietly."""
    with quiet(ignore):
        return pipeline.fit(X, y, **fit_kwargs)


@contextmanager
def quiet(ignore: Sequence[type[Warning]] = QUIET_WARNINGS) -> Iterator[None]:
    """The warning filters of :func:`quiet_fit` while the block runs (they are process-wide, so
    worker threads started inside the block share them)."""
    with warnings.catch_warnings():
        for category in ignore:
            warnings.simplefilter("ignore", category)
        for message in QUIET_MESSAGES:
            warnings.filterwarnings("ignore", message=message)
        yield


def predict_scores(pipeline: Any, X: pd.DataFrame, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions and (for classifiers) class probabilities, columns in class-code order.

    Scored the way ``hitlab predict`` scores (:mod:`hitlab.modeling.scoring`), so the test
    metrics and the measured prediction speed are those of the saved model's path.
    """
    if kind == "regression":
        return np.asarray(scoring.predict(pipeline, X), dtype=float), None
    proba = np.asarray(scoring.predict_proba(pipeline, X), dtype=float)
    classes = np.asarray(pipeline.classes_, dtype=np.int64)
    n_classes = int(classes.max()) + 1 if classes.size else 0
    full = np.zeros((len(X), n_classes))
    full[:, classes] = proba
    return classes[np.argmax(proba, axis=1)], full


def _trial_params(spec: ModelSpec, trial: optuna.Trial) -> dict[str, Any]:
    params = spec.space(trial) if spec.space is not None else {}
    for name in ("width", "depth"):  # helper dimensions of conditional spaces
        params.pop(name, None)
    return params


def first_trial(spec: ModelSpec) -> dict[str, Any]:
    """The sampled values of trial 0: every dimension of the space set from ``spec.defaults``.

    Raises
    ------
    ConfigError
        When the defaults leave a dimension of the space unset, or a default lies outside
        its range or choices (trial 0 would then not be the defaults).
    """
    if spec.space is None:
        return {}
    values = spec.space_values(spec.defaults) if spec.space_values else dict(spec.defaults)
    dims = _space_dims(spec)
    missing = sorted(set(dims) - set(values))
    if missing:
        raise ConfigError(f"model {spec.name!r}: defaults give no value for {', '.join(missing)} of its "
                          "search space (trial 0 must be the defaults)")
    first = {name: values[name] for name in dims}
    for name, dist in dims.items():
        if not dist._contains(dist.to_internal_repr(first[name])):
            raise ConfigError(f"model {spec.name!r}: default {name}={first[name]!r} lies outside its search "
                              f"space {dist}")
    return first


def tune(
    spec: ModelSpec,
    features: FeatureSet,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    metric: str,
    strategy: str = "none",
    budget: float | None = None,
    max_trials: int | None = None,
    seed: int = 42,
    n_jobs: int = -1,
    n_classes: int | None = None,
    zoo: ModelZoo = DEFAULT_ZOO,
    fold_jobs: int = 2,
    groups: np.ndarray | None = None,
) -> TuneResult:
    """Tune ``spec`` on the given folds of the training rows: ``max_trials`` trials, the defaults first.

    Parameters
    ----------
    spec, features
        The zoo entry and the columns of ``X``.
    X, y
        The training rows only (a feature frame and its target; class codes for classifiers).
    folds
        (fit positions, validation positions) pairs into ``X``, e.g. from
        :func:`hitlab.modeling.split.inner_folds`.
    metric
        Metric name minimised or maximised (mean over folds).
    strategy
        Imbalance strategy (classification).
    budget
        Safety cap in wall-clock seconds (checked between trials; ``None``: no cap). The
        first trial (the defaults) always runs.
    max_trials
        Trials to run (default: ``spec.max_trials``; 1 when nothing is tunable).
    seed, n_jobs
        Seed of the sampler and estimators; estimator threads.
    zoo
        Where ``strategy`` is looked up.
    fold_jobs
        Folds of a trial fitted at the same time, in threads (LightGBM, NumPy and most
        scikit-learn fitting release the GIL, so two folds use both cores without a second
        process). The scores are the same as one fold at a time: every fold is fitted as it
        would be alone, and pruning sees the fold scores in fold order.
    groups
        One split-group label per row of ``X``, handed to models whose ``fit`` takes ``groups``
        (for their own grouped folds).

    Returns
    -------
    TuneResult
        Best parameters (spec defaults merged), their mean CV score, trials run and planned,
        whether the clock cut the study short, and time.
    """
    m = get_metric(metric)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    planned = 1 if spec.space is None else (max_trials or spec.max_trials)
    seen: set[Any] = set()
    notes: list[str] = []
    index = X.index

    def fit_fold(params: dict[str, Any], fit_rows: np.ndarray, valid_rows: np.ndarray) -> tuple[float, Any]:
        """Fit one fold and score its validation rows (runs in a worker thread)."""
        pipeline = build_pipeline(spec, features, params=params, strategy=strategy, seed=seed, n_jobs=n_jobs,
                                  zoo=zoo)
        X_fit, y_fit = X.iloc[fit_rows], y[fit_rows]
        fit_groups = None if groups is None else np.asarray(groups)[fit_rows]
        pipeline.fit(X_fit, y_fit, **fit_params(pipeline, strategy, y_fit, zoo=zoo, groups=fit_groups))
        pred, proba = predict_scores(pipeline, X.iloc[valid_rows], spec.kind)
        if proba is not None and n_classes is not None and proba.shape[1] < n_classes:
            proba = np.pad(proba, ((0, 0), (0, n_classes - proba.shape[1])))
        return score(m, y[valid_rows], pred, proba, n_classes), sampler_note(pipeline)

    def objective(trial: optuna.Trial) -> float:
        params = _trial_params(spec, trial)
        values = []
        for fit_rows, valid_rows in folds:
            seen.update(index[fit_rows])
            seen.update(index[valid_rows])
        with quiet():  # set once here: the filters are shared by the worker threads
            if pool is None:
                outcomes: Any = (fit_fold(params, f, v) for f, v in folds)  # lazily: pruning saves fits
            else:
                outcomes = pool.map(lambda fold: fit_fold(params, *fold), folds)
            for step, (value, note) in enumerate(outcomes):
                if note and note not in notes:
                    notes.append(note)
                values.append(value)
                trial.report(float(np.mean(values)), step)
                if step < len(folds) - 1 and trial.should_prune():
                    raise optuna.TrialPruned()
        return float(np.mean(values))

    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(8, max(2, planned // 3)))
    pruner = optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0)
    study = optuna.create_study(
        direction="maximize" if m.greater_is_better else "minimize", sampler=sampler, pruner=pruner
    )
    first = first_trial(spec)
    if first:
        study.enqueue_trial(first)
    started = time.perf_counter()
    workers = min(fold_jobs, len(folds))
    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        study.optimize(objective, n_trials=1)  # the defaults, whatever the cap
        if planned > 1:
            remaining = None if budget is None else budget - (time.perf_counter() - started)
            if remaining is None or remaining > 0:
                study.optimize(objective, n_trials=planned - 1, timeout=remaining, gc_after_trial=False)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    seconds = time.perf_counter() - started
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = study.best_trial
    best_params = {**spec.defaults, **_replay(spec, best.params)}
    history = pd.DataFrame(
        [{"trial": t.number, "state": t.state.name, "score": t.value, **t.params} for t in study.trials]
    )
    return TuneResult(
        params=best_params,
        score=float(best.value),
        metric=metric,
        n_trials=len(complete),
        seconds=seconds,
        history=history,
        planned_trials=planned,
        clock_capped=len(study.trials) < planned,
        notes=notes,
        seen=np.asarray(sorted(seen, key=str), dtype=object),
    )


def _space_dims(spec: ModelSpec) -> dict[str, optuna.distributions.BaseDistribution]:
    """The distributions the space samples, by name (found by a dry run of Optuna's own trial)."""
    if spec.space is None:
        return {}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    spec.space(trial)
    return dict(trial.distributions)


def _replay(spec: ModelSpec, sampled: dict[str, Any]) -> dict[str, Any]:
    """Turn the sampled values of a trial back into estimator parameters."""
    if spec.space is None:
        return {}
    return _trial_params(spec, optuna.trial.FixedTrial(sampled))
