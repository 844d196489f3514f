"""Ensembles of diverse learners, by song-grouped cross-validation on the TRAINING part only (issue 16).

The run's split of the built-in data (song-grouped 67/33, seed 42); its training part's 3
song-grouped folds (``benchmarks/defaults.py``). Each member's out-of-fold predictions give the
task's scores; then averages of members (equal weights, and weights chosen on the out-of-fold
predictions, which is mildly optimistic for the weighted rows). No test row is read.

Members: ``lgbm`` (the default LightGBM pipeline), ``lgbmN`` (the same with seed N), ``lgbml2``
(popularity: squared-error objective),
``cat`` / ``cat_<iters>_<rate>_<depth>`` (CatBoost; ``catrmse...``: popularity with squared
error), ``sub`` (genre: LightGBM on the 24 playlist subgenres, probabilities summed to genres),
``catsub...`` (CatBoost on them), ``et`` (extra trees), ``knn_<k>`` (k nearest neighbours on
standardised features, distance-weighted), ``zero`` (popularity: a LightGBM classifier's
probability of popularity 0, a stacking column), ``mlp[_<width>]`` (scikit-learn's two-layer MLP).

``--class-weights`` (genre): per-class multipliers of the averaged probabilities that maximise
accuracy, chosen on the other folds' out-of-fold rows and applied to the held-out fold
(cross-fitted, so the printed score is honest).

Run: ``python benchmarks/ensembles.py --task genre lgbm,cat,sub`` (minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss

sys.path.insert(0, str(Path(__file__).parent))
from defaults import SEED, lightgbm_spec, training_part

from hitlab import clean, load_tidytuesday
from hitlab.labels import label_tracks
from hitlab.modeling.split import outer_split
from hitlab.modeling.zoo import build_pipeline
from hitlab.songs import group_labels


def numeric(X: pd.DataFrame) -> pd.DataFrame:
    out = X.copy()
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].astype("category").cat.codes.astype("float64")
    return out.astype("float64")


def standardised(Xn: pd.DataFrame, tr: np.ndarray) -> np.ndarray:
    """Median-filled features scaled by the training rows' mean and standard deviation."""
    filled = Xn.fillna(Xn.median())
    return ((filled - filled.iloc[tr].mean()) / filled.iloc[tr].std().replace(0, 1)).to_numpy()


def member(task: str, name: str, data: dict, tr: np.ndarray, va: np.ndarray, extra: dict) -> np.ndarray:
    X, y = data["X"], data["y"]
    regression = task == "popularity"
    if name.startswith("lgbm"):
        objective = {"objective": "l2"} if name.startswith("lgbml2") else {}
        seed = int(name[6 if objective else 4:] or SEED)
        pipe = build_pipeline(lightgbm_spec(task, objective), data["features"], seed=seed, n_jobs=1)
        pipe.fit(X.iloc[tr], y[tr])
        return pipe.predict(X.iloc[va]) if regression else pipe.predict_proba(X.iloc[va])
    Xn = numeric(X)
    if name.startswith("cat"):
        fine = name.startswith("catsub")
        parts = name.split("_")
        iters = int(parts[1]) if len(parts) > 1 else 1000
        rate = float(parts[2]) if len(parts) > 2 else None
        depth = int(parts[3]) if len(parts) > 3 else 6
        from catboost import CatBoostClassifier, CatBoostRegressor

        common = dict(iterations=iters, depth=depth, thread_count=1, verbose=0, random_seed=SEED,
                      border_count=64, learning_rate=rate, allow_writing_files=False)
        if regression:
            model = CatBoostRegressor(loss_function="RMSE" if name.startswith("catrmse") else "MAE", **common)
            return model.fit(Xn.iloc[tr], y[tr]).predict(Xn.iloc[va])
        model = CatBoostClassifier(loss_function="MultiClass", **common)
        if not fine:
            return model.fit(Xn.iloc[tr], y[tr]).predict_proba(Xn.iloc[va])
        ps = model.fit(Xn.iloc[tr], extra["sub_code"][tr]).predict_proba(Xn.iloc[va])
        p = np.zeros((len(va), len(data["classes"])))
        for j, code in enumerate(model.classes_):
            p[:, extra["sub_genre"][int(code)]] += ps[:, j]
        return p
    if name == "sub":
        import lightgbm as lgb

        from hitlab.genre import LIGHTGBM_PARAMS

        sub_code, sub_genre = extra["sub_code"], extra["sub_genre"]
        model = lgb.LGBMClassifier(**{**LIGHTGBM_PARAMS, "n_jobs": 1, "verbose": -1, "random_state": SEED,
                                      "subsample_freq": 1})
        model.fit(Xn.iloc[tr], sub_code[tr])
        ps = model.predict_proba(Xn.iloc[va])
        p = np.zeros((len(va), len(data["classes"])))
        for j, code in enumerate(model.classes_):
            p[:, sub_genre[code]] += ps[:, j]
        return p
    if name == "et" or name.startswith("et_"):  # et_<trees>_<min per leaf>: et = et_300_3
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

        parts = name.split("_")
        trees = int(parts[1]) if len(parts) > 1 else 300
        leaf = int(parts[2]) if len(parts) > 2 else 3
        filled = Xn.fillna(Xn.median())
        cls = ExtraTreesRegressor if regression else ExtraTreesClassifier
        model = cls(n_estimators=trees, min_samples_leaf=leaf, max_features=0.6, n_jobs=1, random_state=SEED)
        model.fit(filled.iloc[tr], y[tr])
        return model.predict(filled.iloc[va]) if regression else model.predict_proba(filled.iloc[va])
    if name == "zero" and regression:  # popularity: P(popularity == 0), a LightGBM classifier
        import lightgbm as lgb

        model = lgb.LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=31, subsample=0.85,
                                   subsample_freq=1, colsample_bytree=0.9, n_jobs=1, verbose=-1,
                                   random_state=SEED)
        model.fit(Xn.iloc[tr], (y[tr] == 0).astype(int))
        return model.predict_proba(Xn.iloc[va])[:, 1]
    if name.startswith("mlp"):  # mlp[_<width>]: scikit-learn's MLP (2 layers), standardised features
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        width = int(name.split("_")[1]) if "_" in name else 64
        scaled = standardised(Xn, tr)
        cls = MLPRegressor if regression else MLPClassifier
        model = cls(hidden_layer_sizes=(width, width), early_stopping=True, max_iter=200, alpha=1e-3,
                    random_state=SEED)
        model.fit(scaled[tr], y[tr])
        return model.predict(scaled[va]) if regression else model.predict_proba(scaled[va])
    if name.startswith("knn_"):  # knn_<k>
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        scaled = standardised(Xn, tr)
        cls = KNeighborsRegressor if regression else KNeighborsClassifier
        model = cls(n_neighbors=int(name.split("_")[1]), weights="distance", n_jobs=1)
        model.fit(scaled[tr], y[tr])
        return model.predict(scaled[va]) if regression else model.predict_proba(scaled[va])
    raise SystemExit(f"unknown member {name!r}")


def accuracy_weights(p: np.ndarray, y: np.ndarray, passes: int = 3) -> np.ndarray:
    """Per-class multipliers of ``p`` maximising accuracy (coordinate search on a log grid)."""
    w = np.ones(p.shape[1])
    grid = np.exp(np.linspace(-0.5, 0.5, 41))
    for _ in range(passes):
        for j in range(p.shape[1]):
            best = (-1.0, w[j])
            for g in grid:
                trial = w.copy()
                trial[j] = g
                acc = float(np.mean((p * trial).argmax(1) == y))
                closer = abs(np.log(g)) < abs(np.log(best[1]))
                if acc > best[0] + 1e-12 or (abs(acc - best[0]) <= 1e-12 and closer):
                    best = (acc, g)
            w[j] = best[1]
    return w / w.mean()


def cross_fitted_weights(p: np.ndarray, y: np.ndarray, folds: list) -> tuple[np.ndarray, list[np.ndarray]]:
    out = np.zeros_like(p)
    chosen = []
    for _, va in folds:
        rest = np.setdiff1d(np.arange(len(y)), va)
        w = accuracy_weights(p[rest], y[rest])
        chosen.append(w)
        q = p[va] * w
        out[va] = q / q.sum(axis=1, keepdims=True)
    return out, chosen


def subgenres(data: dict) -> dict:
    tracks, _ = label_tracks(clean(load_tidytuesday()).tracks, "playlist")
    tracks = tracks[tracks["genre"].notna()]
    split = outer_split(group_labels(tracks, "song"), group_by="song", test_size=0.33, seed=SEED)
    sub = tracks["playlist_subgenre"].astype(str).to_numpy()[split.train]
    subs = sorted(set(sub))
    sub_code = np.array([subs.index(s) for s in sub])
    y = data["y"]
    sub_genre = np.array([np.bincount(y[sub_code == k], minlength=len(data["classes"])).argmax()
                          for k in range(len(subs))])
    return {"sub_code": sub_code, "sub_genre": sub_genre}


def scores(task: str, y: np.ndarray, p: np.ndarray) -> str:
    if task == "popularity":
        return f"MAE {np.mean(np.abs(p - y)):.4f}"
    top2 = (np.argsort(-p, axis=1)[:, :2] == y[:, None]).any(axis=1).mean()
    return (f"accuracy {np.mean(p.argmax(1) == y):.4f}  top-2 {top2:.4f}  "
            f"log loss {log_loss(y, np.clip(p, 1e-15, 1)):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("members")
    parser.add_argument("--task", default="genre", choices=["genre", "popularity"])
    parser.add_argument("--class-weights", action="store_true",
                        help="genre: accuracy-maximising class multipliers, cross-fitted on the folds")
    args = parser.parse_args()
    names = args.members.split(",")
    data = training_part(args.task)
    y, folds = data["y"], data["folds"]
    extra = subgenres(data) if any(n.startswith(("sub", "catsub")) for n in names) else {}
    shape = (len(y),) if args.task == "popularity" else (len(y), len(data["classes"]))
    oof = {n: np.zeros(shape) for n in names}
    seconds = dict.fromkeys(names, 0.0)
    for tr, va in folds:
        for n in names:
            started = time.process_time()
            oof[n][va] = member(args.task, n, data, tr, va, extra)
            seconds[n] += time.process_time() - started
    print(f"{args.task}: {len(y):,} training tracks, {len(folds)} song-grouped folds (out-of-fold scores)")
    for n in names:
        print(f"  {n:<40} {scores(args.task, y, oof[n])}   ({seconds[n]:.0f} CPU s over the folds)")
    for k in range(2, len(names) + 1):
        for combo in itertools.combinations(names, k):
            avg = np.mean([oof[n] for n in combo], axis=0)
            print(f"  {'avg ' + '+'.join(combo):<40} {scores(args.task, y, avg)}")
    if len(names) >= 2:
        grid = np.linspace(0, 1, 11)
        best = None
        for w in itertools.product(grid, repeat=len(names) - 1):
            if sum(w) > 1 + 1e-9:
                continue
            weights = [*w, 1 - sum(w)]
            p = sum(wi * oof[n] for wi, n in zip(weights, names, strict=True))
            value = np.mean(np.abs(p - y)) if args.task == "popularity" else log_loss(y, np.clip(p, 1e-15, 1))
            if best is None or value < best[0]:
                best = (value, weights, p)
        label = "best weights " + ",".join(f"{w:.1f}" for w in best[1])
        print(f"  {label:<40} {scores(args.task, y, best[2])}   (weights chosen on these folds)")
    if args.class_weights and args.task == "genre":
        avg = np.mean([oof[n] for n in names], axis=0)
        weighted, chosen = cross_fitted_weights(avg, y, folds)
        label = "class-weighted avg " + "+".join(names)
        print(f"  {label:<40} {scores(args.task, y, weighted)}   (cross-fitted)")
        for w in chosen:
            pairs = zip(data["classes"], w, strict=True)
            print("    multipliers " + " ".join(f"{c}={v:.2f}" for c, v in pairs))


if __name__ == "__main__":
    main()
