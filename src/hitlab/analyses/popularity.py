"""Popularity (0-100) from audio features: the seed's analyses, done right.

Data in, a :class:`PopularityResult` out; it writes nothing (:mod:`hitlab.outputs` does).

:func:`fit` runs the shared mechanism (:func:`hitlab.modeling.fit_task`) on the popularity
task and adds the analyses:

- an **OLS summary** (statsmodels) *with* an intercept: coefficients, standard errors,
  t, p, 95% intervals, the centered R2, and the variance inflation factors; beside it
  the R2 of the seed's no-intercept fit (an *uncentered* R2, which is why the seed
  reported 0.928) and the VIFs of every audio feature;
- the **zoo leaderboard** on the grouped split, the best model (chosen by
  cross-validation) refitted on every track and ready to save;
- **error views**: per-track test errors, the per-genre table (MAE with its 95% CI beside
  the median baseline's), and figures;
- **drivers** ("what makes a hit"): permutation importance of each feature on the test
  rows, SHAP values from LightGBM's built-in ``pred_contrib`` (no extra dependency), and
  partial dependence of the top features.

>>> from hitlab.analyses import popularity                        # doctest: +SKIP
>>> result = popularity.fit(tracks, budget=10, seed=42)          # doctest: +SKIP
>>> result.fit.leaderboard(); result.ols; result.drivers          # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from threadpoolctl import threadpool_limits

from hitlab import plots
from hitlab.analyses._popularity_tables import (
    Drivers,
    drivers,
    error_table,
    errors_by_genre,
    ols_summary,
    vif_table,
)
from hitlab.analyses.base import MIN_TASK_TRACKS, QUICK_MODEL_NOTE, Context
from hitlab.errors import DataError
from hitlab.features import NUMERIC_COLUMNS, feature_frame, resolve_features
from hitlab.modeling import Task, TaskResult, fit_task
from hitlab.modeling.zoo import available_models, model_description
from hitlab.songs import group_labels, grouping_note

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_MODELS",
    "DEFAULT_TRIALS",
    "METRIC_LABELS",
    "N_SPLITS",
    "OTHER_BUDGET_SHARE",
    "OTHER_TRIALS",
    "QUICK_MODELS",
    "QUICK_N_SPLITS",
    "QUICK_TRIALS",
    "SAFETY_FACTOR",
    "Drivers",
    "PopularityResult",
    "check",
    "drivers",
    "error_table",
    "errors_by_genre",
    "feature_frame",
    "fit",
    "ols_summary",
    "popularity_task",
    "run",
    "vif_table",
]


#: Models of ``quick`` runs (the baseline is always added). The random forest was dropped on
#: 2026-11-27: with trial-count tuning its 4 full fits took 10 of the 30 s of a quick stage.
QUICK_MODELS: tuple[str, ...] = ("linear", "lightgbm")
#: Models of the default run (the baseline is always added): the ones that won, or came close, in
#: grouped cross-validation on the training part. The rest of the zoo never won (2026-11-28 leaderboard:
#: LightGBM CV MAE 17.78, then gradient boosting 18.07, random forest 18.05, MLP 18.41, decision tree
#: 18.46, AdaBoost 18.68, k-NN 18.72, lasso/ridge/linear 19.06) and took two thirds of the stage; it
#: runs with ``full=True`` (``hitlab run --full``). Linear regression stays as the interpretable
#: reference.
#: 2026-12-02: ``stack`` (LightGBM and extra trees under CatBoost, `hitlab.modeling.stack`) in place
#: of ``blend``: CV MAE 17.478 against 17.547 in the run's own song-grouped folds; ``blend`` runs
#: with ``--full``.
DEFAULT_MODELS: tuple[str, ...] = ("linear", "lightgbm", "stack")
#: Share of the tuning budget given to each model other than the task's default model.
OTHER_BUDGET_SHARE = 0.15
#: Tuning trials of the default model (LightGBM). One: its defaults were chosen by a 40-trial
#: search on the song-grouped folds of the training part (``benchmarks/defaults.py --tune 40``,
#: see ``hitlab.modeling.zoo``), and 14 trials from the earlier defaults took 35 of the stage's 80 s.
#: ``--trials N`` tunes further. Every other model runs its defaults only (one trial).
DEFAULT_TRIALS = 1
QUICK_TRIALS = 1
#: LightGBM in ``quick`` runs: fewer, faster rounds (CV MAE 17.62 against the default's 17.59 on
#: the training part's song-grouped folds, ``benchmarks/defaults.py``; fits in less than half the time).
QUICK_LIGHTGBM_PARAMS: dict[str, Any] = {"n_estimators": 200, "learning_rate": 0.06}
#: Inner folds: 3 (the default of :func:`~hitlab.modeling.fit_task`); 2 in ``quick`` runs, as the
#: genre stage: both folds fit at once on two cores, and the score only has to tell LightGBM from
#: linear regression (CV MAE 17.6 against 18.9), never a close call.
N_SPLITS = 3
QUICK_N_SPLITS = 2
#: Cheap models that still get a few trials (what their 3 s share bought before).
OTHER_TRIALS: dict[str, int] = {"ridge": 5, "lasso": 5, "decision_tree": 5}
#: The clock is only a safety cap: a candidate's tuning stops at this many times its share of
#: ``budget`` (reported as ``clock_capped`` when it bites), so a busy machine still gets the
#: same trials, and therefore the same numbers, as an idle one.
SAFETY_FACTOR = 4.0
DEFAULT_MODEL = "lightgbm"
METRIC_LABELS = {"mae": "MAE", "rmse": "RMSE", "r2": "R2"}


def popularity_task(features: Sequence[str] | str | None = None) -> Task:
    """The popularity task: regression on ``popularity``, tuned for MAE, LightGBM by default."""
    return Task("popularity", "regression", "popularity", resolve_features("popularity", features), "mae",
                DEFAULT_MODEL)


@dataclass
class PopularityResult:
    """Everything :func:`fit` found: tables, figures, headline numbers and facts for the prose.

    It writes nothing; :mod:`hitlab.outputs` writes :meth:`tables` as ``popularity/<name>.csv``,
    the :meth:`figures`, the model and the report section (``popularity.html.j2`` and
    ``popularity.reading.j2``, rendered from :attr:`facts`).
    """

    fit: TaskResult
    ols: pd.DataFrame
    ols_stats: dict[str, Any]
    vif: pd.DataFrame
    errors: pd.DataFrame
    errors_by_genre: pd.DataFrame
    drivers: Drivers
    notes: list[str] = field(default_factory=list)

    @property
    def leaderboard(self) -> pd.DataFrame:
        return self.fit.leaderboard()

    def figures(self) -> dict[str, Figure]:
        """Figures by file stem (``popularity_...``); the caller saves them."""
        errors = self.errors
        label = f"{self.fit.best.model} (test tracks)"
        figs = {
            "popularity_leaderboard": plots.leaderboard_chart(self.leaderboard, "mae", "MAE (test, 95% CI)"),
            "popularity_error_histogram": plots.error_histogram(errors["error"].to_numpy(), label),
            "popularity_predicted_vs_actual": plots.predicted_vs_actual(
                errors["actual"].to_numpy(), errors["predicted"].to_numpy(), label),
            "popularity_error_vs_actual": plots.error_vs_actual(
                errors["actual"].to_numpy(), errors["error"].to_numpy(), label),
            "popularity_error_by_genre": plots.error_by_group(
                errors["abs_error"].to_numpy(), errors["genre"].to_numpy(), "absolute error", label),
            "popularity_importance": plots.importance_bars(self.drivers.table),
        }
        if self.drivers.shap is not None:
            figs["popularity_shap"] = plots.shap_summary(self.drivers.shap, self.drivers.sample)
        if len(self.drivers.partial_dependence):
            figs["popularity_partial_dependence"] = plots.partial_dependence_grid(
                self.drivers.partial_dependence, "predicted popularity")
        return figs

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by name (written as ``popularity/<name>.csv``)."""
        predictions = self.errors.drop(columns=["abs_error"])
        return {
            "leaderboard": self.leaderboard,
            "timings": self.fit.timings(),
            "ols": self.ols,
            "vif": self.vif,
            "errors_by_genre": self.errors_by_genre,
            "drivers": self.drivers.table,
            "partial_dependence": self.drivers.partial_dependence,
            "test_predictions": predictions,
        }

    def headline_metrics(self) -> list[dict[str, Any]]:
        """The report's headline numbers: MAE, RMSE and R2 with 95% CIs beside the baseline's."""
        best, base = self.fit.best, self.fit.baseline
        return [
            {"name": METRIC_LABELS[name], "value": best.metrics[name].value,
             "ci": [best.metrics[name].low, best.metrics[name].high],
             "baseline": base.metrics[name].value, "better": "higher" if name == "r2" else "lower"}
            for name in ("mae", "rmse", "r2")
        ]

    @property
    def facts(self) -> dict[str, Any]:
        """Everything the prose needs (``popularity.reading.j2``), as plain values."""
        fit, best = self.fit, self.fit.best
        split = fit.split.describe()
        vif = self.vif.set_index("feature")
        energy = vif["vif"].get("energy")
        return {
            "model": best.model,
            "model_description": model_description(fit.task.kind, best.model),
            "metric": fit.task.metric,
            "folds": len(fit.folds),
            "mae": best.metrics["mae"].to_dict(),
            "baseline_mae": fit.baseline.metrics["mae"].value,
            "r2": best.metrics["r2"].value,
            "test_rows": split["test_rows"],
            "group_by": split["group_by"],
            "ols": self.ols_stats,
            "top_drivers": self.drivers.table["feature"].head(3).tolist(),
            "energy_vif": float(energy) if energy is not None and np.isfinite(energy) else None,
            "energy_partner": vif.loc["energy", "most_correlated_with"] if "energy" in vif.index else None,
            "energy_is_feature": "energy" in fit.features.numeric,
            "notes": [*fit.notes, *self.notes],
        }

    def summary(self) -> dict[str, Any]:
        """A plain dict for reports: headline metrics beside the baseline with CIs, and more."""
        out = self.fit.summary()
        out["ols"] = self.ols_stats
        out["top_drivers"] = self.drivers.table.head(5)[["feature", "permutation_mae_increase"]].to_dict(
            "records")
        out["errors_by_genre"] = self.errors_by_genre.to_dict("records")
        out["vif"] = self.vif.to_dict("records")
        out["notes"] = out["notes"] + self.notes
        return out



def fit(
    tracks: pd.DataFrame,
    *,
    features: Sequence[str] | str | None = None,
    models: Sequence[str] | None = None,
    budget: float = 20.0,
    max_trials: int | None = None,
    seed: int = 42,
    group_by: str = "song",
    quick: bool = False,
    full: bool = False,
    n_boot: int = 1000,
    n_jobs: int = 1,
    progress: Callable[[str], None] | None = None,
) -> PopularityResult:
    """Fit and analyse the popularity task.

    Parameters
    ----------
    tracks
        The cleaned, labelled canonical track table.
    features
        ``--features`` value (see :func:`hitlab.features.resolve_features`).
    models
        Zoo names (default: :data:`DEFAULT_MODELS`; :data:`QUICK_MODELS` when ``quick``, the
        whole regression zoo when ``full``).
    budget
        Nominal tuning seconds of the default model (LightGBM; every other model gets
        :data:`OTHER_BUDGET_SHARE` of it). Trials, not seconds, end tuning
        (:data:`DEFAULT_TRIALS`); the clock only caps a candidate at :data:`SAFETY_FACTOR`
        times its share, and the leaderboard's ``clock_capped`` says when that happened.
    seed, group_by
        Seed of everything; ``"song"`` (default: no song on both sides, whatever its track
        ids), ``"track"`` or ``"artist"`` grouping of the split (:func:`hitlab.songs.group_labels`).
    quick
        A first look: fewer models, :data:`QUICK_TRIALS` LightGBM trials, 2 inner folds, fewer
        rows for the drivers, at most 200 bootstrap resamples (as the genre analysis's quick runs), and the
        chosen model saved as fitted on the training part (not refitted on every track).
    full
        Compare every installed model of the regression zoo (``hitlab run --full``).
    n_boot
        Bootstrap resamples for the CIs.
    n_jobs
        Threads per estimator (OpenMP/BLAS pools are limited to it too). One thread is the
        default: on this data a LightGBM fit gains little from two threads on an idle
        machine, and loses ten-fold when another process competes for the cores.
    max_trials
        Tune this many trials per model (default: :data:`DEFAULT_TRIALS` for LightGBM,
        :data:`OTHER_TRIALS` for cheap models, the defaults only for the others).
    progress
        Called with short messages.
    """
    say = progress or (lambda message: None)
    task = popularity_task(features)
    if models is None and not full:
        chosen = QUICK_MODELS if quick else DEFAULT_MODELS
        models = [m for m in chosen if m in available_models("regression")]
    budgets = {name: SAFETY_FACTOR * budget * OTHER_BUDGET_SHARE for name in available_models("regression")}
    budgets[task.default_model] = SAFETY_FACTOR * budget
    budgets["blend"] = SAFETY_FACTOR * budget * 2  # it fits LightGBM and CatBoost
    budgets["stack"] = SAFETY_FACTOR * budget * 4  # LightGBM and extra trees 3 times, CatBoost once
    trials = {name: OTHER_TRIALS.get(name, 1) for name in available_models("regression")}
    trials[task.default_model] = QUICK_TRIALS if quick else DEFAULT_TRIALS
    if quick:
        n_boot = min(n_boot, 200)  # the bootstrap CIs took ~1.8 s of a 7.6 s quick stage
    groups = group_labels(tracks, group_by)
    with threadpool_limits(limits=n_jobs if n_jobs > 0 else None):
        result = fit_task(tracks, task, models=models, budget=SAFETY_FACTOR * budget, budgets=budgets,
                          seed=seed, groups=groups, group_by=group_by, n_boot=n_boot, n_jobs=n_jobs,
                          progress=say, max_trials=max_trials, trials=trials,
                          n_splits=QUICK_N_SPLITS if quick else N_SPLITS,
                          params={DEFAULT_MODEL: QUICK_LIGHTGBM_PARAMS} if quick else None,
                          refit=not quick)
    note = grouping_note(result.rows, group_by)
    if note:
        result.notes.append(note)
    if quick:
        result.notes.append(QUICK_MODEL_NOTE.format(tracks=result.split.train.size))
    say("OLS summary and variance inflation factors")
    notes: list[str] = []
    try:
        with threadpool_limits(limits=n_jobs if n_jobs > 0 else None):  # BLAS threads spin on busy cores
            ols, ols_stats = ols_summary(result.rows, result.features)
    except DataError as exc:  # a tiny table: the models ran, the OLS summary cannot
        ols = pd.DataFrame(columns=["term", "coef", "std_err", "t", "p", "ci_low", "ci_high", "vif"])
        ols_stats = {"skipped": str(exc)}
        notes.append(f"OLS summary skipped: {exc}")
    audio = [c for c in NUMERIC_COLUMNS if c != "popularity" and result.rows[c].notna().any()]
    vif = vif_table(result.rows, audio)
    say("error views and drivers")
    errors = error_table(result)
    by_genre = errors_by_genre(errors, n_boot=n_boot, seed=seed, groups=result.test_groups)
    with threadpool_limits(limits=n_jobs if n_jobs > 0 else None):
        found = drivers(result, max_rows=300 if quick else 500, seed=seed)
    if found.shap_model is None:
        notes.append("no LightGBM candidate in this run: SHAP values skipped")
    elif found.shap_model != result.best.model:
        notes.append(f"SHAP values come from the tuned LightGBM candidate; the chosen model is "
                     f"{result.best.model}")
    return PopularityResult(result, ols, ols_stats, vif, errors, by_genre, found, notes)


def check(ctx: Context) -> str | None:
    """Why a run cannot fit the popularity task (no popularity, too few tracks with one), or None."""
    with_pop = int(ctx.tracks["popularity"].notna().sum()) if "popularity" in ctx.tracks else 0
    if with_pop == 0:
        return "the data has no popularity column"
    if with_pop < MIN_TASK_TRACKS:
        return f"too few tracks with a popularity ({with_pop}; a model needs at least {MIN_TASK_TRACKS})"
    return None


def run(ctx: Context) -> PopularityResult:
    """The popularity analysis of a run: :func:`fit` with the run's options."""
    return fit(ctx.tracks, features=ctx.config.features, **ctx.fit_options())
