"""Genre ideas by song-grouped cross-validation on the TRAINING part only (issue 16).

The run's split of the built-in data (song-grouped 67/33, seed 42); its training part's 3
song-grouped folds (``benchmarks/defaults.py``). Each idea's out-of-fold class
probabilities give accuracy, top-2 and log loss; then every pair is averaged (and the first
idea weighted 0.7 / 0.8 against each other one). No test row is read.

Ideas: ``lgbm`` (the default genre LightGBM), ``lgbms`` (another seed), ``lgbm_nN_R`` (N rounds
at rate R), ``sub`` / ``subN`` (LightGBM on the 24 playlist subgenres, N rounds, probabilities
summed to genres), ``cat`` / ``catN`` (CatBoost, N rounds: needs ``catboost``, e.g. the
``bench`` venv), ``lr`` (logistic), ``spl`` (splines + logistic), ``mlp``, ``et`` (extra trees).

Run: ``python benchmarks/genre_ideas.py lgbm,sub,cat`` (docs/modeling.md has the 2026-11-27 table).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import log_loss

sys.path.insert(0, str(Path(__file__).parent))
from defaults import SEED, training_part
from ensembles import subgenres

from hitlab.genre import LIGHTGBM_PARAMS


def _lgbm(params: dict, X_train: pd.DataFrame, y_train: np.ndarray, X_valid: pd.DataFrame,
          seed: int = SEED) -> tuple[np.ndarray, lgb.LGBMClassifier]:
    model = lgb.LGBMClassifier(**{**params, "n_jobs": 2, "verbose": -1, "random_state": seed})
    model.fit(X_train, y_train)
    return model.predict_proba(X_valid), model


def _sklearn(kind: str):  # type: ignore[no-untyped-def]
    from sklearn.ensemble import ExtraTreesClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer, StandardScaler

    return {
        "lr": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "spl": lambda: make_pipeline(StandardScaler(), SplineTransformer(n_knots=6),
                                     LogisticRegression(C=0.5, max_iter=3000)),
        "mlp": lambda: make_pipeline(StandardScaler(), MLPClassifier((64,), alpha=1e-3, early_stopping=True,
                                                                     max_iter=200, random_state=SEED)),
        "et": lambda: ExtraTreesClassifier(500, min_samples_leaf=2, max_features=0.5, n_jobs=2,
                                           random_state=SEED),
    }[kind]()


def main() -> None:
    ideas = (sys.argv[1] if len(sys.argv) > 1 else "lgbm,lgbms,sub").split(",")
    data = training_part("genre")
    X, y, folds, classes = data["X"], data["y"], data["folds"], data["classes"]
    fine = subgenres(data)
    sub_code, sub_genre = fine["sub_code"], fine["sub_genre"]
    Xn = X.apply(pd.to_numeric, errors="coerce").astype("float64")
    filled = Xn.fillna(Xn.median())
    proba = {k: np.zeros((len(y), len(classes))) for k in ideas}
    seconds = dict.fromkeys(ideas, 0.0)
    for tr, va in folds:
        for idea in ideas:
            started = time.perf_counter()
            if idea == "lgbm":
                p, _ = _lgbm(LIGHTGBM_PARAMS, Xn.iloc[tr], y[tr], Xn.iloc[va])
            elif idea == "lgbms":
                p, _ = _lgbm(LIGHTGBM_PARAMS, Xn.iloc[tr], y[tr], Xn.iloc[va], seed=7)
            elif idea.startswith("lgbm_n"):
                rounds, rate = idea[6:].split("_")
                p, _ = _lgbm({**LIGHTGBM_PARAMS, "n_estimators": int(rounds), "learning_rate": float(rate)},
                             Xn.iloc[tr], y[tr], Xn.iloc[va])
            elif idea.startswith("sub"):
                rounds = int(idea[3:] or LIGHTGBM_PARAMS["n_estimators"])
                ps, model = _lgbm({**LIGHTGBM_PARAMS, "n_estimators": rounds}, Xn.iloc[tr], sub_code[tr],
                                  Xn.iloc[va])
                p = np.zeros((len(va), len(classes)))
                for j, code in enumerate(model.classes_):
                    p[:, sub_genre[code]] += ps[:, j]
            elif idea.startswith("cat"):
                from catboost import CatBoostClassifier

                model = CatBoostClassifier(iterations=int(idea[3:] or 1000), thread_count=2, verbose=0,
                                           random_seed=SEED, loss_function="MultiClass")
                p = model.fit(Xn.iloc[tr], y[tr]).predict_proba(Xn.iloc[va])
            else:
                p = _sklearn(idea).fit(filled.iloc[tr], y[tr]).predict_proba(filled.iloc[va])
            proba[idea][va] = p
            seconds[idea] += time.perf_counter() - started

    def report(name: str, p: np.ndarray) -> None:
        top2 = (np.argsort(-p, axis=1)[:, :2] == y[:, None]).any(axis=1).mean()
        print(f"{name:<34} accuracy {np.mean(p.argmax(1) == y):.4f}  top-2 {top2:.4f}  "
              f"log loss {log_loss(y, np.clip(p, 1e-15, 1)):.4f}")

    print(f"genre: {len(y):,} training tracks, {len(folds)} song-grouped folds (out-of-fold scores)")
    for idea in ideas:
        report(f"{idea} ({seconds[idea]:.0f} s)", proba[idea])
    for weight in (0.7, 0.8):
        for other in ideas[1:]:
            report(f"{weight} {ideas[0]} + {1 - weight:.1f} {other}",
                   weight * proba[ideas[0]] + (1 - weight) * proba[other])
    for i, a in enumerate(ideas):
        for b in ideas[i + 1:]:
            report(f"average {a} + {b}", (proba[a] + proba[b]) / 2)


if __name__ == "__main__":
    main()
