"""Choose modelling defaults by grouped cross-validation on the TRAINING part only.

The built-in data (cleaned, playlist labels) is split as ``hitlab run`` splits it (song-grouped
67/33, seed 42); only the training part is used here: its song-grouped inner folds (the
run's own folds, 3 by default) score each configuration. No test row is read, so a
default chosen here leaves the run's test numbers honest.

Modes (each prints one table, best CV score first):

- ``--tune N``: Optuna trials of LightGBM (trial 0 = the current defaults);
- ``--features``: the task's default feature set against edits (``+energy``, ``+tempo``, ...)
  at the current LightGBM defaults;
- ``--candidates``: named variants of the default model (fixed parameters, rounds).

Run: ``python benchmarks/defaults.py --task popularity|genre --tune 40`` (minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Any

import numpy as np
import pandas as pd

from hitlab import clean, load_tidytuesday
from hitlab.features import feature_frame, resolve_features
from hitlab.labels import label_tracks
from hitlab.modeling import inner_folds, tune
from hitlab.modeling.split import outer_split
from hitlab.modeling.zoo import get_model
from hitlab.songs import group_labels

SEED = 42
METRIC = {"popularity": "mae", "genre": "log_loss"}
KIND = {"popularity": "regression", "genre": "classification"}
FEATURE_EDITS = {
    "popularity": [None, "+energy", "+tempo", "+energy,+tempo"],
    "genre": [None, "+loudness"],
}


def training_part(task: str, features: str | None = None, n_splits: int = 3) -> dict[str, Any]:
    """The run's training rows of ``task`` (seed 42, song-grouped), their features, target and folds."""
    tracks, _ = label_tracks(clean(load_tidytuesday()).tracks, "playlist")
    tracks = tracks[tracks[task].notna()]
    songs = group_labels(tracks, "song")
    split = outer_split(songs, group_by="song", test_size=0.33, seed=SEED)
    train = split.train
    fs = resolve_features(task, features)
    fs = fs.without([c for c in fs.columns if tracks[c].isna().all()], "no value in this data")
    X = feature_frame(tracks, fs).iloc[train]
    classes = None
    if task == "genre":
        classes = sorted(tracks["genre"].astype(str).unique())
        y = tracks["genre"].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy()[train]
    else:
        y = tracks["popularity"].astype("float64").to_numpy()[train]
    folds = inner_folds(split.groups[train], y if classes else None, n_splits=n_splits, seed=SEED)
    return {"X": X, "y": y, "folds": folds, "features": fs, "classes": classes, "groups": split.groups[train]}


def lightgbm_spec(task: str, extra: dict[str, Any] | None = None) -> Any:
    spec = get_model(KIND[task], "lightgbm")
    defaults = dict(spec.defaults)
    if task == "genre":
        from hitlab.genre import LIGHTGBM_PARAMS

        defaults.update(LIGHTGBM_PARAMS)
    defaults.update({"n_jobs": 1, **(extra or {})})
    return dataclasses.replace(spec, defaults=defaults)


def cv(task: str, data: dict[str, Any], spec: Any, trials: int = 1) -> Any:
    n_classes = len(data["classes"]) if data["classes"] else None
    return tune(spec, data["features"], data["X"], data["y"], data["folds"], metric=METRIC[task],
                max_trials=trials, seed=SEED, n_jobs=1, n_classes=n_classes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(METRIC), default="popularity")
    parser.add_argument("--tune", type=int, default=0, metavar="TRIALS")
    parser.add_argument("--features", action="store_true")
    parser.add_argument("--folds", type=int, default=3)
    args = parser.parse_args()
    task = args.task
    if args.tune:
        data = training_part(task, n_splits=args.folds)
        started = time.perf_counter()
        result = cv(task, data, lightgbm_spec(task), trials=args.tune)
        print(f"{task}: {len(data['y']):,} training rows, {args.folds} song-grouped folds, "
              f"CV {METRIC[task]}, {time.perf_counter() - started:.0f} s")
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(result.history.sort_values("score").head(12).to_string())
        print("trial 0 (the current defaults):", f"{result.history.iloc[0]['score']:.4f}")
        print("best:", result.params, f"CV {result.score:.4f}")
    if args.features:
        rows = []
        for edit in FEATURE_EDITS[task]:
            data = training_part(task, edit, n_splits=args.folds)
            result = cv(task, data, lightgbm_spec(task))
            fold_scores = result.history.iloc[0]["score"]
            rows.append((edit or "default", fold_scores))
        print(f"{task}: LightGBM defaults, {args.folds} song-grouped folds of the training part, "
              f"CV {METRIC[task]}")
        for name, value in sorted(rows, key=lambda r: r[1]):
            print(f"  {name:<24} {value:.4f}")
    if not (args.tune or args.features):
        parser.print_help()
    np.seterr(all="ignore")


if __name__ == "__main__":
    main()
