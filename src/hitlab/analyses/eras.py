"""Do hit qualities hold across eras? Staleness, drivers by era, and drift of the features.

:func:`analyse` takes the cleaned, labelled track table and returns an :class:`ErasResult`
(tables, figures, headline numbers with CIs, facts for the prose); it writes nothing.

**Staleness** (forward-in-time validation). For each origin year Y (a rolling origin over
the years the data supports) a model is trained on the tracks released up to Y and scored on
every later track; test rows whose group also sits on the training side are left out, so no
group is on both sides. Beside it, the *same* test tracks are scored by models trained on as
many tracks drawn at random from every year (the test tracks split in two grouped halves;
each half is predicted by a model whose training draw excludes that half's groups). Both
models see the same number of tracks; the only difference is that the forward model never
saw the later years. The per-track difference (paired bootstrap 95% CI) is the loss from
staleness, reported per distance from the origin (1-2, 3-5, 6-10 years later) for
popularity (MAE) and genre (accuracy).

**Drivers by era**. Per era window (default 10 years, counted back from the latest year;
windows with too few tracks merged into the next later one) a popularity model is fitted on
a grouped two-thirds of the window and read on the rest: permutation importance (per-track
MAE increase when the feature is shuffled) and mean |SHAP| (LightGBM ``pred_contrib``), each
with a bootstrap 95% CI, and partial dependence of the top features on one grid for every
window. The change from one window to the next has its own CI (the windows are independent
samples); a change is called real when that CI excludes 0.

**Drift**. Per window, the distribution of each audio feature (mean, sd, 10/50/90th
percentiles) and the standardised mean difference of every window against the latest one,
with a bootstrap CI; the largest shifts are listed in plain words.

**Survivorship**. Spotify popularity measures listening *now*: old tracks in a playlist
today are survivors. The cohort table gives popularity per window; drivers are compared
within windows (each window's model ranks tracks against their own cohort).

>>> from hitlab.analyses import eras                                     # doctest: +SKIP
>>> result = eras.analyse(tracks)                                        # doctest: +SKIP
>>> result.staleness; result.headline; result.facts                       # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hitlab.analyses import _plots as plots
from hitlab.analyses._era_steps import (
    DRIFT_COLUMNS,
    GAPS,
    HEADLINE_GAP,
    TASK_METRIC,
    EraFold,
    _cohorts,
    _drift,
    _driver_changes,
    _label,
    _partial_dependence,
    _staleness_for_task,
    _window_drivers,
    _years,
)
from hitlab.analyses._fitting import task_data
from hitlab.analyses.base import Context
from hitlab.analyses.genre import genre_task
from hitlab.analyses.popularity import popularity_task
from hitlab.errors import ConfigError

__all__ = [
    "DRIFT_COLUMNS",
    "GAPS",
    "EraFold",
    "ErasResult",
    "analyse",
    "era_windows",
    "run",
]

@dataclass
class ErasResult:
    """What :func:`analyse` found. ``skipped`` holds the reason when the data cannot answer."""

    skipped: str | None = None
    years: tuple[int, int] | None = None
    staleness: pd.DataFrame = field(default_factory=pd.DataFrame)
    headline: dict[str, dict[str, Any]] = field(default_factory=dict)
    folds: list[EraFold] = field(default_factory=list)
    windows: pd.DataFrame = field(default_factory=pd.DataFrame)
    drivers: pd.DataFrame = field(default_factory=pd.DataFrame)
    driver_changes: pd.DataFrame = field(default_factory=pd.DataFrame)
    partial_dependence: pd.DataFrame = field(default_factory=pd.DataFrame)
    drift: pd.DataFrame = field(default_factory=pd.DataFrame)
    drift_shifts: pd.DataFrame = field(default_factory=pd.DataFrame)
    shifts_in_words: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by name (a stage writes them as ``eras/<name>.csv``); none when skipped."""
        if self.skipped:
            return {}
        return {
            "staleness": self.staleness,
            "cohorts": self.windows,
            "drivers": self.drivers,
            "driver_changes": self.driver_changes,
            "partial_dependence": self.partial_dependence,
            "drift": self.drift,
            "drift_shifts": self.drift_shifts,
        }

    def figures(self) -> dict[str, Figure]:
        """Figures by file stem (``eras_...``); the caller saves (and closes) them."""
        if self.skipped:
            return {}
        figs = {"eras_staleness": plots.staleness_chart(self.staleness)}
        if len(self.drivers):
            figs["eras_drivers"] = plots.drivers_by_window(self.drivers)
        if len(self.partial_dependence):
            figs["eras_partial_dependence"] = plots.partial_dependence_by_window(self.partial_dependence)
        if len(self.drift):
            figs["eras_drift"] = plots.drift_chart(self.drift)
        return figs

    def headline_metrics(self) -> list[dict[str, Any]]:
        """The report's headline numbers: per task, the loss from staleness and the forward score."""
        metrics = []
        for name, row in self.headline.items():
            unit = "MAE points" if name == "popularity" else "accuracy points"
            scale = 1.0 if name == "popularity" else 100.0
            metrics.append({"name": f"{name}: {unit} lost, trained {row['trained_on']}, "
                                    f"scored on {row['test_years']}",
                            "value": row["loss"] * scale,
                            "ci": [row["loss_low"] * scale, row["loss_high"] * scale],
                            "baseline": None, "better": "lower"})
            metrics.append({"name": f"{name} {row['metric']} on {row['test_years']} (forward)",
                            "value": row["forward"] * scale, "ci": [row["forward_low"] * scale,
                                                                    row["forward_high"] * scale],
                            "baseline": row["random"] * scale,
                            "better": "lower" if name == "popularity" else "higher"})
        return metrics


# --------------------------------------------------------------------------- windows and origins


def era_windows(years: np.ndarray, *, window: int = 10, min_tracks: int = 1000) -> list[tuple[int, int]]:
    """Era windows ``(first, last)`` year, ``window`` years each counted back from the latest year;
    a window with fewer than ``min_tracks`` tracks is merged into the next later one.

    >>> era_windows(np.array([1990] * 5 + [2001] * 20 + [2015] * 30), window=10, min_tracks=10)
    [(1990, 2005), (2006, 2015)]
    """
    if window < 1:
        raise ConfigError(f"the era window must be at least 1 year, got {window}")
    known = years[np.isfinite(years)].astype(int)
    if known.size == 0:
        return []
    first, last = int(known.min()), int(known.max())
    bounds: list[tuple[int, int]] = []
    end = last
    while end >= first:
        bounds.append((max(first, end - window + 1), end))
        end -= window
    bounds.reverse()  # earliest first
    merged: list[tuple[int, int]] = []
    pending: int | None = None
    for lo, hi in bounds:
        lo = pending if pending is not None else lo
        count = int(((known >= lo) & (known <= hi)).sum())
        if count < min_tracks and (lo, hi) != bounds[-1]:
            pending = lo
            continue
        pending = None
        merged.append((lo, hi))
    if merged and int(((known >= merged[-1][0]) & (known <= merged[-1][1])).sum()) < min_tracks:
        merged.pop()
    return merged


def _origins(years: np.ndarray, *, min_train: int, min_test: int, step: int,
             headline_origin: int | None) -> tuple[list[int], int | None]:
    known = years[np.isfinite(years)].astype(int)
    last = int(known.max())
    candidates = [y for y in range(int(known.min()), last)
                  if (known <= y).sum() >= min_train and (known > y).sum() >= min_test]
    if not candidates:
        return [], None
    if headline_origin is None:
        lo, hi = HEADLINE_GAP
        full = [y for y in candidates if y + hi <= last
                and ((known >= y + lo) & (known <= y + hi)).sum() >= min_test]
        headline_origin = full[-1] if full else candidates[-1]
    anchor = headline_origin if headline_origin in candidates else candidates[-1]
    return [y for y in candidates if (anchor - y) % step == 0], headline_origin


# --------------------------------------------------------------------------- the analysis


def analyse(
    tracks: pd.DataFrame,
    *,
    groups: np.ndarray | None = None,
    tasks: Sequence[str] = ("popularity", "genre"),
    origins: Sequence[int] | None = None,
    headline_origin: int | None = None,
    step: int = 2,
    min_train: int = 5000,
    min_test: int = 200,
    window: int = 10,
    min_window_tracks: int = 1000,
    min_span: int = 8,
    max_rows: int = 1000,
    n_repeats: int = 2,
    top: int = 4,
    n_boot: int = 1000,
    seed: int = 42,
    n_jobs: int = 1,
    params: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ErasResult:
    """Staleness, drivers by era and feature drift of a cleaned, labelled track table.

    Parameters
    ----------
    tracks
        The canonical track table with ``year`` (``genre`` for the genre task).
    groups
        One group label per row of ``tracks`` (default: the track id): no group is on both sides
        of any fold; pass song groups to keep versions of one song together.
    tasks
        Tasks of the staleness part (``popularity``: MAE; ``genre``: accuracy).
    origins
        Origin years (train up to and including each); default every ``step`` years that leave
        ``min_train`` tracks to train on and ``min_test`` later tracks, aligned on the headline
        origin.
    headline_origin
        The origin of the headline (default: the latest whose 3-5 years later are all in the data).
    window, min_window_tracks
        Era window length in years, and the fewest tracks a window keeps (smaller ones merge).
    min_span
        Fewest years between the first and last release year; below it the analysis is skipped.
    max_rows, n_repeats, top
        Test tracks read per window; shuffles per feature; features with partial dependence.
    n_boot, seed, n_jobs
        Bootstrap resamples; seed of everything; threads per model.
    params
        LightGBM parameters laid over the zoo's defaults (e.g. fewer trees for a quick look).
    progress
        Called with short messages.
    """
    started = time.perf_counter()
    say = progress or (lambda message: None)
    unknown = [t for t in tasks if t not in TASK_METRIC]
    if unknown:
        raise ConfigError(f"unknown era task(s) {', '.join(unknown)}; known: {', '.join(TASK_METRIC)}")
    if step < 1:
        raise ConfigError(f"step must be at least 1 year, got {step}")
    years_all = _years(tracks)
    known = years_all[np.isfinite(years_all)]
    if known.size == 0:
        return ErasResult(skipped="the tracks have no release year, so eras cannot be compared")
    span = (int(known.min()), int(known.max()))
    if span[1] - span[0] < min_span:
        return ErasResult(skipped=f"release years span {span[0]}-{span[1]}, fewer than {min_span} years: "
                                  "too little to compare eras", years=span)
    chosen, headline_origin = (list(origins), headline_origin) if origins is not None else _origins(
        years_all, min_train=min_train, min_test=min_test, step=step, headline_origin=headline_origin)
    if not chosen:
        return ErasResult(skipped=f"no origin year leaves {min_train:,} tracks to train on and {min_test:,} "
                                  "later tracks to test on", years=span)
    notes: list[str] = []
    if (~np.isfinite(years_all)).any():
        notes.append(f"{int((~np.isfinite(years_all)).sum()):,} tracks without a release year left out")
    records: list[dict[str, Any]] = []
    folds: list[EraFold] = []
    makers = {"popularity": popularity_task, "genre": genre_task}
    for name in tasks:
        task = makers[name]()
        data = task_data(tracks, task, groups)
        found, task_folds = _staleness_for_task(task, data, chosen, min_test=min_test, n_boot=n_boot,
                                                seed=seed, n_jobs=n_jobs, say=say, params=params)
        records += found
        folds += task_folds
        left = sum(f.left_out for f in task_folds)
        if left:
            notes.append(f"{name}: {left:,} later test rows left out because their group was on the "
                         "training side")
    staleness = pd.DataFrame(records)
    headline = _headline(staleness, headline_origin)

    pop_task = popularity_task()
    pop = task_data(tracks, pop_task, groups)
    pop_years = _years(pop.rows)
    windows = era_windows(pop_years, window=window, min_tracks=min_window_tracks)
    cohorts = _cohorts(pop, pop_years, windows, n_boot=n_boot, seed=seed) if windows else pd.DataFrame()
    drivers = changes = pdp = pd.DataFrame()
    if len(windows) >= 2:
        labels = [_label(lo, hi) for lo, hi in windows]
        frames, boots, models, samples = [], {}, {}, {}
        for (lo, hi), label in zip(windows, labels, strict=True):
            say(f"drivers of popularity, {label}")
            rows = np.flatnonzero((pop_years >= lo) & (pop_years <= hi))
            model, table, boot, test = _window_drivers(pop_task, pop, rows, label, max_rows=max_rows,
                                                       n_repeats=n_repeats, n_boot=n_boot, seed=seed,
                                                       n_jobs=n_jobs, params=params)
            frames.append(table)
            boots[label], models[label] = boot, model
            samples[label] = pop.X.iloc[test[:300]]
        drivers = pd.concat(frames, ignore_index=True)
        changes = _driver_changes(drivers, boots, labels, list(pop.features.columns))
        mean_importance = drivers.groupby("feature")["permutation_mae_increase"].mean()
        numeric = [f for f in mean_importance.sort_values(ascending=False).index if f in pop.features.numeric]
        top_features = numeric[:top]
        grid = {f: np.unique(np.nanpercentile(pop.X[f].to_numpy(float), np.linspace(2, 98, 15)))
                for f in top_features}
        pdp = _partial_dependence(models, samples, top_features, grid)
    else:
        notes.append(f"drivers by era skipped: fewer than two {window}-year windows with "
                     f"{min_window_tracks:,} tracks")
    drift, shifts, words = (_drift(pop.rows, pop_years, windows, n_boot=n_boot, seed=seed)
                            if len(windows) >= 2 else (pd.DataFrame(), pd.DataFrame(), []))
    result = ErasResult(None, span, staleness, headline, folds, cohorts, drivers, changes, pdp, drift,
                        shifts, words, {}, notes)
    result.facts = _facts(result, headline_origin)
    result.seconds = time.perf_counter() - started
    return result


def _headline(staleness: pd.DataFrame, origin: int | None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if not len(staleness):
        return out
    gap = f"{HEADLINE_GAP[0]}-{HEADLINE_GAP[1]} years later"
    for name, part in staleness.groupby("task", sort=False):
        rows = part[(part["origin"] == origin) & (part["gap"] == gap)] if origin is not None else part[:0]
        if not len(rows):
            rows = part[part["gap"] == "all later years"].tail(1)
        if len(rows):
            out[str(name)] = rows.iloc[0].to_dict()
    return out


def _facts(result: ErasResult, headline_origin: int | None) -> dict[str, Any]:
    """Everything the prose needs, as plain values."""
    facts: dict[str, Any] = {"years": list(result.years or ()), "headline_origin": headline_origin,
                             "headline": result.headline, "notes": list(result.notes),
                             "shifts": list(result.shifts_in_words)}
    s = result.staleness
    if len(s):
        every = s[s["gap"] == "all later years"]
        facts["origins"] = sorted(int(o) for o in s["origin"].unique())
        facts["worse_folds"] = int((every["real"] & (every["loss"] > 0)).sum())
        facts["better_folds"] = int((every["real"] & (every["loss"] < 0)).sum())
        facts["folds"] = len(every)
    if len(result.windows):
        w = result.windows
        facts["windows"] = w["window"].tolist()
        first, last = w.iloc[0], w.iloc[-1]
        facts["cohort_first"] = {k: first[k] for k in ("window", "mean_popularity", "low", "high", "tracks")}
        facts["cohort_last"] = {k: last[k] for k in ("window", "mean_popularity", "low", "high", "tracks")}
    if len(result.driver_changes):
        c = result.driver_changes
        real = c[c["permutation_real"]]
        biggest = real.reindex(real["permutation_change"].abs().sort_values(ascending=False).index).head(5)
        facts["real_changes"] = [
            {"feature": r["feature"], "from": r["from"], "to": r["to"], "change": r["permutation_change"],
             "low": r["permutation_change_low"], "high": r["permutation_change_high"]}
            for r in biggest.to_dict("records")
        ]
        facts["changes_tested"] = len(c)
        facts["real_change_count"] = len(real)
        latest = result.drivers[result.drivers["window"] == result.drivers["window"].iloc[-1]]
        facts["latest_top"] = latest.sort_values("permutation_mae_increase",
                                                 ascending=False)["feature"].head(3).tolist()
        earliest = result.drivers[result.drivers["window"] == result.drivers["window"].iloc[0]]
        facts["earliest_top"] = earliest.sort_values("permutation_mae_increase",
                                                     ascending=False)["feature"].head(3).tolist()
    return facts


def run(ctx: Context) -> ErasResult:
    """The eras analysis of a run (grouped as the run's ``--group-by``)."""
    return analyse(ctx.tracks, groups=ctx.groups(), seed=ctx.config.seed, progress=ctx.progress)
