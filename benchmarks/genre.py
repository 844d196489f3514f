"""Benchmark: hitlab's genre model against the seed's models, on both label schemes.

For each label scheme it prints one table on the same song-grouped 67/33 split (seed 42; no
song on both sides, whatever its track ids):
hitlab's default (what ``hitlab.genre.fit`` chooses with its defaults: the model picked by
cross-validated log loss on the training part), the seed's random forest (500 trees),
the seed's SMOTE + random forest (1,600 trees, max depth 100) and the majority baseline;
accuracy, macro-F1 and top-2 accuracy on the held-out tracks, each with a bootstrap 95%
CI (the same 1,000 resamples of test songs for every model), and the seconds each took to fit on the
training part. Below each table: the wall time of the whole genre stage (``fit`` plus
writing its outputs), which must stay under 90 s on 2 cores for the playlist labels.

The seed's models see the same features as hitlab's (audio features + year + popularity,
key and mode one-hot; loudness dropped) and the same rows: they are fitted on the
training part of hitlab's own split, so every row of the table is tested on the same tracks.

Schemes: ``playlist`` = the built-in data's six playlist genres; ``tags`` = the seed's
seven main genres (pop, country, hiphop, rock, indie, house, r&b) from the artist tags of
the shared 160k artists table (tracks whose artist has none of these words leave the task).

Run: ``python benchmarks/genre.py [--schemes playlist,tags] [--artists PATH] [--group-by song]``.
``python benchmarks/genre.py --tune 60`` reruns the search behind
``hitlab.genre.LIGHTGBM_PARAMS`` the way docs/modeling.md ("Choosing defaults") says: 60
Optuna trials, cross-validated log loss on grouped folds of the *development slice* only
(a fixed half of the songs, chosen by a hash of the song id, whatever ``--seed``); no test
part of any split plays a role. Each table also gives the chosen model's accuracy on the
test tracks outside the development slice (rows that never influenced a default).
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
from hitlab.genre import fit
from hitlab.labels import attach_artist_tags, label_tracks
from hitlab.modeling import bootstrap, tune
from hitlab.modeling.tune import predict_scores
from hitlab.modeling.zoo import get_model, make_preprocessor
from hitlab.outputs import write_result
from hitlab.songs import group_labels

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


def development_slice(songs: np.ndarray) -> np.ndarray:
    """True for the rows of a fixed half of the songs (a hash of the song id, not a seed)."""
    import hashlib

    return np.asarray([hashlib.sha256(str(s).encode()).digest()[0] < 128 for s in songs], dtype=bool)


def bench(scheme: str, artists: Path, group_by: str = "song") -> None:
    tracks = tracks_for(scheme, artists)
    started = time.perf_counter()
    result = fit(tracks, scheme=scheme, seed=SEED, group_by=group_by)
    with tempfile.TemporaryDirectory() as folder:
        write_result(result, folder, "genre")
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
        rows.append((name, bootstrap(METRICS, y_test, pred, proba, n_classes=k, n_boot=1000, seed=SEED,
                                     groups=task.test_groups), seconds))
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
    fresh = ~development_slice(group_labels(task.test_rows, "song"))
    print(f"chosen model's accuracy on the {int(fresh.sum()):,} test tracks outside the development slice: "
          f"{float(np.mean(best.prediction[fresh] == y_test[fresh])):.3f} (all test tracks: "
          f"{best.metrics['accuracy'].value:.3f})")
    print(f"genre stage wall time (fit + outputs, {len(task.candidates)} candidates): {stage_seconds:.1f} s "
          f"on {os.cpu_count()} cores")
    strategies = result.strategies[result.strategies["kind"] == "overall"]
    wide = strategies.pivot(index="row", columns="strategy", values="value")
    print("imbalance strategies on lightgbm (test):")
    print(wide.round(3).to_string())


def run_tuning(trials: int) -> None:
    """Re-choose the genre LightGBM defaults: CV log loss on the development slice only."""
    from hitlab.features import feature_frame, resolve_features
    from hitlab.genre import LIGHTGBM_PARAMS, METRIC
    from hitlab.modeling import inner_folds

    tracks = tracks_for("playlist", ARTISTS)
    tracks = tracks[tracks["genre"].notna()]
    songs = group_labels(tracks, "song")
    dev = development_slice(songs)
    features = resolve_features("genre")
    X = feature_frame(tracks, features).iloc[dev]
    classes = sorted(tracks["genre"].astype(str).unique())
    y = tracks["genre"].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy()[dev]
    folds = inner_folds(songs[dev], y, n_splits=3, seed=SEED)
    spec = get_model("classification", "lightgbm")
    spec = spec.__class__(**{**spec.__dict__, "defaults": {**spec.defaults, **LIGHTGBM_PARAMS, "n_jobs": 1}})
    result = tune(spec, features, X, y, folds, metric=METRIC, max_trials=trials, seed=SEED, n_jobs=1,
                  n_classes=len(classes))
    print(f"development slice: {int(dev.sum()):,} of {len(dev):,} tracks; 3 song-grouped folds; {METRIC}")
    print(result.history.sort_values("score").head(10).to_string())
    print("trial 0 (the current defaults):", f"{result.history.iloc[0]['score']:.4f}")
    print("best:", result.params, f"CV {METRIC} {result.score:.4f} after {result.n_trials} trials")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schemes", default="playlist,tags")
    parser.add_argument("--artists", type=Path, default=ARTISTS)
    parser.add_argument("--group-by", default="song", choices=("song", "track", "artist"))
    parser.add_argument("--tune", type=int, default=None, metavar="TRIALS")
    args = parser.parse_args(argv)
    if args.tune:
        run_tuning(args.tune)
        return 0
    for scheme in [s.strip() for s in args.schemes.split(",") if s.strip()]:
        if scheme == "tags" and not args.artists.exists():
            print(f"tags: skipped, artists table not found at {args.artists}", file=sys.stderr)
            continue
        bench(scheme, args.artists, args.group_by)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
