"""The steps of :mod:`hitlab.analyses.eras`: staleness folds, drivers per era window, feature
drift and popularity cohorts. Each takes the task's data and returns tables; no I/O."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hitlab.analyses._fitting import (
    TaskData,
    excludes_zero,
    fit_model,
    independent_difference,
    mean_ci,
    mean_cis,
    member,
    percentile_ci,
    predict,
    resampled_means,
)
from hitlab.modeling import Task, inner_folds
from hitlab.modeling.evaluate import bootstrap_indices

#: Audio features whose drift is described (those present in the data are used).
DRIFT_COLUMNS: tuple[str, ...] = ("duration_ms", "loudness", "danceability", "energy", "valence", "tempo",
                                  "acousticness", "speechiness", "instrumentalness", "liveness")
#: Distances from the origin (years after it, inclusive) that staleness is reported for.
GAPS: tuple[tuple[int, int], ...] = ((1, 2), (3, 5), (6, 10))
#: The gap of the headline ("trained up to 2015, scored on 2018-2020").
HEADLINE_GAP = (3, 5)
TASK_METRIC = {"popularity": "MAE", "genre": "accuracy"}
UNITS = {"duration_ms": ("duration", 1 / 60000, "min"), "loudness": ("loudness", 1.0, "dB"),
         "tempo": ("tempo", 1.0, "BPM")}


@dataclass(frozen=True)
class EraFold:
    """One forward fold, as positions into its task's rows (recorded so tests can check them).

    ``random_parts`` holds, for each half of the test rows, (training positions, test positions)
    of the random-split model that predicted that half.
    """

    task: str
    origin: int
    train: np.ndarray
    test: np.ndarray
    random_parts: tuple[tuple[np.ndarray, np.ndarray], ...]
    left_out: int



def _years(rows: pd.DataFrame) -> np.ndarray:
    """Release year as float (NaN where unknown)."""
    if "year" not in rows.columns:
        return np.full(len(rows), np.nan)
    return pd.to_numeric(rows["year"], errors="coerce").astype("float64").to_numpy(na_value=np.nan)


def _label(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}-{hi}"



# --------------------------------------------------------------------------- staleness


def _per_row_score(task: Task, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Absolute error (regression) or 1/0 right (classification), per row."""
    if task.kind == "regression":
        return np.abs(y - pred)
    return (np.asarray(y) == np.asarray(pred)).astype(float)


def _random_parts(data: TaskData, test: np.ndarray, eligible: np.ndarray, n_train: int,
                  seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two grouped halves of ``test``; for each, ``n_train`` rows drawn at random from ``eligible``
    rows whose group is not in that half."""
    halves = inner_folds(data.groups[test], n_splits=2, seed=seed)
    rng = np.random.default_rng(seed)
    parts = []
    for _, held in halves:
        part = test[held]
        pool = eligible[~member(data.groups[eligible], data.groups[part])]
        size = min(n_train, pool.size)
        parts.append((np.sort(rng.choice(pool, size=size, replace=False)), np.sort(part)))
    return parts


def _staleness_for_task(task: Task, data: TaskData, origins: list[int], *, min_test: int, n_boot: int,
                        seed: int, n_jobs: int, say: Callable[[str], None],
                        params: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], list[EraFold]]:
    years = _years(data.rows)
    known = np.flatnonzero(np.isfinite(years))
    n_classes = len(data.classes) if data.classes is not None else None
    records: list[dict[str, Any]] = []
    folds: list[EraFold] = []
    for origin in origins:
        train = known[years[known] <= origin]
        later = known[years[known] > origin]
        clash = member(data.groups[later], data.groups[train])
        test = later[~clash]
        if train.size < 50 or test.size < min_test:
            continue
        say(f"{task.name}: trained up to {origin} ({train.size:,} tracks), scored on {test.size:,} later")
        model = fit_model(task, data.features, data.X.iloc[train], data.y[train], seed=seed, n_jobs=n_jobs,
                          params=params)
        forward_pred, _ = predict(model, task.kind, data.X.iloc[test], n_classes)
        parts = _random_parts(data, test, known, train.size, seed)
        random_pred = np.empty_like(forward_pred)
        where = {pos: i for i, pos in enumerate(test)}
        for r_train, r_test in parts:
            r_model = fit_model(task, data.features, data.X.iloc[r_train], data.y[r_train], seed=seed,
                                n_jobs=n_jobs, params=params)
            pred, _ = predict(r_model, task.kind, data.X.iloc[r_test], n_classes)
            random_pred[[where[p] for p in r_test]] = pred
        folds.append(EraFold(task.name, origin, train, test, tuple(parts), int(clash.sum())))
        y_test = data.y[test]
        forward = _per_row_score(task, y_test, forward_pred)
        random = _per_row_score(task, y_test, random_pred)
        if task.kind == "regression":
            base_pred = np.full(test.size, float(np.median(data.y[train])))
        else:
            base_pred = np.full(test.size, int(np.bincount(data.y[train]).argmax()))
        baseline = _per_row_score(task, y_test, base_pred)
        gap_years = years[test] - origin
        buckets = [(f"{lo}-{hi} years later", lo, hi) for lo, hi in GAPS]
        buckets.append(("all later years", 1, 10_000))
        for name, lo, hi in buckets:
            inside = (gap_years >= lo) & (gap_years <= hi)
            if inside.sum() < min_test:
                continue
            worse = (forward - random) if task.kind == "regression" else (random - forward)
            est = mean_cis({"forward": forward[inside], "random": random[inside], "loss": worse[inside]},
                           n_boot=n_boot, seed=seed, groups=data.groups[test][inside])
            f_est, r_est, loss = est["forward"], est["random"], est["loss"]
            seen = years[test][inside]
            records.append({
                "task": task.name, "metric": TASK_METRIC[task.name], "origin": origin,
                "trained_on": f"up to {origin}", "train_tracks": int(train.size),
                "gap": name, "test_years": _label(int(seen.min()), int(seen.max())),
                "test_tracks": int(inside.sum()),
                "forward": f_est.value, "forward_low": f_est.low, "forward_high": f_est.high,
                "random": r_est.value, "random_low": r_est.low, "random_high": r_est.high,
                "loss": loss.value, "loss_low": loss.low, "loss_high": loss.high,
                "real": excludes_zero(loss), "baseline": float(baseline[inside].mean()),
            })
    return records, folds


# --------------------------------------------------------------------------- drivers by window


def _raw_columns(pipeline: Any, data: TaskData) -> np.ndarray:
    """The feature each transformed column comes from (one-hot columns map back to their feature)."""
    prep = pipeline.named_steps["prep"]
    out: list[str] = list(data.features.numeric) if data.features.numeric else []
    if data.features.categorical:
        encoder = prep.named_transformers_["cat"]
        for column, categories in zip(data.features.categorical, encoder.categories_, strict=True):
            out += [column] * len(categories)
    return np.asarray(out, dtype=object)


def _window_drivers(task: Task, data: TaskData, rows: np.ndarray, label: str, *, max_rows: int,
                    n_repeats: int, n_boot: int, seed: int, n_jobs: int, params: dict[str, Any] | None = None
                    ) -> tuple[Any, pd.DataFrame, dict[str, np.ndarray], np.ndarray]:
    """Fit one window; per-feature permutation importance and mean |SHAP| with CIs on its test part."""
    fit_part, test_part = inner_folds(data.groups[rows], n_splits=3, seed=seed)[0]
    train, test = rows[fit_part], rows[test_part]
    model = fit_model(task, data.features, data.X.iloc[train], data.y[train], seed=seed, n_jobs=n_jobs,
                      params=params)
    rng = np.random.default_rng(seed)
    if test.size > max_rows:
        test = np.sort(rng.choice(test, size=max_rows, replace=False))
    X, y = data.X.iloc[test], data.y[test]
    base_err = np.abs(y - predict(model, task.kind, X)[0])
    columns = list(data.features.columns)
    increase = np.zeros((test.size, len(columns)))
    for j, column in enumerate(columns):
        for _ in range(n_repeats):
            shuffled = X.copy()
            shuffled[column] = X[column].to_numpy()[rng.permutation(test.size)]
            increase[:, j] += np.abs(y - predict(model, task.kind, shuffled)[0]) - base_err
    increase /= n_repeats
    transformed = model.named_steps["prep"].transform(X)
    contrib = model.named_steps["model"].predict(transformed, pred_contrib=True)[:, :-1]
    raw = _raw_columns(model, data)
    shap = np.stack([contrib[:, raw == c].sum(axis=1) for c in columns], axis=1)
    groups = data.groups[test]
    perm_point, perm_boot = resampled_means(increase, n_boot=n_boot, seed=seed, groups=groups)
    shap_point, shap_boot = resampled_means(np.abs(shap), n_boot=n_boot, seed=seed, groups=groups)
    records = []
    for j, column in enumerate(columns):
        p = percentile_ci(perm_point[j], perm_boot[:, j])
        s = percentile_ci(shap_point[j], shap_boot[:, j])
        direction = np.nan
        if column in data.features.numeric and X[column].std() > 0 and shap[:, j].std() > 0:
            direction = float(np.corrcoef(X[column].to_numpy(float), shap[:, j])[0, 1])
        records.append({"window": label, "feature": column, "tracks": int(rows.size),
                        "test_tracks": int(test.size), "permutation_mae_increase": p.value,
                        "permutation_low": p.low, "permutation_high": p.high, "mean_abs_shap": s.value,
                        "shap_low": s.low, "shap_high": s.high, "shap_direction": direction})
    return model, pd.DataFrame(records), {"perm": perm_boot, "shap": shap_boot}, test


def _driver_changes(drivers: pd.DataFrame, boots: dict[str, dict[str, np.ndarray]],
                    labels: list[str], columns: list[str]) -> pd.DataFrame:
    records = []
    for before, after in itertools.pairwise(labels):
        a = drivers[drivers["window"] == after].set_index("feature")
        b = drivers[drivers["window"] == before].set_index("feature")
        for j, column in enumerate(columns):
            perm = independent_difference(
                a.loc[column, "permutation_mae_increase"], boots[after]["perm"][:, j],
                b.loc[column, "permutation_mae_increase"], boots[before]["perm"][:, j])
            shap = independent_difference(a.loc[column, "mean_abs_shap"], boots[after]["shap"][:, j],
                                          b.loc[column, "mean_abs_shap"], boots[before]["shap"][:, j])
            records.append({"feature": column, "from": before, "to": after,
                            "permutation_change": perm.value, "permutation_change_low": perm.low,
                            "permutation_change_high": perm.high, "permutation_real": excludes_zero(perm),
                            "shap_change": shap.value, "shap_change_low": shap.low,
                            "shap_change_high": shap.high, "shap_real": excludes_zero(shap)})
    return pd.DataFrame(records)


def _partial_dependence(models: dict[str, Any], samples: dict[str, pd.DataFrame], features: list[str],
                        grid: dict[str, np.ndarray]) -> pd.DataFrame:
    from sklearn.inspection import partial_dependence

    frames = []
    for label, model in models.items():
        for feature in features:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                result = partial_dependence(model, samples[label], [feature], kind="average",
                                            custom_values={feature: grid[feature]})
            frames.append(pd.DataFrame({"window": label, "feature": feature, "value": grid[feature],
                                        "predicted_popularity": result["average"][0]}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["window", "feature", "value", "predicted_popularity"])


# --------------------------------------------------------------------------- drift and cohorts


def _smd_boot(a: np.ndarray, b: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap resamples of the standardised mean difference (b - a) / pooled sd."""
    out = []
    ia = bootstrap_indices(a.size, n_boot, seed)
    ib = bootstrap_indices(b.size, n_boot, seed + 1)
    for start in range(0, n_boot, 100):
        xa, xb = a[ia[start:start + 100]], b[ib[start:start + 100]]
        pooled = np.sqrt((xa.var(axis=1, ddof=1) + xb.var(axis=1, ddof=1)) / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append((xb.mean(axis=1) - xa.mean(axis=1)) / pooled)
    return np.concatenate(out) if out else np.empty(0)


def _smd(a: np.ndarray, b: np.ndarray) -> float:
    pooled = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    return float((b.mean() - a.mean()) / pooled) if pooled > 0 else float("nan")


def _drift(tracks: pd.DataFrame, years: np.ndarray, windows: list[tuple[int, int]], *, n_boot: int,
           seed: int) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    columns = [c for c in DRIFT_COLUMNS if c in tracks.columns and tracks[c].notna().any()]
    values = {c: pd.to_numeric(tracks[c], errors="coerce").astype("float64").to_numpy(na_value=np.nan)
              for c in columns}
    summary, shifts = [], []
    reference = windows[-1]
    ref_label = _label(*reference)
    for lo, hi in windows:
        inside = (years >= lo) & (years <= hi)
        for c in columns:
            x = values[c][inside & np.isfinite(values[c])]
            q10, q50, q90 = np.percentile(x, [10, 50, 90]) if x.size else (np.nan,) * 3
            summary.append({"window": _label(lo, hi), "feature": c, "tracks": int(x.size),
                            "mean": float(x.mean()) if x.size else np.nan,
                            "sd": float(x.std(ddof=1)) if x.size > 1 else np.nan,
                            "q10": q10, "median": q50, "q90": q90})
            if (lo, hi) == reference:
                continue
            inside_ref = (years >= reference[0]) & (years <= reference[1])
            y_ref = values[c][inside_ref & np.isfinite(values[c])]
            if x.size < 2 or y_ref.size < 2:
                continue
            est = percentile_ci(_smd(x, y_ref), _smd_boot(x, y_ref, n_boot, seed))
            shifts.append({"feature": c, "from": _label(lo, hi), "to": ref_label,
                           "mean_from": float(x.mean()), "mean_to": float(y_ref.mean()),
                           "smd": est.value, "smd_low": est.low,
                           "smd_high": est.high, "real": excludes_zero(est)})
    shift_table = pd.DataFrame(shifts)
    words: list[str] = []
    if len(shift_table):
        earliest = shift_table[shift_table["from"] == _label(*windows[0])]
        earliest = earliest.reindex(earliest["smd"].abs().sort_values(ascending=False).index).head(5)
        for r in earliest.to_dict("records"):
            name, scale, unit = UNITS.get(r["feature"], (r["feature"], 1.0, ""))
            unit = f" {unit}" if unit else ""
            way = "higher" if r["smd"] > 0 else "lower"
            words.append(
                f"{name}: {r['mean_from'] * scale:.3g}{unit} in {r['from']} tracks, "
                f"{r['mean_to'] * scale:.3g}{unit} in {r['to']} tracks ({abs(r['smd']):.2f} standard "
                f"deviations {way}, 95% CI {r['smd_low']:.2f} to {r['smd_high']:.2f}"
                + ("" if r["real"] else "; not a clear shift") + ")."
            )
    return pd.DataFrame(summary), shift_table, words


def _cohorts(data: TaskData, years: np.ndarray, windows: list[tuple[int, int]], *, n_boot: int,
             seed: int) -> pd.DataFrame:
    records = []
    for lo, hi in windows:
        inside = (years >= lo) & (years <= hi)
        pop = data.y[inside]
        est = mean_ci(pop, n_boot=n_boot, seed=seed, groups=data.groups[inside])
        records.append({"window": _label(lo, hi), "first_year": lo, "last_year": hi,
                        "tracks": int(inside.sum()), "mean_popularity": est.value, "low": est.low,
                        "high": est.high,
                        "median_popularity": float(np.median(pop)) if pop.size else np.nan,
                        "share_below_10": float((pop < 10).mean()) if pop.size else np.nan})
    return pd.DataFrame(records)


