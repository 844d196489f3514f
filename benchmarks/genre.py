"""Benchmark: hitlab's genre model against the seed's models, on both label schemes.

For each label scheme it prints one table on the same track-grouped 67/33 split (seed 42):
hitlab's default (what ``hitlab.genre.fit`` chooses with its defaults: the model picked by
cross-validated log loss on the training part), the seed's random forest (500 trees),
the seed's SMOTE + random forest (1,600 trees, max depth 100) and the majority baseline;
accuracy, macro-F1 and top-2 accuracy on the held-out tracks, each with a bootstrap 95%
CI (the same 1,000 resamples for every model), and the seconds each took to fit on the
training part. Below each table: the wall time of the whole genre stage (``fit`` plus
writing its outputs), which must stay under 90 s on 2 cores for the playlist labels.

The seed's models see the same features as hitlab's (audio features + year + popularity,
key and mode one-hot; loudness dropped) and the same rows: they are fitted on the
training part of hitlab's own split, so every row of the table is tested on the same tracks.

Schemes: ``playlist`` = the built-in data's six playlist genres; ``tags`` = the seed's
seven main genres (pop, country, hiphop, rock, indie, house, r&b) from the artist tags of
the shared 160k artists table (tracks whose artist has none of these words leave the task).

Run: ``python benchmarks/genre.py [--schemes playlist,tags] [--artists PATH]``.
``python benchmarks/genre.py --tune 900`` reruns the search behind
``hitlab.genre.LIGHTGBM_PARAMS`` (Optuna on the inner folds of the training part only).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hitlab import clean
from hitlab.datasets import load_tidytuesday, read_artists
from hitlab.genre import fit, write_outputs
from hitlab.labels import attach_artist_tags, label_tracks
from hitlab.modeling import bootstrap, tune
from hitlab.modeling.tune import predict_scores
from hitlab.modeling.zoo import get_model, make_preprocessor

ROOT = Path(__file__).resolve().parents[1]
ARTISTS = Path(os.environ.get("HITLAB_SHARED_DATA", ROOT.parent / "shared" / "data")) / \
    "spotify-160k-artist-genres" / "data_w_genres.parquet"
SEED = 42
METRICS = ("accuracy", "macro_f1", "top2")


def tracks_for(scheme: str, artists: Path) -> pd.DataFrame:
    tracks = clean(load_tidytuesday()).tracks
    if scheme == "tags":
        tracks, _ = attach_artist_tags(tracks, read_artists(artists))
    labelled, _ = label_tracks(tracks, scheme)
    return labelled


def seed_models(features) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from imblearn.over_sampling import SMOTE
    from imblearn.pipeline import Pipeline
    from sklearn.ensemble import RandomForestClassifier

    return {
        "seed: random forest (500 trees)": Pipeline([
            ("prep", make_preprocessor(features, scale=False)),
            ("model", RandomForestClassifier(n_estimators=500, random_state=SEED, n_jobs=-1)),
        ]),
        "seed: SMOTE + random forest (1,600 trees, depth 100)": Pipeline([
            ("prep", make_preprocessor(features, scale=False)),
            ("sample", SMOTE(random_state=SEED)),
            ("model", RandomForestClassifier(n_estimators=1600, max_depth=100, random_state=SEED, n_jobs=-1)),
        ]),
    }


def cell(est) -> str:  # type: ignore[no-untyped-def]
    return f"{est.value:.3f} [{est.low:.3f}, {est.high:.3f}]"


def bench(scheme: str, artists: Path) -> None:
    tracks = tracks_for(scheme, artists)
    started = time.perf_counter()
    result = fit(tracks, scheme=scheme, seed=SEED)
    with tempfile.TemporaryDirectory() as folder:
        write_outputs(result, folder)
    stage_seconds = time.perf_counter() - started
    task = result.fit
    k = len(task.classes or [])
    y_test = task.y_test
    rows = []
    best = task.best
    rows.append((f"hitlab default ({best.key}, chosen by CV log loss)", best.metrics, best.fit_seconds))
    X_train, y_train = task.X.iloc[task.split.train], task.y[task.split.train]
    for name, pipeline in seed_models(task.features).items():
        t0 = time.perf_counter()
        pipeline.fit(X_train, y_train)
        seconds = time.perf_counter() - t0
        pred, proba = predict_scores(pipeline, task.X_test, "classification")
        if proba.shape[1] < k:
            proba = np.pad(proba, ((0, 0), (0, k - proba.shape[1])))
        rows.append((name, bootstrap(METRICS, y_test, pred, proba, n_classes=k, n_boot=1000, seed=SEED),
                     seconds))
    rows.append(("majority baseline", task.baseline.metrics, task.baseline.fit_seconds))
    counts = pd.Series(task.y).value_counts()
    split = task.split.describe()
    print(f"\n## {scheme} labels: {k} genres ({', '.join(task.classes or [])}); {len(task.rows):,} tracks, "
          f"train {split['train_rows']:,} / test {split['test_rows']:,} (grouped by {split['group_by']}, "
          f"seed {SEED}); largest genre / smallest = {counts.max() / counts.min():.1f}")
    header = f"| {'model':<58} | {'accuracy [95% CI]':<22} | {'macro-F1 [95% CI]':<22} | " \
             f"{'top-2 [95% CI]':<22} | {'fit s':>6} |"
    print(header)
    print("|" + "|".join("-" * (len(part)) for part in header.split("|")[1:-1]) + "|")
    for name, metrics, seconds in rows:
        print(f"| {name:<58} | {cell(metrics['accuracy']):<22} | {cell(metrics['macro_f1']):<22} | "
              f"{cell(metrics['top2']):<22} | {seconds:6.1f} |")
    print(f"genre stage wall time (fit + outputs, {len(task.candidates)} candidates): {stage_seconds:.1f} s "
          f"on {os.cpu_count()} cores")
    strategies = result.strategies[result.strategies["kind"] == "overall"]
    wide = strategies.pivot(index="row", columns="strategy", values="value")
    print("imbalance strategies on lightgbm (test):")
    print(wide.round(3).to_string())


def run_tuning(seconds: float) -> None:
    from hitlab.features import feature_frame, resolve_features
    from hitlab.modeling import inner_folds
    from hitlab.modeling.split import outer_split

    tracks = tracks_for("playlist", ARTISTS)
    features = resolve_features("genre")
    X = feature_frame(tracks, features)
    classes = sorted(tracks["genre"].astype(str).unique())
    y = tracks["genre"].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy()
    split = outer_split(tracks, group_by="track", test_size=0.33, seed=SEED)
    X_train, y_train = X.iloc[split.train], y[split.train]
    folds = inner_folds(split.groups[split.train], y_train, n_splits=3, seed=SEED)
    result = tune(get_model("classification", "lightgbm"), features, X_train, y_train, folds,
                  metric="accuracy", budget=seconds, max_trials=200, seed=SEED, n_jobs=1,
                  n_classes=len(classes))
    print(result.history.sort_values("score", ascending=False).head(10).to_string())
    print("best:", result.params, f"CV accuracy {result.score:.4f} after {result.n_trials} trials")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schemes", default="playlist,tags")
    parser.add_argument("--artists", type=Path, default=ARTISTS)
    parser.add_argument("--tune", type=float, default=None, metavar="SECONDS")
    args = parser.parse_args(argv)
    if args.tune:
        run_tuning(args.tune)
        return 0
    for scheme in [s.strip() for s in args.schemes.split(",") if s.strip()]:
        if scheme == "tags" and not args.artists.exists():
            print(f"tags: skipped, artists table not found at {args.artists}", file=sys.stderr)
            continue
        bench(scheme, args.artists)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
