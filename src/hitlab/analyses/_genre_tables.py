"""The genre analysis's tables: strategy comparison, confusion, predictions, top-k, calibration.

Pure functions over a fitted genre :class:`~hitlab.modeling.TaskResult` (or its arrays); they
return DataFrames and :class:`~hitlab.modeling.Estimate` values and write nothing. Used by
:mod:`hitlab.analyses.genre`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from hitlab.analyses._fitting import mean_ci
from hitlab.errors import DataError
from hitlab.modeling import Estimate, TaskResult
from hitlab.modeling.evaluate import bootstrap_indices, class_recall

__all__ = [
    "CALIBRATION_BINS",
    "DEFAULT_MODEL",
    "LABEL_WORDS",
    "STRATEGY_ORDER",
    "TOP_K",
    "calibration_table",
    "confident_predictions",
    "confusion",
    "expected_calibration_error",
    "label_sets",
    "prediction_table",
    "spotify_link",
    "strategy_summary",
    "strategy_table",
    "text_column",
    "top2_misses",
    "top_k_table",
]

DEFAULT_MODEL = "lightgbm"
#: The imbalance strategies compared on the default model, in table order.
STRATEGY_ORDER: tuple[str, ...] = ("none", "undersample", "smote", "class_weight")
#: How the report names the label of each ``--labels`` scheme.
LABEL_WORDS = {"playlist": "playlist genre", "tags": "main genre (from artist tags)",
               "words": "main genre (from the table's own genre labels)"}
TOP_K: tuple[int, ...] = (1, 2, 3)
CALIBRATION_BINS = 10
_SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{22}$")


def spotify_link(track_id: object) -> str:
    """``https://open.spotify.com/track/<id>`` for a Spotify track id, else ``""``.

    >>> spotify_link("6f807x0ima9a1j3VPbc7VN")
    'https://open.spotify.com/track/6f807x0ima9a1j3VPbc7VN'
    >>> spotify_link("my-own-id")
    ''
    """
    text = "" if track_id is None or track_id is pd.NA else str(track_id)
    return f"https://open.spotify.com/track/{text}" if _SPOTIFY_ID.match(text) else ""


def text_column(rows: pd.DataFrame, column: str) -> np.ndarray:
    """A column as text (missing: ``""``); all ``""`` when the table lacks it."""
    if column not in rows.columns:
        return np.full(len(rows), "", dtype=object)
    return rows[column].astype("string").fillna("").to_numpy(dtype=object)


def label_sets(rows: pd.DataFrame) -> list[tuple[str, ...]]:
    """All labels of each row (``genres``), the training label always included."""
    primary = text_column(rows, "genre")
    if "genres" not in rows.columns:
        return [(str(g),) for g in primary]
    out = []
    for g, labels in zip(primary, rows["genres"].to_numpy(dtype=object), strict=True):
        items = tuple(str(x) for x in labels) if isinstance(labels, tuple | list | np.ndarray) else ()
        out.append(items if g in items else (str(g), *items))
    return out


def _ranked(proba: np.ndarray) -> np.ndarray:
    """Class codes by decreasing probability (stable: ties keep class order, as ``argmax`` does)."""
    return np.argsort(-proba, axis=1, kind="stable")


# --------------------------------------------------------------------------- analyses


def strategy_table(result: TaskResult, model: str = DEFAULT_MODEL, *, n_boot: int = 1000,
                   seed: int = 42) -> pd.DataFrame:
    """The seed's summary table, done right: one row per (row, strategy), tidy.

    Rows are ``accuracy``, ``macro_f1``, ``balanced_accuracy`` (overall) and
    ``recall: <genre>`` per genre (the share of that genre's test tracks predicted right,
    what the seed called "accuracy predicting X"); columns ``row``, ``kind``, ``tracks``,
    ``strategy``, ``value``, ``low``, ``high`` (bootstrap 95% CI, the same resamples for
    every strategy) and ``best`` (highest value of the row; ties all marked).

    Raises
    ------
    DataError
        When the run has no candidate of ``model``.
    """
    classes = result.classes or []
    y = result.y_test
    found = [c for c in result.candidates if c.model == model]
    if not found:
        raise DataError(f"the genre run has no {model!r} candidate to compare strategies on")
    order = {s: i for i, s in enumerate(STRATEGY_ORDER)}
    found.sort(key=lambda c: order.get(c.strategy, len(order)))
    records = []
    for c in found:
        for name in ("accuracy", "macro_f1", "balanced_accuracy"):
            est = c.metrics[name]
            records.append({"row": name, "kind": "overall", "tracks": len(y), "strategy": c.strategy,
                            "value": est.value, "low": est.low, "high": est.high})
        recall = class_recall(y, c.prediction, classes, n_boot=n_boot, seed=seed,
                              groups=result.test_groups)
        for genre, rec in recall.iterrows():
            records.append({"row": f"recall: {genre}", "kind": "genre", "tracks": int(rec["n"]),
                            "strategy": c.strategy, "value": float(rec["recall"]),
                            "low": float(rec.get("low", np.nan)), "high": float(rec.get("high", np.nan))})
    table = pd.DataFrame(records)
    top = table.groupby("row", sort=False)["value"].transform("max")
    table["best"] = np.isclose(table["value"].to_numpy(float), top.to_numpy(float), rtol=0, atol=1e-12)
    return table


def strategy_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The wide, readable form of :func:`strategy_table`: one row per line of the seed's
    table, one column per strategy (``value [low, high]``, ``*`` on the best of the row)."""
    strategies = list(dict.fromkeys(table["strategy"]))
    rows = []
    for row, part in table.groupby("row", sort=False):
        record: dict[str, Any] = {"row": row, "tracks": int(part["tracks"].iloc[0])}
        for rec in part.itertuples(index=False):
            mark = " *" if rec.best else ""
            record[rec.strategy] = f"{rec.value:.3f} [{rec.low:.3f}, {rec.high:.3f}]{mark}"
        record["best"] = ", ".join(part.loc[part["best"], "strategy"])
        rows.append(record)
    return pd.DataFrame(rows, columns=["row", "tracks", *strategies, "best"])


def confusion(y: np.ndarray, pred: np.ndarray, classes: Sequence[str]) -> pd.DataFrame:
    """Row-normalised confusion matrix: rows true genre, columns predicted, each row sums to 1
    (a genre without test tracks: a row of zeros)."""
    shares = confusion_matrix(y, pred, labels=np.arange(len(classes)), normalize="true")
    return pd.DataFrame(shares, index=pd.Index(classes, name="true"),
                        columns=pd.Index(classes, name="predicted"))


def prediction_table(result: TaskResult, model_key: str | None = None) -> pd.DataFrame:
    """One row per test track: names, link, true label(s), prediction, confidence, top-3 guesses."""
    cand = result.best if model_key is None else result.candidate(model_key)
    if cand.proba is None:
        raise DataError(f"candidate {cand.key!r} gives no probabilities")
    rows = result.test_rows
    y = result.y_test
    proba = cand.proba
    ranked = _ranked(proba)
    labels = label_sets(rows)
    predicted = result.labels(cand.prediction)
    n = len(rows)
    out = pd.DataFrame({
        "track_id": text_column(rows, "track_id"),
        "track_name": text_column(rows, "track_name"),
        "artist_name": text_column(rows, "artist_name"),
        "link": [spotify_link(t) for t in text_column(rows, "track_id")],
        "true": result.labels(y),
        "all_labels": ["|".join(x) for x in labels],
        "predicted": predicted,
        "confidence": proba[np.arange(n), cand.prediction],
        "correct": cand.prediction == y,
        "hit_any_label": [p in x for p, x in zip(predicted, labels, strict=True)],
    })
    for k in range(min(3, proba.shape[1])):
        out[f"guess_{k + 1}"] = result.labels(ranked[:, k])
        out[f"p_{k + 1}"] = proba[np.arange(n), ranked[:, k]]
    out["true_rank"] = np.argmax(ranked == y[:, None], axis=1) + 1
    return out


def confident_predictions(predictions: pd.DataFrame, *, correct: bool, top: int = 25) -> pd.DataFrame:
    """The ``top`` most confident right (``correct=True``) or wrong predictions, by confidence.

    Wrong means the prediction differs from the training label; ``hit_any_label`` says
    whether it names another of the track's labels.
    """
    part = predictions[predictions["correct"] == correct]
    part = part.sort_values(["confidence", "track_id"], ascending=[False, True], kind="stable").head(top)
    columns = ["confidence", "true", "predicted", "track_name", "artist_name", "link", "all_labels",
               "hit_any_label"]
    return part[columns].reset_index(drop=True)


def top_k_table(y: np.ndarray, proba: np.ndarray, ks: Sequence[int] = TOP_K, *, n_boot: int = 1000,
                seed: int = 42, groups: np.ndarray | None = None) -> pd.DataFrame:
    """Top-k accuracy (the true genre among the k most probable), k = 1, 2, 3, with 95% CIs."""
    ranked = _ranked(proba)
    records = []
    for k in ks:
        if k > proba.shape[1]:
            continue
        hits = (ranked[:, :k] == np.asarray(y)[:, None]).any(axis=1)
        est = mean_ci(hits, n_boot=n_boot, seed=seed, groups=groups)
        records.append({"k": k, "accuracy": est.value, "low": est.low, "high": est.high,
                        "chance": k / proba.shape[1]})
    return pd.DataFrame(records)


def top2_misses(predictions: pd.DataFrame) -> pd.DataFrame:
    """Test tracks whose true genre is neither of the two most probable, most confident first."""
    part = predictions[predictions["true_rank"] > 2]
    part = part.sort_values(["p_1", "track_id"], ascending=[False, True], kind="stable")
    columns = ["track_name", "artist_name", "link", "true", "all_labels", "guess_1", "p_1", "guess_2", "p_2",
               "true_rank"]
    return part[columns].reset_index(drop=True)


def calibration_table(confidence: np.ndarray, correct: np.ndarray,
                      bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Reliability table of the top-label confidence: equal-width bins of the stated confidence,
    with the tracks, mean confidence and share right in each (empty bins left out).

    The accuracy and mean confidence are scikit-learn's ``calibration_curve(strategy="uniform")``
    (``tests/test_genre.py`` checks it); computed here because the table also needs each bin's
    edges and tracks, and the library's mean confidence differs in the last digits (its bin sums
    add in another order), which would change the bytes of ``genre/calibration.csv``."""
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    records = []
    for b in range(bins):
        inside = which == b
        if not inside.any():
            continue
        records.append({"bin_low": edges[b], "bin_high": edges[b + 1], "tracks": int(inside.sum()),
                        "mean_confidence": float(confidence[inside].mean()),
                        "accuracy": float(correct[inside].mean())})
    return pd.DataFrame(records, columns=["bin_low", "bin_high", "tracks", "mean_confidence", "accuracy"])


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS,
                               *, n_boot: int = 1000, seed: int = 42,
                               groups: np.ndarray | None = None) -> Estimate:
    """ECE: the track-weighted mean gap between stated confidence and accuracy over the bins,
    with a bootstrap 95% CI (the rows, or whole ``groups``, are resampled; the bin edges fixed).

    >>> round(expected_calibration_error(np.array([0.9, 0.9, 0.6, 0.6]), np.array([1, 1, 1, 0]),
    ...                                  n_boot=0).value, 3)
    0.1
    """
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    n = confidence.size
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)

    def ece(idx: np.ndarray) -> float:
        w = np.bincount(which[idx], minlength=bins).astype(float)
        gap = np.bincount(which[idx], weights=confidence[idx] - correct[idx], minlength=bins)
        return float(np.abs(gap).sum() / max(w.sum(), 1.0))

    point = ece(np.arange(n))
    if n_boot <= 0 or n == 0:
        return Estimate(point, float("nan"), float("nan"))
    idx = bootstrap_indices(n, n_boot, seed, groups)
    values = np.array([ece(row) for row in idx])
    low, high = np.percentile(values, [2.5, 97.5])
    return Estimate(point, float(low), float(high))

