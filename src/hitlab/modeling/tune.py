"""Budgeted, seeded hyper-parameter tuning with Optuna on grouped inner folds.

Why Optuna rather than scikit-learn's successive-halving search: the budget here is
*seconds per model*, and Optuna stops a study on a wall-clock ``timeout`` natively; its
TPE sampler spends a small number of trials better than random candidates; it prunes a
bad trial after its first fold; spaces can be conditional (MLP width x depth); and the
spec's default parameters are enqueued as the first trial, so tuning never ends worse
than the defaults. Halving search would need a fixed candidate list and a resource
(rows or trees) that does not suit every zoo member.

Reproducibility: the sampler is seeded, so the same seed and the same number of
trials give the same result. The time budget can cut a study short on a slower machine;
the number of trials actually run is recorded (``TuneResult.n_trials``); pass
``max_trials`` with a generous budget for bit-for-bit repeatable runs.

The tuner only ever receives the training part: ``X``/``y`` are the training rows and
``folds`` index into them. ``TuneResult.seen`` lists the index labels of every row a
trial fitted or scored on, so tests can check that no test row was touched.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from hitlab.features import FeatureSet
from hitlab.modeling import scoring
from hitlab.modeling.evaluate import get_metric, score
from hitlab.modeling.zoo import ModelSpec, build_pipeline, fit_params

__all__ = ["TuneResult", "predict_scores", "tune"]


@dataclass
class TuneResult:
    """The outcome of tuning one model (and imbalance strategy)."""

    params: dict[str, Any]
    score: float
    metric: str
    n_trials: int
    seconds: float
    history: pd.DataFrame
    seen: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, dtype=object))


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


def tune(
    spec: ModelSpec,
    features: FeatureSet,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    metric: str,
    strategy: str = "none",
    budget: float = 20.0,
    max_trials: int | None = None,
    seed: int = 42,
    n_jobs: int = -1,
    n_classes: int | None = None,
) -> TuneResult:
    """Tune ``spec`` on the given folds of the training rows, within ``budget`` seconds.

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
        Wall-clock seconds for the study (checked between trials).
    max_trials
        Upper bound on trials (default: ``spec.max_trials``; 1 when nothing is tunable).
    seed, n_jobs
        Seed of the sampler and estimators; estimator threads.

    Returns
    -------
    TuneResult
        Best parameters (spec defaults merged), their mean CV score, trials run and time.
    """
    m = get_metric(metric)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials_cap = 1 if spec.space is None else (max_trials or spec.max_trials)
    seen: set[Any] = set()
    index = X.index

    def objective(trial: optuna.Trial) -> float:
        params = _trial_params(spec, trial)
        values = []
        for step, (fit_rows, valid_rows) in enumerate(folds):
            pipeline = build_pipeline(spec, features, params=params, strategy=strategy, seed=seed,
                                      n_jobs=n_jobs)
            X_fit, y_fit = X.iloc[fit_rows], y[fit_rows]
            X_valid, y_valid = X.iloc[valid_rows], y[valid_rows]
            seen.update(index[fit_rows])
            seen.update(index[valid_rows])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                pipeline.fit(X_fit, y_fit, **fit_params(pipeline, strategy, y_fit))
            pred, proba = predict_scores(pipeline, X_valid, spec.kind)
            if proba is not None and n_classes is not None and proba.shape[1] < n_classes:
                proba = np.pad(proba, ((0, 0), (0, n_classes - proba.shape[1])))
            values.append(score(m, y_valid, pred, proba, n_classes))
            trial.report(float(np.mean(values)), step)
            if step < len(folds) - 1 and trial.should_prune():
                raise optuna.TrialPruned()
        return float(np.mean(values))

    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(8, max(2, trials_cap // 3)))
    pruner = optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0)
    study = optuna.create_study(
        direction="maximize" if m.greater_is_better else "minimize", sampler=sampler, pruner=pruner
    )
    if spec.space is not None and spec.defaults:
        known = _space_names(spec)
        first = {k: v for k, v in spec.defaults.items() if k in known}
        if first:
            study.enqueue_trial(first, skip_if_exists=True)
    started = time.perf_counter()

    def stop_before_overrun(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        # Optuna's timeout only stops *starting* trials; also stop when the next trial,
        # at the mean duration so far, would end past the budget.
        elapsed = time.perf_counter() - started
        if elapsed + elapsed / len(study.trials) > budget:
            study.stop()

    study.optimize(objective, n_trials=1)  # the defaults, whatever the budget
    first = time.perf_counter() - started
    remaining = budget - first
    if trials_cap > 1 and remaining > first:  # room for at least one more trial of the same length
        study.optimize(objective, n_trials=trials_cap - 1, timeout=remaining, gc_after_trial=False,
                       callbacks=[stop_before_overrun])
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
        seen=np.asarray(sorted(seen, key=str), dtype=object),
    )


def _space_names(spec: ModelSpec) -> set[str]:
    """Names of the distributions the space samples (found by a dry run on a fixed trial)."""
    if spec.space is None:
        return set()
    trial = optuna.trial.FixedTrial({}, number=0)
    names: set[str] = set()

    class _Recorder:
        def __getattr__(self, attr: str) -> Any:
            method = getattr(trial, attr)
            if not attr.startswith("suggest_"):
                return method

            def suggest(name: str, *args: Any, **kwargs: Any) -> Any:
                names.add(name)
                if attr == "suggest_categorical":
                    return args[0][0] if args else kwargs["choices"][0]
                return args[0] if args else kwargs["low"]

            return suggest

    spec.space(_Recorder())
    return names


def _replay(spec: ModelSpec, sampled: dict[str, Any]) -> dict[str, Any]:
    """Turn the sampled values of a trial back into estimator parameters."""
    if spec.space is None:
        return {}
    return _trial_params(spec, optuna.trial.FixedTrial(sampled))
