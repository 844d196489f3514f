"""Popularity: hitlab's default model against the seed analysis's models, on one honest split.

Built-in data (cleaned, playlist labels), song-grouped split 67/33 (no song on both sides,
whatever its track ids; ``--group-by track`` for the old split), seed 42. Rows:

- hitlab's default: the model the popularity stage of ``hitlab run`` picks (by grouped
  cross-validation on the training part) and tunes for its default trial count;
- the seed's models with the seed's settings: linear regression, random forest (250
  trees, max_depth 11), gradient boosting (350 trees, max_depth 14), all on the seed's
  feature choice (hitlab's popularity default: audio features without energy and tempo,
  release year, key/mode/time_signature and genre one-hot);
- the median baseline.

MAE with its bootstrap 95% CI (1,000 resamples of the test songs, the same resamples for
every row), RMSE, R2, fit seconds; then the paired difference of hitlab's default and the
seed's best, and the wall time of the whole popularity stage (tuning, OLS, error views,
drivers, figures, saving), measured by running the stage itself.

Run: ``python benchmarks/popularity.py [--group-by song|track|artist]`` (about 4 minutes on
2 cores; the seed's gradient boosting alone takes about 2).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline

from hitlab import clean, load_tidytuesday
from hitlab.config import RunConfig
from hitlab.features import feature_frame
from hitlab.labels import label_tracks
from hitlab.modeling.evaluate import bootstrap, bootstrap_indices
from hitlab.modeling.split import outer_split
from hitlab.modeling.zoo import make_preprocessor
from hitlab.outputs import write_result
from hitlab.popularity import fit, popularity_task
from hitlab.songs import group_labels

SEED = 42
N_BOOT = 1000


def seed_models() -> dict[str, object]:
    return {
        "seed: linear regression": LinearRegression(),
        "seed: random forest (250 trees, depth 11)": RandomForestRegressor(
            n_estimators=250, max_depth=11, random_state=SEED, n_jobs=-1),
        "seed: gradient boosting (350 trees, depth 14)": GradientBoostingRegressor(
            n_estimators=350, max_depth=14, random_state=SEED),
        "median baseline": DummyRegressor(strategy="median"),
    }


def main(group_by: str = "song") -> None:
    tracks, _ = label_tracks(clean(load_tidytuesday()).tracks, "playlist")
    tracks = tracks[tracks["popularity"].notna()]
    task = popularity_task()
    features = task.features.without(
        [c for c in task.features.columns if tracks[c].isna().all()], "no value in this data")
    X = feature_frame(tracks, features)
    y = tracks["popularity"].astype("float64").to_numpy()
    split = outer_split(group_labels(tracks, group_by), group_by=group_by, test_size=0.33, seed=SEED)
    train, test = split.train, split.test
    groups = split.groups[test]

    # hitlab's default: the popularity stage itself (what `hitlab run` calls: fit, then write).
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        result = fit(tracks, budget=RunConfig().budget, seed=SEED, group_by=group_by)
        write_result(result, folder, "popularity")
        stage_seconds = time.perf_counter() - started
        predictions = pd.read_csv(Path(folder) / "popularity" / "test_predictions.csv")
        board = pd.read_csv(Path(folder) / "popularity" / "leaderboard.csv")
        timings = pd.read_csv(Path(folder) / "popularity" / "timings.csv")
    chosen = board[board["chosen"]].iloc[0]
    chosen_fit_s = float(timings.set_index(["model", "strategy"]).loc[(chosen["model"], chosen["strategy"]),
                                                                     "fit_s"])
    if chosen["baseline"]:
        raise SystemExit("the stage chose the baseline: something is wrong")
    if list(predictions["track_id"]) != list(tracks["track_id"].iloc[test]):
        raise SystemExit("the stage's test tracks differ from the benchmark's split")

    rows = []
    pred_by_name: dict[str, np.ndarray] = {}
    name = f"hitlab default: {chosen['model']} (tuned, {int(chosen['trials'])} trials)"
    pred_by_name[name] = predictions["predicted"].to_numpy(float)
    est = bootstrap(["mae", "rmse", "r2"], y[test], pred_by_name[name], n_boot=N_BOOT, seed=SEED,
                    groups=groups)
    rows.append((name, est, chosen_fit_s))
    for label, model in seed_models().items():
        pipeline = Pipeline([("prep", make_preprocessor(features, scale=False)), ("model", model)])
        started = time.perf_counter()
        pipeline.fit(X.iloc[train], y[train])
        fit_seconds = time.perf_counter() - started
        pred_by_name[label] = pipeline.predict(X.iloc[test])
        est = bootstrap(["mae", "rmse", "r2"], y[test], pred_by_name[label], n_boot=N_BOOT, seed=SEED,
                        groups=groups)
        rows.append((label, est, fit_seconds))

    print(f"Popularity on the built-in data: {len(tracks):,} tracks, {group_by}-grouped split 67/33 "
          f"({train.size:,} train / {test.size:,} test), seed {SEED}, {os.cpu_count()} cores")
    print()
    print(f"| {'model':<48} | {'MAE':>6} | {'95% CI':>15} | {'RMSE':>6} | {'R2':>6} | {'fit s':>6} |")
    print(f"|{'-' * 50}|{'-' * 8}|{'-' * 17}|{'-' * 8}|{'-' * 8}|{'-' * 8}|")
    for label, est, fit_seconds in rows:
        mae = est["mae"]
        print(f"| {label:<48} | {mae.value:6.2f} | {f'[{mae.low:.2f}, {mae.high:.2f}]':>15} | "
              f"{est['rmse'].value:6.2f} | {est['r2'].value:6.3f} | {fit_seconds:6.1f} |")
    print()
    seed_rows = [r for r in rows if r[0].startswith("seed:")]
    best_seed = min(seed_rows, key=lambda r: r[1]["mae"].value)[0]
    errors_default = np.abs(pred_by_name[rows[0][0]] - y[test])
    errors_seed = np.abs(pred_by_name[best_seed] - y[test])
    idx = bootstrap_indices(test.size, N_BOOT, SEED, groups=groups)
    diffs = (errors_default - errors_seed)[idx].mean(axis=1)
    low, high = np.percentile(diffs, [2.5, 97.5])
    print(f"hitlab default minus the seed's best ({best_seed.removeprefix('seed: ')}): "
          f"MAE {np.mean(errors_default - errors_seed):+.2f} "
          f"(paired bootstrap 95% CI {low:+.2f} to {high:+.2f})")
    print(f"Whole popularity stage of `hitlab run` (default trials, safety cap from budget "
          f"{RunConfig().budget:g} s): "
          f"{stage_seconds:.1f} s wall time")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group-by", default="song", choices=("song", "track", "artist"))
    main(parser.parse_args().group_by)
