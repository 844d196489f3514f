"""Popularity (0-100) from audio features: the seed's analyses, done right.

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

>>> import hitlab.popularity as popularity                       # doctest: +SKIP
>>> result = popularity.fit(tracks, budget=10, seed=42)          # doctest: +SKIP
>>> result.fit.leaderboard(); result.ols; result.drivers          # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hitlab import plots
from hitlab.errors import DataError
from hitlab.features import NUMERIC_COLUMNS, FeatureSet, feature_frame, resolve_features
from hitlab.modeling import Task, TaskResult, bootstrap, fit_task
from hitlab.modeling.zoo import available_models
from hitlab.songs import group_labels, grouping_note

__all__ = [
    "DEFAULT_MODELS",
    "DEFAULT_TRIALS",
    "OTHER_BUDGET_SHARE",
    "QUICK_MODELS",
    "PopularityResult",
    "errors_by_genre",
    "fit",
    "ols_summary",
    "popularity_task",
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
DEFAULT_MODELS: tuple[str, ...] = ("linear", "lightgbm")
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


# --------------------------------------------------------------------------- OLS


def _design(tracks: pd.DataFrame, features: FeatureSet) -> pd.DataFrame:
    """Numeric columns as they are, categorical ones as dummies with the first level dropped."""
    X = feature_frame(tracks, features)
    parts = [X[list(features.numeric)]]
    for column in features.categorical:
        dummies = pd.get_dummies(X[column], prefix=column, prefix_sep="=", dtype=float)
        if dummies.shape[1] > 1:
            parts.append(dummies.iloc[:, 1:])
    design = pd.concat(parts, axis=1)
    return design.loc[:, design.std() > 0]


def _vifs(values: np.ndarray) -> np.ndarray:
    """VIF of each column (intercept implied): the diagonal of the inverse correlation matrix,
    which equals 1 / (1 - R2) of regressing the column on all the others."""
    out = np.full(values.shape[1], np.nan)
    varying = np.nanstd(values, axis=0) > 0
    if varying.sum() >= 2:
        corr = np.corrcoef(values[:, varying], rowvar=False)
        out[varying] = np.diag(np.linalg.pinv(corr))
    elif varying.sum() == 1:
        out[varying] = 1.0
    return out


def vif_table(tracks: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Variance inflation factor of each numeric column (with an intercept in the design).

    A VIF above 5-10 says the column is mostly explained by the others (collinear).
    """
    numeric = pd.DataFrame({c: pd.to_numeric(tracks[c], errors="coerce").astype("float64") for c in columns})
    numeric = numeric.dropna()
    vifs = _vifs(numeric.to_numpy())
    corr = numeric.corr()
    partner = [corr[c].drop(c).abs().idxmax() if corr[c].drop(c).notna().any() else c for c in columns]
    return pd.DataFrame({
        "feature": list(columns),
        "vif": vifs,
        "most_correlated_with": partner,
        "r": [corr.loc[c, p] for c, p in zip(columns, partner, strict=True)],
    })


def ols_summary(tracks: pd.DataFrame, features: FeatureSet) -> tuple[pd.DataFrame, dict[str, Any]]:
    """OLS of popularity on the features, with an intercept.

    Returns
    -------
    (table, stats)
        ``table``: one row per term (``const`` first): coef, std_err, t, p, ci_low, ci_high,
        vif. ``stats``: n, centered r2 and adjusted r2, F-test p value, AIC, and
        ``r2_uncentered_without_intercept``: the R2 statsmodels reports for the seed's
        fit without an intercept, which is *uncentered* (compares to 0, not to the mean).
    """
    import statsmodels.api as sm

    rows = tracks[tracks["popularity"].notna()]
    design = _design(rows, features)
    y = rows["popularity"].astype("float64").to_numpy()
    keep = design.notna().all(axis=1).to_numpy()
    design, y = design[keep], y[keep]
    if len(design) <= design.shape[1] + 1:
        raise DataError(f"OLS needs more tracks than terms: {len(design)} tracks, {design.shape[1]} terms")
    with_const = sm.add_constant(design, has_constant="add")
    model = sm.OLS(y, with_const).fit()
    ci = model.conf_int()
    vif = [np.nan, *_vifs(design.to_numpy(float))]
    table = pd.DataFrame({
        "term": with_const.columns,
        "coef": model.params.to_numpy(),
        "std_err": model.bse.to_numpy(),
        "t": model.tvalues.to_numpy(),
        "p": model.pvalues.to_numpy(),
        "ci_low": ci.iloc[:, 0].to_numpy(),
        "ci_high": ci.iloc[:, 1].to_numpy(),
        "vif": vif,
    })
    no_intercept = sm.OLS(y, design).fit()
    stats = {
        "n": int(model.nobs),
        "terms": int(design.shape[1]) + 1,
        "r2": float(model.rsquared),
        "adj_r2": float(model.rsquared_adj),
        "f_pvalue": float(model.f_pvalue),
        "aic": float(model.aic),
        "r2_uncentered_without_intercept": float(no_intercept.rsquared),
        "r2_note": "r2 is centered (an intercept is fitted). The seed fitted no intercept; statsmodels then "
                   "reports an uncentered R2 (r2_uncentered_without_intercept), not comparable to r2.",
    }
    return table, stats


# --------------------------------------------------------------------------- errors


def error_table(result: TaskResult) -> pd.DataFrame:
    """One row per test track: actual and predicted popularity of the chosen model and the baseline."""
    rows = result.test_rows
    actual = result.y_test
    predicted = result.best.prediction
    out = pd.DataFrame({
        "track_id": rows["track_id"].astype("string").to_numpy(),
        "track_name": rows["track_name"].astype("string").to_numpy() if "track_name" in rows else pd.NA,
        "artist_name": rows["artist_name"].astype("string").to_numpy() if "artist_name" in rows else pd.NA,
        "genre": (rows["genre"].astype("string").fillna("unlabelled").to_numpy()
                  if "genre" in rows else "unlabelled"),
        "actual": actual,
        "predicted": predicted,
        "error": predicted - actual,
        "baseline_predicted": result.baseline.prediction,
    })
    out["abs_error"] = out["error"].abs()
    return out


def errors_by_genre(errors: pd.DataFrame, *, n_boot: int = 1000, seed: int = 42,
                    groups: np.ndarray | None = None) -> pd.DataFrame:
    """Per genre: tracks, MAE with its 95% CI, the median baseline's MAE, mean error (bias).

    ``groups``: the split group of each row of ``errors`` (``TaskResult.test_groups``); the
    CIs then resample whole groups (songs, or artists with ``group_by="artist"``).
    """
    records = []
    labels = np.asarray(groups) if groups is not None else None
    parts = [("all", errors), *((str(g), part) for g, part in errors.groupby("genre", sort=True))]
    for genre, part in parts:
        y = part["actual"].to_numpy(float)
        where = None if labels is None else labels[errors.index.get_indexer(part.index)]
        model = bootstrap(["mae"], y, part["predicted"].to_numpy(float), n_boot=n_boot, seed=seed,
                          groups=where)["mae"]
        base = bootstrap(["mae"], y, part["baseline_predicted"].to_numpy(float), n_boot=0)["mae"]
        records.append({
            "genre": genre,
            "tracks": len(part),
            "mae": model.value,
            "mae_low": model.low,
            "mae_high": model.high,
            "baseline_mae": base.value,
            "mean_error": float(part["error"].mean()),
            "mean_actual": float(y.mean()),
        })
    return pd.DataFrame(records)


# --------------------------------------------------------------------------- drivers


def _raw_feature_of(names: Sequence[str], features: FeatureSet) -> list[str]:
    """Map transformed column names (``num__year``, ``cat__genre_pop``) back to their feature."""
    out = []
    for name in names:
        kind, _, rest = name.partition("__")
        if kind == "num":
            out.append(rest)
        else:
            out.append(next(c for c in sorted(features.categorical, key=len, reverse=True)
                            if rest.startswith(c + "_")))
    return out


def shap_values(result: TaskResult, X: pd.DataFrame, model: str = "lightgbm") -> pd.DataFrame | None:
    """Per-track SHAP values per feature (one-hot columns summed back), from LightGBM's ``pred_contrib``.

    Uses the tuned LightGBM candidate (fitted on the training part); None when the run
    has no LightGBM candidate.
    """
    try:
        pipeline = result.candidate(model).pipeline
    except Exception:
        return None
    transformed = pipeline.named_steps["prep"].transform(X)
    names = pipeline.named_steps["prep"].get_feature_names_out()
    contrib = pipeline.named_steps["model"].predict(transformed, pred_contrib=True)[:, :-1]
    raw = _raw_feature_of(list(names), result.features)
    frame = pd.DataFrame(contrib, columns=raw, index=X.index)
    return frame.T.groupby(level=0, sort=False).sum().T[list(result.features.columns)]


@dataclass
class Drivers:
    """Permutation importance, SHAP values and partial dependence of the chosen model."""

    table: pd.DataFrame
    shap: pd.DataFrame | None
    shap_model: str | None
    sample: pd.DataFrame
    partial_dependence: pd.DataFrame


def drivers(result: TaskResult, *, max_rows: int = 1000, n_repeats: int = 3, top: int = 4,
            pdp_rows: int = 300, grid_resolution: int = 15, seed: int = 42) -> Drivers:
    """What makes a hit: permutation importance (MAE increase), mean |SHAP|, partial dependence.

    On a random sample of ``max_rows`` test tracks (partial dependence: ``pdp_rows`` of them),
    which keeps the stage fast; the ranking of features is stable at that size.
    """
    from sklearn.inspection import partial_dependence, permutation_importance

    rng = np.random.default_rng(seed)
    test = result.split.test
    pick = np.sort(rng.choice(test.size, size=min(max_rows, test.size), replace=False))
    X = result.X.iloc[test[pick]]
    y = result.y[test[pick]]
    pipeline = result.best.pipeline
    perm = permutation_importance(pipeline, X, y, scoring="neg_mean_absolute_error", n_repeats=n_repeats,
                                  random_state=seed, n_jobs=1)
    table = pd.DataFrame({
        "feature": list(X.columns),
        "kind": ["numeric" if c in result.features.numeric else "categorical" for c in X.columns],
        "permutation_mae_increase": perm.importances_mean,
        "permutation_std": perm.importances_std,
    })
    shap = shap_values(result, X)
    shap_model = "lightgbm" if shap is not None else None
    if shap is not None:
        table["mean_abs_shap"] = [float(shap[c].abs().mean()) for c in X.columns]
        direction = []
        for c in X.columns:
            if c in result.features.numeric and X[c].std() > 0 and shap[c].std() > 0:
                direction.append(float(np.corrcoef(X[c].to_numpy(float), shap[c].to_numpy())[0, 1]))
            else:
                direction.append(np.nan)
        table["shap_direction"] = direction
    table = table.sort_values("permutation_mae_increase", ascending=False, kind="stable")
    table = table.reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    numeric_top = [f for f in table["feature"] if f in result.features.numeric][:top]
    curves = []
    pdp_sample = X.sample(n=min(pdp_rows, len(X)), random_state=seed)  # random: rows are in file order
    for feature in numeric_top:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            pd_result = partial_dependence(pipeline, pdp_sample, [feature], kind="average",
                                           grid_resolution=grid_resolution, percentiles=(0.02, 0.98))
        grid = pd_result["grid_values"][0]
        curves.append(pd.DataFrame({"feature": feature, "value": grid,
                                    "predicted_popularity": pd_result["average"][0]}))
    pdp = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(
        columns=["feature", "value", "predicted_popularity"])
    return Drivers(table, shap, shap_model, X, pdp)


# --------------------------------------------------------------------------- the analysis


@dataclass
class PopularityResult:
    """Everything :func:`fit` produced; :meth:`figures` draws it, :meth:`summary` sums it up."""

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
        """The tables of the run folder, by path relative to it (``popularity/*.csv``)."""
        predictions = self.errors.drop(columns=["abs_error"])
        return {
            "popularity/leaderboard.csv": self.leaderboard,
            "popularity/timings.csv": self.fit.timings(),
            "popularity/ols.csv": self.ols,
            "popularity/vif.csv": self.vif,
            "popularity/errors_by_genre.csv": self.errors_by_genre,
            "popularity/drivers.csv": self.drivers.table,
            "popularity/partial_dependence.csv": self.drivers.partial_dependence,
            "popularity/test_predictions.csv": predictions,
        }

    def section(self, figure_files: dict[str, str]) -> dict[str, Any]:
        """The report section (``popularity/section.json``, see :mod:`hitlab.report.builder`)."""
        fit, best, base = self.fit, self.fit.best, self.fit.baseline
        mae, base_mae = best.metrics["mae"], base.metrics["mae"]
        split = fit.split.describe()
        top = self.drivers.table["feature"].head(3).tolist()
        energy = self.vif.set_index("feature")["vif"].get("energy")
        reading = [
            f"The chosen model ({best.model}, picked by {fit.task.metric.upper()} in grouped "
            f"{len(fit.folds)}-fold cross-validation on the training part) misses a track's popularity by "
            f"{mae.value:.2f} points on average (95% CI {mae.low:.2f} to {mae.high:.2f}) on "
            f"{split['test_rows']:,} held-out tracks; always guessing the median misses by "
            f"{base_mae.value:.2f}.",
            f"R2 on the test tracks is {best.metrics['r2'].value:.3f}: audio features explain little of "
            "popularity."
            + (f" The OLS fit with an intercept has a centered R2 of {self.ols_stats['r2']:.3f}; "
               f"without an intercept (the seed's fit) statsmodels reports an uncentered R2 of "
               f"{self.ols_stats['r2_uncentered_without_intercept']:.3f}, which is not comparable."
               if "r2" in self.ols_stats else f" {self.ols_stats.get('skipped', '')}"),
            f"No {split['group_by']} is on both sides of the split. The strongest drivers (permutation "
            f"importance on test tracks) are {', '.join(top)}.",
        ]
        if energy is not None and np.isfinite(energy):
            reading.append(f"energy's variance inflation factor is {energy:.1f} (most correlated with "
                           f"{self.vif.set_index('feature').loc['energy', 'most_correlated_with']}); "
                           + ("it is a feature: cross-validation found the model better with it than "
                              "without it (the seed left it out)." if "energy" in self.fit.features.numeric
                              else "it is not a feature of this run."))
        metrics = [
            {"name": METRIC_LABELS[name], "value": best.metrics[name].value,
             "ci": [best.metrics[name].low, best.metrics[name].high],
             "baseline": base.metrics[name].value, "better": "higher" if name == "r2" else "lower"}
            for name in ("mae", "rmse", "r2")
        ]
        blocks: list[dict[str, Any]] = [
            {"kind": "table", "title": "Leaderboard", "csv": "popularity/leaderboard.csv",
             "note": "Test metrics with bootstrap 95% CIs; the model is chosen by its cross-validated MAE "
                     "(cv_mae), never by the test score."},
        ]
        captions = {
            "popularity_leaderboard": "Test MAE per model with its 95% CI",
            "popularity_predicted_vs_actual": "Predicted vs actual popularity (test tracks)",
            "popularity_error_histogram": "Prediction errors",
            "popularity_error_vs_actual": "Error vs true popularity: the model pulls towards the middle",
            "popularity_error_by_genre": "Absolute error by genre",
            "popularity_importance": "Permutation importance and mean |SHAP| per feature",
            "popularity_shap": "SHAP values per track",
            "popularity_partial_dependence": "Partial dependence of the top features",
        }
        for stem, caption in captions.items():
            if stem in figure_files:
                blocks.append({"kind": "figure", "title": caption, "file": figure_files[stem]})
        blocks += [
            {"kind": "table", "title": "Error by genre", "csv": "popularity/errors_by_genre.csv",
             "note": "MAE of the chosen model per (primary) genre with its 95% CI, beside the median "
                     "baseline."},
            {"kind": "table", "title": "What makes a hit", "csv": "popularity/drivers.csv",
             "note": "permutation_mae_increase: how much worse the test MAE gets when the feature is "
                     "shuffled; mean_abs_shap: average size of its SHAP value; shap_direction: correlation "
                     "of the feature with its SHAP value (positive: higher value, more popular)."},
            {"kind": "table", "title": "OLS with an intercept", "csv": "popularity/ols.csv",
             "note": "Coefficients in the features' own units; categorical features against their "
                     "first level."},
            {"kind": "table", "title": "Variance inflation factors of all audio features",
             "csv": "popularity/vif.csv"},
        ]
        return {"title": "Popularity", "reading": reading, "metrics": metrics, "blocks": blocks}

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
        A first look: fewer models, :data:`QUICK_TRIALS` LightGBM trials, fewer rows for the
        drivers.
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
    from threadpoolctl import threadpool_limits

    say = progress or (lambda message: None)
    task = popularity_task(features)
    if models is None and not full:
        chosen = QUICK_MODELS if quick else DEFAULT_MODELS
        models = [m for m in chosen if m in available_models("regression")]
    budgets = {name: SAFETY_FACTOR * budget * OTHER_BUDGET_SHARE for name in available_models("regression")}
    budgets[task.default_model] = SAFETY_FACTOR * budget
    trials = {name: OTHER_TRIALS.get(name, 1) for name in available_models("regression")}
    trials[task.default_model] = QUICK_TRIALS if quick else DEFAULT_TRIALS
    groups = group_labels(tracks, group_by)
    with threadpool_limits(limits=n_jobs if n_jobs > 0 else None):
        result = fit_task(tracks, task, models=models, budget=SAFETY_FACTOR * budget, budgets=budgets,
                          seed=seed, groups=groups, group_by=group_by, n_boot=n_boot, n_jobs=n_jobs,
                          progress=say, max_trials=max_trials, trials=trials,
                          params={DEFAULT_MODEL: QUICK_LIGHTGBM_PARAMS} if quick else None)
    note = grouping_note(result.rows, group_by)
    if note:
        result.notes.append(note)
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
