"""The popularity analysis's tables: OLS with VIFs, error views, drivers ("what makes a hit").

Pure functions over the track table or a fitted popularity :class:`~hitlab.modeling.TaskResult`;
they return DataFrames and write nothing. Used by :mod:`hitlab.analyses.popularity`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.regression.linear_model import OLS
from statsmodels.tools.tools import add_constant

from hitlab.errors import DataError
from hitlab.features import FeatureSet, feature_frame
from hitlab.modeling import TaskResult, bootstrap
from hitlab.modeling.explain import partial_dependence, permutation_importance

__all__ = [
    "Drivers",
    "drivers",
    "error_table",
    "errors_by_genre",
    "ols_summary",
    "shap_values",
    "vif_table",
]


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
    which equals 1 / (1 - R2) of regressing the column on all the others.

    statsmodels' ``variance_inflation_factor`` on the design with a constant gives the same values
    (to about 1e-15, ``tests/test_popularity.py``) but not the same last digits, which would change
    the bytes of ``popularity/vif.csv`` and ``ols.csv`` between versions; this form is kept, and it
    also handles constant columns (NaN) and a single column (1)."""
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
    rows = tracks[tracks["popularity"].notna()]
    design = _design(rows, features)
    y = rows["popularity"].astype("float64").to_numpy()
    keep = design.notna().all(axis=1).to_numpy()
    design, y = design[keep], y[keep]
    if len(design) <= design.shape[1] + 1:
        raise DataError(f"OLS needs more tracks than terms: {len(design)} tracks, {design.shape[1]} terms")
    with_const = add_constant(design, has_constant="add")
    model = OLS(y, with_const).fit()
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
    no_intercept = OLS(y, design).fit()
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
    rng = np.random.default_rng(seed)
    test = result.split.test
    pick = np.sort(rng.choice(test.size, size=min(max_rows, test.size), replace=False))
    X = result.X.iloc[test[pick]]
    y = result.y[test[pick]]
    pipeline = result.best.pipeline
    perm = permutation_importance(pipeline, X, y, lambda a, b: -float(np.mean(np.abs(a - b))),
                                  n_repeats=n_repeats, seed=seed)
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
    for feature, (grid, average) in zip(numeric_top, partial_dependence(
            pipeline, pdp_sample, numeric_top, grid_resolution=grid_resolution), strict=True):
        curves.append(pd.DataFrame({"feature": feature, "value": grid, "predicted_popularity": average}))
    pdp = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(
        columns=["feature", "value", "predicted_popularity"])
    return Drivers(table, shap, shap_model, X, pdp)
