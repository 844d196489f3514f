"""Benchmark: hitlab's default models against FLAML and AutoGluon, on hitlab's own split.

Built-in data (cleaned, playlist labels), the song-grouped 67/33 split that hitlab's ``fit``
makes (seed 42): the train/test rows are read from the fitted result (``TaskResult.split``),
never re-made here. Rows of each table:

- hitlab default: ``hitlab.popularity.fit`` / ``hitlab.genre.fit`` with a default run's
  options (what ``hitlab run`` calls); its held-out predictions are those of the chosen
  configuration fitted on the training part; "fit s" is the whole ``fit`` call (tuning of
  every zoo member, refits, CIs), the chosen model's own refit in brackets;
- the original analysis's random forest (``benchmarks/popularity.py``/``genre.py``: 250
  trees of depth 11 for popularity, 500 trees for genre) on hitlab's feature columns;
- FLAML (``time_budget``, metric MAE / accuracy) and AutoGluon ``best_quality``
  (``time_limit``; no neural networks, as no torch is installed, and no dynamic
  stacking, whose sub-fit crashed AutoGluon 1.6.3 when it fitted nothing; without ray
  its bagged folds are fitted one after another), each trained on exactly hitlab's
  training rows, twice: with every raw
  column of the table (all audio features, year, key, mode, duration, and genre for
  popularity / popularity for genre, as a user would hand it; ``raw``) and with hitlab's
  feature columns (``hitlab cols``); neither is given the song groups (their own internal
  validation splits rows);
- the median / majority baseline.

Metrics on hitlab's test rows with 95% CIs from 1,000 song-grouped bootstrap resamples
(``hitlab.modeling.evaluate``), and the paired CI of (system - hitlab) on the same resamples:
for MAE negative is better for the system, for accuracy and top-2 positive is.

AutoML predictions are cached in ``benchmarks/.cache/`` keyed by the split (sha256 of the
train and test track ids), system, budget and column set, so a re-run after hitlab's
defaults change re-scores hitlab without re-running AutoML (``--rerun`` forces it).

Needs the ``bench`` extra, in its own environment (never a core dependency)::

    python3 -m venv /work/venv-bench && /work/venv-bench/bin/pip install -e '.[bench,test]'
    /work/venv-bench/bin/python benchmarks/vs_automl.py [--budget 300] [--systems flaml,autogluon,rf]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hitlab import clean, load_tidytuesday, schema
from hitlab.config import RunConfig
from hitlab.labels import label_tracks
from hitlab.modeling.evaluate import bootstrap, bootstrap_indices

SEED = 42
N_BOOT = 1000
CACHE = Path(__file__).parent / ".cache"
CORES = os.cpu_count() or 1
SYSTEMS = ("rf", "flaml", "autogluon")
#: what a user would hand over: every audio feature, year, key, mode, duration (+ the other target)
RAW_COLUMNS = list(dict.fromkeys([*schema.AUDIO_FEATURES, "key", "mode", "loudness", "tempo", "duration_ms",
                                  "time_signature", "year"]))


@dataclass
class Row:
    name: str
    pred: np.ndarray  # popularity, or class codes
    proba: np.ndarray | None
    fit_s: float | None
    cores: str
    cached: bool = False


def split_key(result) -> str:  # type: ignore[no-untyped-def]
    ids = result.rows["track_id"].astype(str).to_numpy()
    text = "\n".join(ids[result.split.train]) + "\n--\n" + "\n".join(ids[result.split.test])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def raw_frame(result, task: str) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    other = "genre" if task == "popularity" else "popularity"
    cols = [c for c in [*RAW_COLUMNS, other] if c in result.rows and result.rows[c].notna().any()]
    frame = result.rows[cols].copy()
    for c in frame.columns:
        if c == "genre":
            frame[c] = frame[c].astype(str).astype("category")
        else:
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
    return frame.reset_index(drop=True)


def hitlab_frame(result) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    frame = result.X.copy().reset_index(drop=True)
    for c in result.features.categorical:
        if c in frame:
            frame[c] = frame[c].astype("category")
    return frame


def run_flaml(X_train, y_train, X_test, kind: str, budget: float, n_classes: int):  # type: ignore[no-untyped-def]
    from flaml import AutoML

    automl = AutoML()
    automl.fit(X_train, y_train, task="regression" if kind == "regression" else "classification",
               metric="mae" if kind == "regression" else "accuracy", time_budget=budget, n_jobs=CORES,
               seed=SEED, verbose=0)
    if kind == "regression":
        return automl.predict(X_test), None
    proba = np.zeros((len(X_test), n_classes))
    proba[:, np.asarray(automl.classes_, dtype=int)] = automl.predict_proba(X_test)
    return proba.argmax(axis=1), proba


def run_autogluon(X_train, y_train, X_test, kind: str, budget: float, n_classes: int):  # type: ignore[no-untyped-def]
    from autogluon.tabular import TabularPredictor

    train = X_train.assign(target=y_train)
    with tempfile.TemporaryDirectory() as path:
        predictor = TabularPredictor(
            label="target", path=path, verbosity=0,
            problem_type="regression" if kind == "regression" else "multiclass",
            eval_metric="mean_absolute_error" if kind == "regression" else "accuracy",
        ).fit(train, presets="best_quality", time_limit=budget, num_cpus=CORES, dynamic_stacking=False,
              excluded_model_types=["NN_TORCH", "FASTAI"])
        if kind == "regression":
            return predictor.predict(X_test).to_numpy(float), None
        raw = predictor.predict_proba(X_test)
        proba = np.zeros((len(X_test), n_classes))
        proba[:, raw.columns.to_numpy(dtype=int)] = raw.to_numpy()
        return proba.argmax(axis=1), proba


def automl_row(system: str, columns: str, result, task: str, budget: float, rerun: bool) -> Row:  # type: ignore[no-untyped-def]
    kind = result.task.kind
    frame = raw_frame(result, task) if columns == "raw" else hitlab_frame(result)
    train, test = result.split.train, result.split.test
    n_classes = len(result.classes or [])
    key = f"{task}-{split_key(result)}-{system}-{budget:g}s-{columns}-{'+'.join(frame.columns)}"
    key = f"{task}-{system}-{columns}-{budget:g}s-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    file = CACHE / f"{key}.npz"
    label = f"{'FLAML' if system == 'flaml' else 'AutoGluon best_quality'} {budget:g} s, {columns}"
    cores = f"{CORES} (n_jobs)" if system == "flaml" else f"{CORES} (num_cpus)"
    if file.exists() and not rerun:
        saved = np.load(file, allow_pickle=False)
        print(f"  {label}: cached result used ({file.name}; --rerun to fit again)", flush=True)
        proba = saved["proba"] if saved["proba"].size else None
        return Row(label, saved["pred"], proba, float(saved["fit_s"]), cores, cached=True)
    print(f"  {label}: fitting ({len(train):,} rows, {frame.shape[1]} columns) ...", flush=True)
    runner = run_flaml if system == "flaml" else run_autogluon
    started = time.perf_counter()
    pred, proba = runner(frame.iloc[train].reset_index(drop=True), result.y[train],
                         frame.iloc[test].reset_index(drop=True), kind, budget, n_classes)
    fit_s = time.perf_counter() - started
    CACHE.mkdir(exist_ok=True)
    np.savez(file, pred=np.asarray(pred), proba=np.asarray(proba if proba is not None else []),
             fit_s=fit_s, columns=np.asarray(frame.columns, dtype=str))
    return Row(label, np.asarray(pred), proba, fit_s, cores)


def forest_row(result, task: str) -> Row:  # type: ignore[no-untyped-def]
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.pipeline import Pipeline

    from hitlab.modeling.zoo import make_preprocessor

    if task == "popularity":
        name, model = "original analysis: random forest (250 trees, depth 11)", RandomForestRegressor(
            n_estimators=250, max_depth=11, random_state=SEED, n_jobs=CORES)
    else:
        name, model = "original analysis: random forest (500 trees)", RandomForestClassifier(
            n_estimators=500, random_state=SEED, n_jobs=CORES)
    pipeline = Pipeline([("prep", make_preprocessor(result.features, scale=False)), ("model", model)])
    train, test = result.split.train, result.split.test
    started = time.perf_counter()
    pipeline.fit(result.X.iloc[train], result.y[train])
    fit_s = time.perf_counter() - started
    if task == "popularity":
        return Row(name, pipeline.predict(result.X.iloc[test]), None, fit_s, f"{CORES} (n_jobs)")
    proba = np.zeros((test.size, len(result.classes)))
    proba[:, pipeline.classes_.astype(int)] = pipeline.predict_proba(result.X.iloc[test])
    return Row(name, proba.argmax(axis=1), proba, fit_s, f"{CORES} (n_jobs)")


def fit_hitlab(tracks: pd.DataFrame, task: str):  # type: ignore[no-untyped-def]
    cfg = RunConfig()
    options = dict(budget=cfg.budget, max_trials=cfg.trials, seed=cfg.seed, group_by=cfg.group_by)
    started = time.perf_counter()
    if task == "popularity":
        from hitlab.popularity import fit

        result = fit(tracks, features=cfg.features, **options).fit
    else:
        from hitlab.genre import fit

        result = fit(tracks, scheme=cfg.labels, **options).fit
    return result, time.perf_counter() - started


def table(task: str, result, rows: list[Row], hitlab_s: float) -> None:  # type: ignore[no-untyped-def]
    test = result.split.test
    y = result.y[test]
    groups = result.test_groups
    idx = bootstrap_indices(test.size, N_BOOT, SEED, groups=groups)
    base = rows[0]
    regression = task == "popularity"
    metrics = ["mae"] if regression else ["accuracy", "top2"]

    def per_row(row: Row) -> dict[str, np.ndarray]:
        if regression:
            return {"mae": np.abs(np.asarray(row.pred, float) - y)}
        out = {"accuracy": (np.asarray(row.pred) == y).astype(float)}
        if row.proba is not None:
            top = np.argsort(-row.proba, axis=1, kind="stable")[:, :2]
            out["top2"] = (top == y[:, None]).any(axis=1).astype(float)
        return out

    base_rows = per_row(base)
    head = ["system", *(f"{m} [95% CI]" for m in metrics),
            *(f"{m} - hitlab [paired 95% CI]" for m in metrics), "fit s", "cores"]
    print(f"\n{task}: {len(result.rows):,} tracks, song-grouped split ({result.split.train.size:,} train / "
          f"{test.size:,} test), seed {SEED}; load average {os.getloadavg()[0]:.1f} on {CORES} cores\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] * len(head)) + "|")
    for row in rows:
        est = bootstrap([m for m in metrics if m != "top2" or row.proba is not None], y, row.pred, row.proba,
                        n_classes=None if regression else len(result.classes), n_boot=N_BOOT, seed=SEED,
                        groups=groups)
        cells = [row.name + (" (cached)" if row.cached else "")]
        digits = 2 if regression else 3
        for m in metrics:
            e = est.get(m)
            cells.append(f"{e.value:.{digits}f} [{e.low:.{digits}f}, {e.high:.{digits}f}]" if e else "")
        mine = per_row(row)
        for m in metrics:
            if row is base or m not in mine:
                cells.append("")
                continue
            diff = mine[m] - base_rows[m]
            low, high = np.percentile(diff[idx].mean(axis=1), [2.5, 97.5])
            cells.append(f"{diff.mean():+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]")
        cells.append("" if row.fit_s is None else f"{row.fit_s:.0f}")
        cells.append(row.cores)
        print("| " + " | ".join(cells) + " |", flush=True)
    print(f"\nhitlab fit s: the whole `{task}.fit` call ({hitlab_s:.0f} s: tuning every zoo member, refits, "
          "CIs); in brackets the chosen model's refit on the training part.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per AutoML fit (default 300)")
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help=f"comma-separated, of {', '.join(SYSTEMS)} (hitlab and the baseline always run)")
    parser.add_argument("--tasks", default="popularity,genre")
    parser.add_argument("--columns", default="raw,hitlab", help="AutoML column sets: raw, hitlab or both")
    parser.add_argument("--rerun", action="store_true", help="fit AutoML again even when cached")
    args = parser.parse_args()
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        parser.error(f"--systems: unknown {', '.join(unknown)}; known: {', '.join(SYSTEMS)}")
    tracks, _ = label_tracks(clean(load_tidytuesday()).tracks, "playlist")
    print(f"hitlab vs AutoML on the built-in data ({len(tracks):,} clean tracks); AutoML budget "
          f"{args.budget:g} s; AutoGluon best_quality without its neural networks (no torch) and "
          "without dynamic stacking (its hold-out sub-fit)")
    for task in [t.strip() for t in args.tasks.split(",")]:
        print(f"\n{task}: fitting hitlab's default ...", flush=True)
        result, hitlab_s = fit_hitlab(tracks, task)
        best = result.best
        name = f"hitlab default: {best.key} (tuned)"
        hitlab_cores = "1 per model (n_jobs=1)" if task == "popularity" else "2 (candidates), 1 thread each"
        rows = [Row(name, best.prediction, best.proba, hitlab_s, hitlab_cores)]
        rows[0].name += f" [refit {best.fit_seconds:.0f} s]"
        if "rf" in systems:
            rows.append(forest_row(result, task))
        for system in ("flaml", "autogluon"):
            if system in systems:
                for columns in [c.strip() for c in args.columns.split(",")]:
                    rows.append(automl_row(system, columns, result, task, args.budget, args.rerun))
        rows.append(Row(f"{result.baseline.key} baseline", result.baseline.prediction, result.baseline.proba,
                        None, ""))
        table(task, result, rows, hitlab_s)


if __name__ == "__main__":
    main()
