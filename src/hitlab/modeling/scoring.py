"""Fast, exact scoring of fitted pipelines whose last step is a LightGBM model.

LightGBM scores a table row by row, each row walking every tree, ~50-70 ns per tree and row
on one core. :func:`predict` and :func:`predict_proba` take the raw scores from a compiled
walk of the model's trees instead (:mod:`hitlab.modeling._treewalk`: four rows walk each tree
side by side, ~2.3x faster), for large jobs and rows without a missing value; LightGBM scores
the rest, in small blocks of boosting rounds so that a block's trees stay in the CPU's cache
(1.6x faster than all at once for the default models). Then the model's link function
(identity for regression, softmax for multi-class, sigmoid for binary) is applied once. The
result equals the pipeline's own ``predict``/``predict_proba`` up to floating-point summation
order (about 1e-13; tested), and the compiled walk is checked against LightGBM on a few rows
of each model before it is used.

A soft-voting average scores its LightGBM members this way and the rest by themselves; a
:class:`~hitlab.modeling.stack.GroupedStackRegressor` scores its LightGBM members this way,
the others by themselves, and hands their columns to its final model as its own ``predict``
does. Any other pipeline, or a LightGBM objective without a known link, is scored by the
pipeline itself, so the functions are safe to call on every model the zoo can save.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np
import pandas as pd

from hitlab.modeling import _treewalk

__all__ = ["COMPILED_MIN_TREE_ROWS", "ROWS_PER_BLOCK", "TREES_PER_BLOCK", "predict", "predict_proba"]

#: Trees evaluated together over a block of rows. Measured on the default models (one core,
#: 300k rows, us/row for genre / popularity): 6 trees 25.8 / 11.7, 12 trees 25.0 / 9.4,
#: 30 trees 28.6 / 9.4, 120 trees 32.5 / 12.5, all at once (LightGBM's way) 39.5 / 15.5.
TREES_PER_BLOCK = 12
#: Rows transformed and scored together (bounds the memory of scoring a large table).
ROWS_PER_BLOCK = 100_000
#: Scoring jobs of at least this many tree-row pairs use the compiled walk
#: (:mod:`hitlab.modeling._treewalk`, ~40 ns saved per pair); smaller ones do not repay reading
#: the model's trees (~0.2 s for the default genre model) and loading the compiled code.
COMPILED_MIN_TREE_ROWS = 10_000_000
_IDENTITY = {"regression", "regression_l1", "huber", "fair", "quantile", "mape", "l1", "l2", "mae", "mse"}
_SOFTMAX = {"multiclass", "softmax"}
_SIGMOID = {"binary"}


def _split(estimator: Any) -> tuple[list[Any], Any]:
    """(transforming steps, final model) of a pipeline, or ([], estimator)."""
    steps = getattr(estimator, "steps", None)
    if not steps:
        return [], estimator
    transforms = [step for _, step in steps[:-1] if step is not None and step != "passthrough"
                  and not hasattr(step, "fit_resample")]  # samplers only act while fitting
    return transforms, steps[-1][1]


def _booster(model: Any) -> tuple[Any, str] | None:
    """The fitted LightGBM booster and its objective, when its output link is known."""
    try:
        from lightgbm import LGBMModel
    except ImportError:  # pragma: no cover - lightgbm is a core dependency
        return None
    if not isinstance(model, LGBMModel) or not getattr(model, "fitted_", False):
        return None
    booster = model.booster_
    objective = str(booster.params.get("objective", getattr(model, "objective_", ""))).split(" ")[0]
    if objective not in _IDENTITY | _SOFTMAX | _SIGMOID:
        return None
    return booster, objective


def _raw_scores(booster: Any, X: np.ndarray, share: float = 1.0) -> np.ndarray:
    per_round = booster.num_model_per_iteration()
    rounds = booster.best_iteration if booster.best_iteration > 0 else booster.current_iteration()
    rounds = max(1, math.ceil(rounds * share)) if rounds else 0
    worth = rounds and len(X) * rounds * per_round >= COMPILED_MIN_TREE_ROWS and _treewalk.available()
    trees = _compiled(booster, X, rounds) if worth else None
    if trees is None:
        return _lightgbm_raw_scores(booster, X, rounds)
    missing = np.isnan(X[:, trees.used]).any(axis=1)
    if not missing.any():
        return _shaped(_treewalk.raw_scores(trees, X, rounds), per_round)
    out = np.empty((len(X), per_round))
    out[~missing] = _treewalk.raw_scores(trees, X[~missing], rounds)
    out[missing] = _lightgbm_raw_scores(booster, X[missing], rounds).reshape(-1, per_round)
    return _shaped(out, per_round)


def _shaped(scores: np.ndarray, per_round: int) -> np.ndarray:
    return scores[:, 0] if per_round == 1 else scores


#: Each booster's compiled trees (None: left to LightGBM), kept as long as the booster lives.
_TREES: weakref.WeakKeyDictionary[Any, _treewalk.CompiledTrees | None] = weakref.WeakKeyDictionary()


def _compiled(booster: Any, X: np.ndarray, rounds: int) -> _treewalk.CompiledTrees | None:
    """The booster's trees compiled for :mod:`hitlab.modeling._treewalk`, checked once against
    LightGBM's own scores of a few rows (None when the model is not supported or they differ)."""
    if booster in _TREES:
        return _TREES[booster]
    trees = _treewalk.compile_trees(booster)
    if trees is not None:
        probe = X[~np.isnan(X[:, trees.used]).any(axis=1)][:64]
        if len(probe):
            theirs = _lightgbm_raw_scores(booster, probe, rounds).reshape(len(probe), -1)
            if not np.allclose(_treewalk.raw_scores(trees, probe, rounds), theirs, rtol=1e-12, atol=1e-12):
                trees = None
        else:
            return trees  # nothing to check with yet: check on the next call
    _TREES[booster] = trees
    return trees


def _lightgbm_raw_scores(booster: Any, X: np.ndarray, rounds: int) -> np.ndarray:
    per_round = booster.num_model_per_iteration()
    step = max(1, TREES_PER_BLOCK // per_round)
    total: np.ndarray | None = None
    for start in range(0, rounds, step):
        part = booster.predict(X, raw_score=True, start_iteration=start,
                               num_iteration=min(step, rounds - start), num_threads=1)
        total = part if total is None else total + part
    if total is None:  # a model without trees predicts its init score: let LightGBM do it
        total = booster.predict(X, raw_score=True, num_threads=1)
    return np.asarray(total, dtype=float)


def _link(raw: np.ndarray, objective: str) -> np.ndarray:
    if objective in _SOFTMAX:
        shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)
    if objective in _SIGMOID:
        p = 1.0 / (1.0 + np.exp(-raw))
        return np.column_stack([1.0 - p, p])
    return raw


def _members(model: Any) -> list[tuple[Any, float]]:
    """(member, weight) of a fitted soft-voting average (scikit-learn's ``VotingRegressor`` /
    ``VotingClassifier(voting="soft")``), weights summing to one; ``[(model, 1.0)]`` otherwise."""
    from sklearn.ensemble import VotingClassifier, VotingRegressor

    fitted = getattr(model, "estimators_", None)
    if not isinstance(model, VotingRegressor | VotingClassifier) or fitted is None:
        return [(model, 1.0)]
    if isinstance(model, VotingClassifier) and model.voting != "soft":
        return [(model, 1.0)]
    kept = model._weights_not_none  # the weights of the members not set to "drop", as fit used them
    weights = np.ones(len(fitted)) if kept is None else np.asarray(kept, dtype=float)
    return list(zip(fitted, (weights / weights.sum()).tolist(), strict=True))


def _fits(found: tuple[Any, str] | None, proba: bool) -> bool:
    return found is not None and (found[1] not in _IDENTITY if proba else found[1] in _IDENTITY)


def _stack_members(model: Any) -> list[tuple[Any, tuple[Any, str] | None]] | None:
    """(member, its LightGBM booster or None) of a fitted stack with a LightGBM regressor among
    its members; None for any other model."""
    from hitlab.modeling.stack import GroupedStackRegressor

    if not isinstance(model, GroupedStackRegressor) or not hasattr(model, "members_"):
        return None
    members = [(member, _booster(member)) for _, member in model.members_]
    return members if any(_fits(found, False) for _, found in members) else None


def _stack_scores(model: Any, members: list[tuple[Any, tuple[Any, str] | None]], values: np.ndarray
                  ) -> np.ndarray:
    columns = []
    for member, found in members:
        if _fits(found, False):
            booster, objective = found  # type: ignore[misc]
            columns.append(_link(_raw_scores(booster, values), objective))
        else:
            columns.append(np.asarray(member.predict(values), dtype=float))
    return np.asarray(model.final_.predict(np.hstack([values, np.column_stack(columns)])), dtype=float)


def _blocks(estimator: Any, X: pd.DataFrame, proba: bool, share: float = 1.0) -> np.ndarray | None:
    """Scores of a pipeline ending in LightGBM, or in a soft-voting average with a LightGBM member
    (the LightGBM members scored fast, the others by themselves, averaged with the ensemble's
    weights), or in a grouped stack with a LightGBM member (:func:`_stack_scores`); None for any
    other pipeline. With ``share`` < 1 an average keeps only its LightGBM
    members (their first rounds, weights renormalised): the cheaper, rougher guess ``share`` asks for."""
    transforms, model = _split(estimator)
    stacked = None if proba else _stack_members(model)
    members = [(member, weight, _booster(member)) for member, weight in _members(model)]
    if stacked is None and not any(_fits(found, proba) for _, _, found in members):
        return None
    if len(members) > 1 and share < 1:
        members = [m for m in members if _fits(m[2], proba)]
        total = sum(weight for _, weight, _ in members)
        members = [(member, weight / total, found) for member, weight, found in members]
    parts = []
    for start in range(0, len(X), ROWS_PER_BLOCK):
        block: Any = X.iloc[start:start + ROWS_PER_BLOCK]
        for step in transforms:
            block = step.transform(block)
        values = np.ascontiguousarray(np.asarray(block, dtype=np.float64))
        if stacked is not None:
            parts.append(_stack_scores(model, stacked, values))
            continue
        total_scores: np.ndarray | None = None
        for member, weight, found in members:
            if _fits(found, proba):
                booster, objective = found  # type: ignore[misc]
                scores = _link(_raw_scores(booster, values, share), objective)
            else:
                scores = np.asarray(member.predict_proba(values) if proba else member.predict(values),
                                    dtype=float)
            scores = weight * scores  # exact for a lone model (weight 1.0)
            total_scores = scores if total_scores is None else total_scores + scores
        parts.append(total_scores)
    return np.concatenate(parts)


def predict(estimator: Any, X: pd.DataFrame) -> np.ndarray:
    """``estimator.predict(X)``, faster for a LightGBM regressor (same values, tested)."""
    if len(X) == 0:
        return np.empty(0)
    fast = _blocks(estimator, X, proba=False)
    return fast if fast is not None else np.asarray(estimator.predict(X))


def predict_proba(estimator: Any, X: pd.DataFrame, *, share: float = 1.0) -> np.ndarray:
    """``estimator.predict_proba(X)``, faster for a LightGBM classifier (same values, tested).

    ``share`` < 1 scores with only the first ``ceil(share * rounds)`` boosting rounds of a
    LightGBM model (a cheaper, rougher guess: ``hitlab.predict`` uses it for the provisional
    genre that the popularity model needs); other models always use all of themselves.
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    if len(X) == 0:
        return np.empty((0, len(estimator.classes_)))
    fast = _blocks(estimator, X, proba=True, share=share)
    return fast if fast is not None else np.asarray(estimator.predict_proba(X))
