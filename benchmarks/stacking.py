"""Stacking by song-grouped cross-validation on the TRAINING part only (issue 16).

Level 1: members of ``benchmarks/ensembles.py``, their out-of-fold predictions on the 3
song-grouped folds of the run's training part (seed 42). Level 2: LightGBM on the features plus
those predictions (``--passthrough``, default) or on the predictions alone, scored on the same
folds (the usual stacking estimate: a level-1 prediction of a validation row never saw that row,
but the level-1 models that made the training rows' predictions did see it, so this is mildly
optimistic; ``--nested`` re-makes the level-1 predictions inside each fold instead, honest and
4x the cost). No test row is read.

Run: ``python benchmarks/stacking.py --task popularity lgbm,lgbml2,cat_1000_0.06_6``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from defaults import SEED, training_part
from ensembles import member, numeric, scores, subgenres

from hitlab.modeling import inner_folds


def level1(task: str, names: list[str], data: dict, rows: np.ndarray, folds: list, extra: dict) -> np.ndarray:
    """Out-of-fold level-1 predictions for ``rows`` (folds index into rows), members side by side."""
    cols = []
    for n in names:
        shape = (len(rows),) if task == "popularity" else (len(rows), len(data["classes"]))
        oof = np.zeros(shape)
        for tr, va in folds:
            oof[va] = member(task, n, data, rows[tr], rows[va], extra)
        cols.append(oof.reshape(len(rows), -1))
    return np.hstack(cols)


def level1_fit_predict(task: str, names: list[str], data: dict, fit_rows: np.ndarray, pred_rows: np.ndarray,
                       extra: dict) -> np.ndarray:
    return np.hstack([member(task, n, data, fit_rows, pred_rows, extra).reshape(len(pred_rows), -1)
                      for n in names])


LEVEL2 = "lightgbm"


def level2(task: str, Z_fit: np.ndarray, y_fit: np.ndarray, Z_pred: np.ndarray, n_classes: int | None
           ) -> np.ndarray:
    if LEVEL2.startswith("catboost"):  # catboost[_<iterations>_<rate>], default 1000 at 0.03
        from catboost import CatBoostClassifier, CatBoostRegressor

        parts = LEVEL2.split("_")
        iters, rate = (int(parts[1]), float(parts[2])) if len(parts) == 3 else (1000, 0.03)
        common = dict(iterations=iters, learning_rate=rate, depth=6, thread_count=1, verbose=0,
                      random_seed=SEED, allow_writing_files=False)
        if task == "popularity":
            return CatBoostRegressor(loss_function="MAE", **common).fit(Z_fit, y_fit).predict(Z_pred)
        model = CatBoostClassifier(loss_function="MultiClass", **common)
        return model.fit(Z_fit, y_fit).predict_proba(Z_pred)
    if task == "popularity":
        from hitlab.modeling.zoo import get_model

        params = {**get_model("regression", "lightgbm").defaults, "n_jobs": 1}
        model = lgb.LGBMRegressor(**params, subsample_freq=1, verbose=-1, random_state=SEED)
        return model.fit(Z_fit, y_fit).predict(Z_pred)
    model = lgb.LGBMClassifier(n_estimators=200, learning_rate=0.03, num_leaves=15, min_child_samples=40,
                               subsample=0.8, subsample_freq=1, colsample_bytree=0.8, n_jobs=1, verbose=-1,
                               random_state=SEED)
    return model.fit(Z_fit, y_fit).predict_proba(Z_pred)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("members")
    parser.add_argument("--task", default="popularity", choices=["genre", "popularity"])
    parser.add_argument("--no-passthrough", action="store_true",
                        help="level 2 sees only the level-1 predictions")
    parser.add_argument("--nested", action="store_true", help="level-1 predictions re-made inside each fold")
    parser.add_argument("--level2", default="lightgbm",
                        help="lightgbm, or catboost[_<iterations>_<rate>] (default 1000 at 0.03)")
    parser.add_argument("--inner", type=int, default=3, help="inner folds of --nested (default 3)")
    parser.add_argument("--bagged", action="store_true",
                        help="with --nested: level-1 predictions of the held-out fold = the average of the "
                             "inner-fold models (as AutoGluon bags), not one model refitted on all rows")
    parser.add_argument("--average-with", default="",
                        help="members averaged with the stack (out of fold, equal weights)")
    args = parser.parse_args()
    global LEVEL2
    LEVEL2 = args.level2
    names = args.members.split(",")
    data = training_part(args.task)
    y, folds = data["y"], data["folds"]
    extra = subgenres(data) if any(n.startswith(("sub", "catsub")) for n in names) else {}
    Xn = numeric(data["X"]).to_numpy()
    n_classes = len(data["classes"]) if data["classes"] else None
    started = time.perf_counter()
    everything = np.arange(len(y))
    out = np.zeros((len(y),) if args.task == "popularity" else (len(y), n_classes))
    if not args.nested:
        Z = level1(args.task, names, data, everything, folds, extra)
        for tr, va in folds:
            fit_z, pred_z = Z[tr], Z[va]
            if not args.no_passthrough:
                fit_z, pred_z = np.hstack([Xn[tr], fit_z]), np.hstack([Xn[va], pred_z])
            out[va] = level2(args.task, fit_z, y[tr], pred_z, n_classes)
    else:
        groups = data["groups"]
        for tr, va in folds:
            inner = inner_folds(groups[tr], y[tr] if n_classes else None, n_splits=args.inner, seed=SEED)
            z_fit = level1(args.task, names, data, tr, inner, extra)
            if args.bagged:
                z_pred = np.mean([level1_fit_predict(args.task, names, data, tr[itr], va, extra)
                                  for itr, _ in inner], axis=0)
            else:
                z_pred = level1_fit_predict(args.task, names, data, tr, va, extra)
            if not args.no_passthrough:
                z_fit, z_pred = np.hstack([Xn[tr], z_fit]), np.hstack([Xn[va], z_pred])
            out[va] = level2(args.task, z_fit, y[tr], z_pred, n_classes)
    if args.average_with:
        others = args.average_with.split(",")
        oof = level1(args.task, others, data, everything, folds, extra)
        parts = [out, *(oof[:, i * out[0].size:(i + 1) * out[0].size].reshape(out.shape)
                        for i in range(len(others)))]
        print(f"  the stack alone: {scores(args.task, y, out)}")
        out = np.mean(parts, axis=0)
        names = [*names, f"averaged with {'+'.join(others)}"]
    kind = f"nested, {args.inner} inner folds" if args.nested else "same folds"
    kind += ", bagged" if args.bagged else ""
    print(f"{args.task}: stack of {'+'.join(names)} ({kind}, passthrough {not args.no_passthrough}, "
          f"level 2 {args.level2}): "
          f"{scores(args.task, y, out)}  ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
