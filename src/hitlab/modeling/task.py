"""The one train / tune / evaluate loop that every task (popularity, genre) runs.

:func:`fit_task` takes the canonical track table and a :class:`Task` (target column,
regression or classification, feature set, tuning metric) and:

1. keeps the rows with a target, builds the feature frame, drops feature columns that
   are empty in these rows (noted);
2. makes the grouped outer split (:func:`~hitlab.modeling.split.outer_split`) over the group
   labels the caller passes (songs, tracks, artists: the caller knows what they are) and
   the grouped inner folds over the training rows only;
3. for each (model, imbalance strategy) candidate: tunes on the inner folds for its trial
   count (:func:`~hitlab.modeling.tune.tune`; the clock is only a safety cap), refits on the
   whole training part (timed), predicts the test part (timed), and scores it with
   bootstrap 95% CIs;
4. picks the best candidate by its **cross-validated** score (never by the test score),
   and refits it on every row for saving (``refit=True``).

The leaderboard has one row per candidate: the test metrics with their CIs, the CV score,
tuning trials run and planned, whether the clock capped tuning, and the tuned parameters;
it holds no timings, so the same inputs and seed give the same table on any machine.
:meth:`TaskResult.timings` has the fit seconds, predict rows/s and tuning seconds.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hitlab.errors import ConfigError, DataError
from hitlab.features import FeatureSet, feature_frame
from hitlab.modeling.evaluate import METRICS, Estimate, bootstrap, get_metric
from hitlab.modeling.persist import data_hash, jsonable
from hitlab.modeling.split import GroupLabels, Split, as_groups, inner_folds, outer_split
from hitlab.modeling.tune import TuneResult, predict_scores, quiet_fit, tune
from hitlab.modeling.zoo import DEFAULT_ZOO, ModelZoo, build_pipeline, fit_params, sampler_note

__all__ = ["Candidate", "Task", "TaskData", "TaskResult", "fit_task", "task_data"]

#: Metrics reported for each kind of task, in leaderboard order.
REPORTED: dict[str, tuple[str, ...]] = {
    "regression": ("mae", "rmse", "r2"),
    "classification": ("accuracy", "macro_f1", "balanced_accuracy", "top2", "log_loss"),
}
BASELINES = {"regression": "median", "classification": "majority"}
#: Tracks per second one model pass must score for ``hitlab predict`` to reach its target of
#: 1M tracks a minute on one core; a chosen model measured slower gets a note.
SCORING_FLOOR = 1_000_000 / 60


@dataclass(frozen=True)
class Task:
    """What to predict and how to judge it.

    Parameters
    ----------
    name
        ``"popularity"`` or ``"genre"`` (used in file names and manifests).
    kind
        ``"regression"`` or ``"classification"``.
    target
        The target column of the track table (``"popularity"``, ``"genre"``).
    features
        The feature set (:func:`hitlab.features.resolve_features`).
    metric
        The metric tuned and used to pick the best candidate (by cross-validation).
    default_model
        The model hitlab recommends for this task (a zoo name).
    """

    name: str
    kind: str
    target: str
    features: FeatureSet
    metric: str
    default_model: str = "lightgbm"

    @property
    def baseline(self) -> str:
        return BASELINES[self.kind]

    @property
    def reported(self) -> tuple[str, ...]:
        return REPORTED[self.kind]


@dataclass
class Candidate:
    """One (model, strategy): tuned on the inner folds, fitted on the training part, tested."""

    model: str
    strategy: str
    pipeline: Any
    tuning: TuneResult
    fit_seconds: float
    predict_rows_per_s: float
    prediction: np.ndarray
    proba: np.ndarray | None
    metrics: dict[str, Estimate]

    @property
    def key(self) -> str:
        return self.model if self.strategy == "none" else f"{self.model}+{self.strategy}"


@dataclass
class TaskResult:
    """Everything :func:`fit_task` produced.

    ``rows`` is the task's table (rows with a target, original index); ``X`` its feature
    frame; ``y`` the target (class codes for classification, see ``classes``); ``split``
    positions into them. ``final`` is the best pipeline refitted on every row (or on the
    training part when ``refit=False``).
    """

    task: Task
    features: FeatureSet
    rows: pd.DataFrame
    X: pd.DataFrame
    y: np.ndarray
    classes: list[str] | None
    split: Split
    folds: list[tuple[np.ndarray, np.ndarray]]
    candidates: list[Candidate]
    best: Candidate
    baseline: Candidate
    final: Any
    final_rows: str
    seed: int
    n_boot: int
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: Notes that depend on this machine's speed (the scoring-rate check): in ``summary()``,
    #: not in the report's reading, which the same inputs must reproduce on any machine.
    speed_notes: list[str] = field(default_factory=list)

    @property
    def X_test(self) -> pd.DataFrame:
        return self.X.iloc[self.split.test]

    @property
    def y_test(self) -> np.ndarray:
        return self.y[self.split.test]

    @property
    def test_rows(self) -> pd.DataFrame:
        return self.rows.iloc[self.split.test]

    @property
    def test_groups(self) -> np.ndarray:
        """The split group (song, track or artist, as the caller grouped) of each test row: the
        bootstrap CIs resample whole groups (:func:`~hitlab.modeling.evaluate.bootstrap_indices`)."""
        return self.split.groups[self.split.test]

    def candidate(self, key: str) -> Candidate:
        """The candidate named ``model`` or ``model+strategy``."""
        for c in self.candidates:
            if c.key == key:
                return c
        raise ConfigError(f"no candidate {key!r}; have {', '.join(c.key for c in self.candidates)}")

    def labels(self, codes: np.ndarray) -> np.ndarray:
        """Class names of class codes (classification)."""
        if self.classes is None:
            raise ConfigError("a regression task has no class labels")
        return np.asarray(self.classes, dtype=object)[np.asarray(codes, dtype=np.int64)]

    def leaderboard(self) -> pd.DataFrame:
        """One row per candidate, best test score of the task metric first."""
        records = []
        for c in self.candidates:
            row: dict[str, Any] = {"model": c.model, "strategy": c.strategy,
                                   "baseline": c.model == self.task.baseline,
                                   "chosen": c is self.best,
                                   f"cv_{self.task.metric}": c.tuning.score}
            for name, est in c.metrics.items():
                row[name] = est.value
                row[f"{name}_low"] = est.low
                row[f"{name}_high"] = est.high
            row.update({
                "trials": c.tuning.n_trials,
                "planned_trials": c.tuning.planned_trials,
                "clock_capped": c.tuning.clock_capped,
                "params": json.dumps(jsonable(c.tuning.params), sort_keys=True),
            })
            records.append(row)
        board = pd.DataFrame(records)
        metric = get_metric(self.task.metric)
        return board.sort_values(self.task.metric, ascending=not metric.greater_is_better,
                                 kind="stable").reset_index(drop=True)

    def timings(self) -> pd.DataFrame:
        """Per candidate: fit seconds, predict rows/s and tuning seconds (they vary with the machine)."""
        return pd.DataFrame([
            {"model": c.model, "strategy": c.strategy, "fit_s": c.fit_seconds,
             "predict_rows_per_s": c.predict_rows_per_s, "tune_s": c.tuning.seconds}
            for c in self.candidates
        ])

    def _identity(self) -> dict[str, Any]:
        """What was fitted: task, chosen model and strategy, its parameters and features."""
        return {
            "task": self.task.name,
            "kind": self.task.kind,
            "target": self.task.target,
            "model": self.best.model,
            "strategy": self.best.strategy,
            "params": jsonable(self.best.tuning.params),
            "features": self.features.to_dict(),
        }

    def summary(self) -> dict[str, Any]:
        """Headline numbers for reports: the chosen model's metrics beside the baseline, with CIs."""
        return {
            **self._identity(),
            "split": self.split.describe(),
            "rows": len(self.rows),
            "metrics": {
                name: {"model": self.best.metrics[name].to_dict(),
                       "baseline": self.baseline.metrics[name].to_dict(),
                       "label": METRICS[name].label,
                       "greater_is_better": METRICS[name].greater_is_better}
                for name in self.task.reported
            },
            "cv_score": {"metric": self.task.metric, "value": self.best.tuning.score},
            "fit_s": self.best.fit_seconds,
            "predict_rows_per_s": self.best.predict_rows_per_s,
            "candidates": [c.key for c in self.candidates],
            "notes": [*self.notes, *self.speed_notes],
            "seconds": self.seconds,
        }

    def manifest(self) -> dict[str, Any]:
        """What :func:`hitlab.outputs.save_task_model` records beside the model file."""
        return {
            **self._identity(),
            "classes": self.classes,
            "class_counts": (
                {c: int(n) for c, n in zip(self.classes, np.bincount(self.y, minlength=len(self.classes)),
                                           strict=True)}
                if self.classes is not None else None
            ),
            "trained_on": self.final_rows,
            "training_rows": len(self.rows) if self.final_rows == "all rows" else int(self.split.train.size),
            "training_data_sha256": data_hash(self.X, self.y) if self.final_rows == "all rows"
            else data_hash(self.X.iloc[self.split.train], self.y[self.split.train]),
            "metrics": {name: {"model": self.best.metrics[name].to_dict(),
                               "baseline": self.baseline.metrics[name].to_dict()}
                        for name in self.task.reported},
            "metrics_note": "held-out test metrics of the same configuration fitted on the training part",
            "split": self.split.describe(),
            "seed": self.seed,
        }

    def held_out_predictions(self) -> pd.DataFrame:
        """Predictions of the chosen configuration *fitted on the training part only*
        (``best.pipeline``) for the test tracks: ``track_id`` and the prediction, or one
        probability column per class the model knows. The very values the test metrics were
        computed from (``best.prediction`` / ``best.proba``), not a second scoring."""
        return self._frame(self.best.pipeline, self.best.prediction, self.best.proba)

    def final_predictions(self) -> pd.DataFrame:
        """What :attr:`final` (refitted on every row when ``refit=True``, so these are *not*
        held-out predictions) predicts for the same test tracks, scored as ``hitlab predict``
        scores: the check a reloaded model is compared with. :func:`hitlab.outputs.save_task_model`
        saves both beside the model."""
        if self.final is self.best.pipeline:
            return self.held_out_predictions()
        prediction, proba = predict_scores(self.final, self.X_test, self.task.kind)
        return self._frame(self.final, prediction, proba)

    def _frame(self, pipeline: Any, prediction: np.ndarray, proba: np.ndarray | None) -> pd.DataFrame:
        out = pd.DataFrame({"track_id": self.rows["track_id"].iloc[self.split.test].to_numpy()})
        if self.classes is not None:
            assert proba is not None
            for code in pipeline.classes_:  # class-code columns; a class the model never saw has none
                out[f"proba_{self.classes[int(code)]}"] = proba[:, int(code)]
        else:
            out["predicted"] = prediction
        return out


@dataclass
class TaskData:
    """A task's model-ready data: the rows with a target, their feature frame, target and groups.

    ``rows`` keeps the original index; ``y`` holds class codes for classification (``classes``
    names them, sorted); ``features`` is the task's feature set less the columns with no value
    in these rows; ``groups`` one split-group label per row; ``left_out`` counts the rows
    without a target; ``notes`` says in words what was left out or dropped.
    """

    rows: pd.DataFrame
    X: pd.DataFrame
    y: np.ndarray
    classes: list[str] | None
    features: FeatureSet
    groups: np.ndarray
    left_out: int
    notes: list[str] = field(default_factory=list)


def task_data(tracks: pd.DataFrame, task: Task, groups: GroupLabels | None = None) -> TaskData:
    """The rows of ``tracks`` with a ``task.target`` value, ready to model.

    ``groups``: one split-group label per row of ``tracks`` (array-like), or a function of the
    rows with a target returning one per row; ``None``: every row is its own group. What the
    groups mean (songs, artists) is the caller's business.

    Raises
    ------
    DataError
        No target column, no row with a target, no feature with a value, or a single class.
    ConfigError
        Group labels of the wrong length, or a row without one.
    """
    if task.target not in tracks.columns:
        raise DataError(f"the tracks have no {task.target!r} column to predict")
    has_target = tracks[task.target].notna().to_numpy()
    rows = tracks[has_target]
    if callable(groups):
        row_groups = as_groups(groups, rows)
    elif groups is not None:
        row_groups = as_groups(groups, n=len(tracks))[has_target]
    else:
        row_groups = as_groups(None, n=len(rows))
    if len(rows) == 0:
        raise DataError(f"no track has a {task.target!r} value")
    notes: list[str] = []
    left_out = len(tracks) - len(rows)
    if left_out:
        notes.append(f"{left_out:,} tracks without {task.target} left out")
    features = task.features
    empty = [c for c in features.columns if c in rows.columns and rows[c].isna().all()]
    if empty:
        features = features.without(empty, "no value in this data")
        notes.append(f"feature(s) {', '.join(empty)} dropped: no value in this data")
    if not features.columns:
        raise DataError(f"none of the {task.name} features has a value in this data")
    X = feature_frame(rows, features)
    classes: list[str] | None = None
    if task.kind == "classification":
        labels = rows[task.target].astype("string").to_numpy(dtype=object)
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise DataError(
                f"the {task.target!r} column has a single class ({classes[0]!r}); nothing to learn"
            )
        lookup = {c: i for i, c in enumerate(classes)}
        y = np.asarray([lookup[v] for v in labels], dtype=np.int64)
    else:
        y = pd.to_numeric(rows[task.target], errors="coerce").astype("float64").to_numpy(na_value=np.nan)
    return TaskData(rows, X, y, classes, features, row_groups, left_out, notes)


def _candidates(task: Task, models: Sequence[str] | None, strategies: Sequence[str], notes: list[str],
                pairs: Sequence[tuple[str, str]] | None, zoo: ModelZoo) -> list[tuple[str, str]]:
    if pairs is not None:
        chosen = list(dict.fromkeys((str(m), str(s)) for m, s in pairs if m != task.baseline))
        for name, strategy in chosen:
            zoo.get_model(task.kind, name)
            if task.kind == "regression" and strategy != "none":
                raise ConfigError("imbalance strategies apply to classification tasks only")
        return [(task.baseline, "none"), *chosen]
    names = list(models) if models is not None else zoo.available_models(task.kind)
    if models is None:
        for name, install in zoo.missing_models(task.kind).items():
            notes.append(f"model {name!r} skipped: its optional package is not installed ({install})")
    names = [n for n in names if n != task.baseline]
    for name in names:
        zoo.get_model(task.kind, name)  # validates the name and the optional extra
    if task.kind == "regression" and list(strategies) != ["none"]:
        raise ConfigError("imbalance strategies apply to classification tasks only")
    pairs = [(task.baseline, "none")]
    pairs += [(n, s) for n in names for s in strategies]
    return pairs


def fit_task(
    tracks: pd.DataFrame,
    task: Task,
    *,
    models: Sequence[str] | None = None,
    strategies: Sequence[str] = ("none",),
    pairs: Sequence[tuple[str, str]] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    budget: float | None = None,
    budgets: dict[str, float] | None = None,
    max_trials: int | None = None,
    trials: Mapping[str, int] | None = None,
    seed: int = 42,
    groups: GroupLabels | None = None,
    group_by: str | None = None,
    test_size: float = 0.33,
    n_splits: int = 3,
    n_boot: int = 1000,
    refit: bool = True,
    n_jobs: int = -1,
    fold_jobs: int = 2,
    progress: Callable[[str], None] | None = None,
    zoo: ModelZoo = DEFAULT_ZOO,
) -> TaskResult:
    """Tune, fit and test every candidate of ``task`` on a grouped split; pick and refit the best.

    Parameters
    ----------
    tracks
        The canonical track table (cleaned and labelled).
    task
        What to predict (:class:`Task`).
    models
        Zoo names to try (default: every installed model of the task's kind). The
        baseline (``median`` / ``majority``) is always added.
    strategies
        Imbalance strategies crossed with every model (classification only).
    pairs
        Explicit ``(model, strategy)`` pairs instead of ``models`` x ``strategies`` (the
        baseline is still added first).
    params
        Per model name, estimator parameters laid over the zoo entry's defaults (the
        starting point of tuning, and what is fitted when the budget allows one trial).
    budget
        Safety cap on the tuning seconds of each candidate (``None``: none); ``budgets``
        overrides it per model name. A cap that stops tuning before its trial count is
        reported (leaderboard ``clock_capped``, a note).
    max_trials
        Tuning trials of every candidate (default: ``trials`` per model name, else the zoo
        entry's own count). Trials, not seconds, end tuning, so runs repeat on any machine.
    seed
        Seed of the split, folds, tuner, estimators and bootstrap.
    groups
        One split-group label per row of ``tracks`` (array-like), or a function of the
        task's rows returning one per row; ``None``: every row is its own group. No group is
        on both sides of the split or of a fold. The modelling package does not know what
        the groups are: :func:`hitlab.songs.group_labels` makes song, track or artist groups.
    group_by
        The name of the grouping, recorded in the manifest (default ``"row"`` without
        ``groups``, ``"group"`` with them).
    test_size, n_splits
        Share of groups held out for testing; inner cross-validation folds.
    n_boot
        Bootstrap resamples for the CIs.
    refit
        Refit the best candidate on every row (``final``); else keep the training-part fit.
    n_jobs
        Threads per estimator.
    fold_jobs
        Inner folds fitted at the same time, in threads (:func:`~hitlab.modeling.tune.tune`);
        the numbers do not depend on it.
    progress
        Called with a short message as each candidate starts.
    zoo
        The models and imbalance strategies the names refer to (:class:`~hitlab.modeling.zoo.ModelZoo`).

    Raises
    ------
    DataError
        No rows with a target, a single class, or too few groups.
    ConfigError
        Unknown model, strategy or metric; a strategy given to a regression task.
    """
    started = time.perf_counter()
    say = progress or (lambda message: None)
    notes: list[str] = []
    metric = get_metric(task.metric)
    if metric.kind != task.kind:
        raise ConfigError(f"metric {task.metric!r} is a {metric.kind} metric, the task is {task.kind}")
    data = task_data(tracks, task, groups)
    rows, X, y, classes, features = data.rows, data.X, data.y, data.classes, data.features
    notes.extend(data.notes)
    group_name = group_by or ("row" if groups is None else "group")
    split = outer_split(data.groups, group_by=group_name, test_size=test_size, seed=seed)
    train, test = split.train, split.test
    X_train, y_train = X.iloc[train], y[train]
    folds = inner_folds(split.groups[train], y_train if classes is not None else None,
                        n_splits=n_splits, seed=seed)
    n_classes = len(classes) if classes is not None else None
    candidates: list[Candidate] = []
    pairs = _candidates(task, models, strategies, notes, pairs, zoo)

    def spec_of(model_name: str) -> Any:
        spec = zoo.get_model(task.kind, model_name)
        if params and model_name in params:
            spec = dataclasses.replace(spec, defaults={**spec.defaults, **params[model_name]})
        return spec

    for model_name, strategy in pairs:
        spec = spec_of(model_name)
        model_budget = (budgets or {}).get(model_name, budget)
        model_trials = max_trials or (trials or {}).get(model_name)
        label = model_name if strategy == "none" else f"{model_name} + {strategy}"
        planned = 1 if spec.space is None else (model_trials or spec.max_trials)
        say(f"{label}: tuning ({planned} trial{'s' if planned > 1 else ''})")
        tuning = tune(spec, features, X_train, y_train, folds, metric=task.metric, strategy=strategy,
                      budget=model_budget, max_trials=model_trials, seed=seed, n_jobs=n_jobs,
                      n_classes=n_classes, zoo=zoo, fold_jobs=fold_jobs, groups=split.groups[train])
        if tuning.clock_capped:
            notes.append(f"{label}: the {model_budget:g} s safety cap stopped tuning after {tuning.n_trials} "
                         f"of {tuning.planned_trials} trials; this run will not repeat exactly on another "
                         "machine (raise --budget, or lower --trials)")
        for note in tuning.notes:
            if f"{label}: {note}" not in notes:
                notes.append(f"{label}: {note}")
        pipeline = build_pipeline(spec, features, params=tuning.params, strategy=strategy, seed=seed,
                                  n_jobs=n_jobs, zoo=zoo)
        t0 = time.perf_counter()
        quiet_fit(pipeline, X_train, y_train,
                  **fit_params(pipeline, strategy, y_train, zoo=zoo, groups=split.groups[train]))
        fit_seconds = time.perf_counter() - t0
        note = sampler_note(pipeline)
        if note and f"{label}: {note}" not in notes:
            notes.append(f"{label}: {note}")
        t0 = time.perf_counter()
        pred, proba = predict_scores(pipeline, X.iloc[test], task.kind)
        predict_seconds = max(time.perf_counter() - t0, 1e-9)
        if proba is not None and n_classes is not None and proba.shape[1] < n_classes:
            proba = np.pad(proba, ((0, 0), (0, n_classes - proba.shape[1])))
        metrics = bootstrap(task.reported, y[test], pred, proba, n_classes=n_classes, n_boot=n_boot,
                            seed=seed, groups=split.groups[test])
        candidates.append(Candidate(model_name, strategy, pipeline, tuning, fit_seconds,
                                    len(test) / predict_seconds, pred, proba, metrics))
    baseline = candidates[0]
    contenders = candidates[1:] or candidates
    sign = -1.0 if metric.greater_is_better else 1.0
    best = min(contenders, key=lambda c: sign * c.tuning.score)
    speed_notes: list[str] = []
    if best.predict_rows_per_s < SCORING_FLOOR:
        speed_notes.append(
            f"the chosen model ({best.key}) scored {best.predict_rows_per_s:,.0f} tracks/s on the test part, "
            f"below the {SCORING_FLOOR:,.0f}/s one pass needs for `hitlab predict` to score 1M tracks a "
            f"minute (measured on this machine, busy or not); expect slower scoring"
        )
    if refit:
        say(f"refitting {best.key} on all {len(rows):,} rows")
        final = build_pipeline(spec_of(best.model), features, params=best.tuning.params,
                               strategy=best.strategy, seed=seed, n_jobs=n_jobs, zoo=zoo)
        quiet_fit(final, X, y, **fit_params(final, best.strategy, y, zoo=zoo, groups=split.groups))
        final_rows = "all rows"
    else:
        final, final_rows = best.pipeline, "training part"
    return TaskResult(task, features, rows, X, y, classes, split, folds, candidates, best, baseline, final,
                      final_rows, seed, n_boot, notes, time.perf_counter() - started, speed_notes)
