"""The steps of :mod:`hitlab.analyses.label_quality`: out-of-fold probabilities, confident
learning, the cleaning check, genre profiles and the tag vocabulary report. Tables in, tables out;
no I/O."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hitlab.analyses._fitting import (
    TaskData,
    difference_ci,
    excludes_zero,
    fit_model,
    mean_ci,
    percentile_ci,
    predict,
)
from hitlab.analyses._genre_tables import spotify_link, text_column
from hitlab.labels import DEFAULT_VOCABULARY, _tag_words, attach_artist_tags, main_genre, normalize_tag
from hitlab.modeling import Task, inner_folds
from hitlab.modeling.evaluate import bootstrap_indices


@dataclass(frozen=True)
class OofFold:
    """One cross-fitting fold: positions (into the labelled rows) its model was fitted on and scored."""

    train: np.ndarray
    test: np.ndarray


# --------------------------------------------------------------------------- out-of-fold and flags


def out_of_fold(
    task: Task,
    data: TaskData,
    *,
    rows: np.ndarray | None = None,
    n_splits: int = 5,
    seed: int = 42,
    n_jobs: int = 1,
    sample_weight: np.ndarray | None = None,
    params: dict[str, Any] | None = None,
) -> tuple[np.ndarray, list[OofFold]]:
    """Class probabilities of ``rows`` (default: all), each from a model fitted on the other folds.

    Folds are grouped (``data.groups``) and stratified by the label; positions in the returned
    folds index into ``data``'s rows.
    """
    rows = np.arange(len(data.y)) if rows is None else np.asarray(rows)
    n_classes = len(data.classes or [])
    proba = np.zeros((rows.size, n_classes))
    folds = []
    for fit_part, held in inner_folds(data.groups[rows], data.y[rows], n_splits=n_splits, seed=seed):
        train, test = rows[fit_part], rows[held]
        weight = None if sample_weight is None else sample_weight[train]
        model = fit_model(
            task,
            data.features,
            data.X.iloc[train],
            data.y[train],
            seed=seed,
            n_jobs=n_jobs,
            params=params,
            sample_weight=weight,
        )
        proba[held] = predict(model, task.kind, data.X.iloc[test], n_classes)[1]
        folds.append(OofFold(np.sort(train), np.sort(test)))
    return proba, folds


def _label_issues(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Positions of the likely mislabelled rows (cleanlab, pruned by noise rate)."""
    from cleanlab.filter import find_label_issues

    return np.asarray(
        find_label_issues(labels=y, pred_probs=proba, filter_by="prune_by_noise_rate", n_jobs=1), dtype=bool
    )


def _wrong_per_genre(y: np.ndarray, proba: np.ndarray, k: int) -> np.ndarray:
    """Labels estimated wrong per given class: the off-diagonal mass of cleanlab's calibrated joint."""
    from cleanlab.count import estimate_joint

    joint = estimate_joint(labels=y, pred_probs=proba) * y.size
    return joint.sum(axis=1) - np.diagonal(joint)


def _per_genre(
    y: np.ndarray,
    proba: np.ndarray,
    flagged: np.ndarray,
    classes: list[str],
    *,
    n_boot: int,
    seed: int,
    groups: np.ndarray,
) -> pd.DataFrame:
    k = len(classes)
    point = _wrong_per_genre(y, proba, k)
    boots = []
    for idx in bootstrap_indices(y.size, n_boot, seed, groups):
        if np.unique(y[idx]).size == k:  # cleanlab needs every class present
            boots.append(_wrong_per_genre(y[idx], proba[idx], k))
    boots_arr = np.asarray(boots) if boots else np.empty((0, k))
    counts = np.bincount(y, minlength=k)
    records = []
    for j, genre in enumerate(classes):
        est = percentile_ci(point[j], boots_arr[:, j] if len(boots_arr) else np.empty(0))
        records.append(
            {
                "genre": genre,
                "tracks": int(counts[j]),
                "flagged": int(flagged[y == j].sum()),
                "flagged_share": float(flagged[y == j].mean()) if counts[j] else np.nan,
                "estimated_wrong": est.value,
                "estimated_wrong_low": est.low,
                "estimated_wrong_high": est.high,
                "estimated_wrong_share": est.value / counts[j] if counts[j] else np.nan,
            }
        )
    table = pd.DataFrame(records)
    # shares: the count and its CI over the genre's size (the size barely varies between resamples)
    table["share_low"] = table["estimated_wrong_low"] / table["tracks"]
    table["share_high"] = table["estimated_wrong_high"] / table["tracks"]
    return table


def _label_sets(rows: pd.DataFrame) -> list[tuple[str, ...]]:
    if "genres" not in rows.columns:
        return [(str(g),) for g in rows["genre"]]
    return [
        tuple(str(g) for g in labels) if len(labels) else (str(first),)
        for labels, first in zip(rows["genres"], rows["genre"], strict=True)
    ]


def _flagged_table(data: TaskData, proba: np.ndarray, flagged: np.ndarray) -> pd.DataFrame:
    classes = np.asarray(data.classes, dtype=object)
    n = len(data.y)
    suggested = np.argmax(proba, axis=1)
    p_given = proba[np.arange(n), data.y]
    rows = data.rows
    sets = _label_sets(rows)
    ids = text_column(rows, "track_id")
    table = pd.DataFrame(
        {
            "track_id": ids,
            "track_name": text_column(rows, "track_name"),
            "artist_name": text_column(rows, "artist_name"),
            "given": classes[data.y],
            "suggested": classes[suggested],
            "confidence": 1.0 - p_given,
            "p_given": p_given,
            "p_suggested": proba[np.arange(n), suggested],
            "all_labels": ["|".join(s) for s in sets],
            "suggested_in_labels": [c in s for c, s in zip(classes[suggested], sets, strict=True)],
            "link": [spotify_link(t) for t in ids],
        }
    )[flagged]
    table = table.sort_values(["confidence", "track_id"], ascending=[False, True], kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


# --------------------------------------------------------------------------- does cleaning help?


def _second_source(
    rows: pd.DataFrame, artists: pd.DataFrame | None, classes: list[str], notes: list[str]
) -> np.ndarray | None:
    """Per row: the artist-tag main genre (vocabulary = the playlist genres), or None where unknown.
    None overall when no second source exists (no tags, or the labels already come from tags)."""
    if "main_genre" in rows.columns:
        notes.append("the labels come from artist tags, so no second source can confirm them")
        return None
    tagged = rows
    if artists is not None:
        tagged, _ = attach_artist_tags(rows, artists)
    if "artist_genres" not in tagged.columns or not tagged["artist_genres"].map(len).any():
        notes.append("no artist tags: 'does cleaning help?' is scored on all test tracks")
        return None
    counts = rows["genre"].value_counts()
    vocabulary = [c for c in counts.index.astype(str) if normalize_tag(c) == c] or list(classes)
    genre, _ = main_genre(tagged["artist_genres"], vocabulary)
    return genre.astype(object).where(genre.notna(), None).to_numpy(dtype=object)


def _does_cleaning_help(
    task: Task,
    data: TaskData,
    tag_genre: np.ndarray | None,
    *,
    n_splits: int,
    n_boot: int,
    seed: int,
    n_jobs: int,
    params: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    n_classes = len(data.classes or [])
    train, test = inner_folds(data.groups, data.y, n_splits=3, seed=seed)[0]
    proba_train, _ = out_of_fold(
        task, data, rows=train, n_splits=n_splits, seed=seed, n_jobs=n_jobs, params=params
    )
    flagged = _label_issues(data.y[train], proba_train)
    kept = train[~flagged]
    full = fit_model(
        task, data.features, data.X.iloc[train], data.y[train], seed=seed, n_jobs=n_jobs, params=params
    )
    clean = fit_model(
        task, data.features, data.X.iloc[kept], data.y[kept], seed=seed, n_jobs=n_jobs, params=params
    )
    y_test = data.y[test]
    right_full = (predict(full, task.kind, data.X.iloc[test], n_classes)[0] == y_test).astype(float)
    right_clean = (predict(clean, task.kind, data.X.iloc[test], n_classes)[0] == y_test).astype(float)
    subsets: list[tuple[str, np.ndarray]] = []
    classes = np.asarray(data.classes, dtype=object)
    if tag_genre is not None:
        known = np.asarray([g is not None for g in tag_genre[test]])
        agree = known & (tag_genre[test] == classes[y_test])
        subsets.append(("labels confirmed by artist tags", agree))
        subsets.append(("labels contradicted by artist tags", known & ~agree))
    subsets.append(("all test tracks", np.ones(test.size, dtype=bool)))
    records = []
    for name, inside in subsets:
        if inside.sum() < 20:
            continue
        g = data.groups[test][inside]
        a = mean_ci(right_full[inside], n_boot=n_boot, seed=seed, groups=g)
        c = mean_ci(right_clean[inside], n_boot=n_boot, seed=seed, groups=g)
        d = difference_ci(right_clean[inside], right_full[inside], n_boot=n_boot, seed=seed, groups=g)
        records.append(
            {
                "test_tracks": name,
                "tracks": int(inside.sum()),
                "accuracy_all": a.value,
                "accuracy_all_low": a.low,
                "accuracy_all_high": a.high,
                "accuracy_cleaned": c.value,
                "accuracy_cleaned_low": c.low,
                "accuracy_cleaned_high": c.high,
                "difference": d.value,
                "difference_low": d.low,
                "difference_high": d.high,
                "real": excludes_zero(d),
            }
        )
    facts = {
        "train_tracks": int(train.size),
        "flagged_in_train": int(flagged.sum()),
        "test_size": int(test.size),
        "split": (train, test),
    }
    return pd.DataFrame(records), facts


# --------------------------------------------------------------------------- several genres per track


def _jaccard_top(proba: np.ndarray, sets: list[set[int]]) -> np.ndarray:
    ranked = np.argsort(-proba, axis=1, kind="stable")
    return np.array(
        [len(set(ranked[i, : len(s)]) & s) / len(set(ranked[i, : len(s)]) | s) for i, s in enumerate(sets)]
    )


def _multi_label(
    task: Task,
    data: TaskData,
    proba_one: np.ndarray,
    *,
    n_splits: int,
    n_boot: int,
    seed: int,
    n_jobs: int,
    params: dict[str, Any] | None = None,
) -> pd.DataFrame:
    classes = list(data.classes or [])
    lookup = {c: i for i, c in enumerate(classes)}
    sets = [{lookup[g] for g in s if g in lookup} for s in _label_sets(data.rows)]
    sizes = np.array([len(s) for s in sets])
    multi = np.flatnonzero(sizes > 1)
    if multi.size < 20:
        return pd.DataFrame()
    # the genre-profile model: each track once per label, weighted 1 / its number of labels
    owner = np.repeat(np.arange(len(sets)), np.maximum(sizes, 1))
    labels = np.concatenate([sorted(s) if s else [data.y[i]] for i, s in enumerate(sets)]).astype(np.int64)
    expanded = TaskData(
        data.rows.iloc[owner], data.X.iloc[owner], labels, data.classes, data.features, data.groups[owner], 0
    )
    weight = 1.0 / np.maximum(sizes, 1)[owner]
    proba_exp, _ = out_of_fold(
        task, expanded, n_splits=n_splits, seed=seed, n_jobs=n_jobs, sample_weight=weight, params=params
    )
    first = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    proba_profile = proba_exp[first]  # every copy of a track sits in one fold: same probabilities
    g = data.groups[multi]
    chosen = [sets[i] for i in multi]
    records = []
    scores = {}
    for model, proba in (
        ("one label (trained on the first playlist genre)", proba_one),
        ("genre profile (trained on every playlist genre)", proba_profile),
    ):
        top = np.argmax(proba[multi], axis=1)
        hit = np.array([t in s for t, s in zip(top, chosen, strict=True)], dtype=float)
        jac = _jaccard_top(proba[multi], chosen)
        scores[model] = (hit, jac)
        h = mean_ci(hit, n_boot=n_boot, seed=seed, groups=g)
        j = mean_ci(jac, n_boot=n_boot, seed=seed, groups=g)
        records.append(
            {
                "model": model,
                "tracks": int(multi.size),
                "hit_any": h.value,
                "hit_any_low": h.low,
                "hit_any_high": h.high,
                "jaccard": j.value,
                "jaccard_low": j.low,
                "jaccard_high": j.high,
            }
        )
    (hit_a, jac_a), (hit_b, jac_b) = scores.values()
    dh = difference_ci(hit_b, hit_a, n_boot=n_boot, seed=seed, groups=g)
    dj = difference_ci(jac_b, jac_a, n_boot=n_boot, seed=seed, groups=g)
    records.append(
        {
            "model": "difference (profile - one label)",
            "tracks": int(multi.size),
            "hit_any": dh.value,
            "hit_any_low": dh.low,
            "hit_any_high": dh.high,
            "jaccard": dj.value,
            "jaccard_low": dj.low,
            "jaccard_high": dj.high,
        }
    )
    return pd.DataFrame(records)


# --------------------------------------------------------------------------- tag vocabulary


def tag_vocabulary(
    tracks: pd.DataFrame, vocabulary: Sequence[str] = DEFAULT_VOCABULARY, *, top: int = 10
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """How the artist tags of ``tracks`` make main genres (the tags scheme of :mod:`hitlab.labels`).

    Returns ``(vocabulary, ties, disagreements)``: per main genre the ``top`` tags that fed it
    (tracks whose main genre it became with that tag among the counted ones); each tie (the
    genres tied, the winner by vocabulary order, tracks); and, where a playlist genre is known
    (``genres``), tag main genre against playlist genre (tracks, share of the tag genre's tracks).
    """
    vocab = [normalize_tag(v) for v in vocabulary]
    priority = {g: i for i, g in enumerate(vocab)}
    tags = tracks["artist_genres"].map(tuple)
    codes, uniques = pd.factorize(tags.astype(object))
    per_unique = []
    for tag_tuple in uniques:
        words = {tag: [w for w in _tag_words(tag) if w in priority] for tag in tag_tuple}
        counts = Counter(w for ws in words.values() for w in ws)
        if not counts:
            per_unique.append((None, (), ()))
            continue
        best = max(counts.values())
        tied = tuple(sorted((g for g, c in counts.items() if c == best), key=priority.__getitem__))
        feeders = tuple(tag for tag, ws in words.items() if tied[0] in ws)
        per_unique.append((tied[0], tied, feeders))
    fed: Counter[tuple[str, str]] = Counter()
    ties: Counter[tuple[str, str]] = Counter()
    for code, n in zip(*np.unique(codes[codes >= 0], return_counts=True), strict=True):
        genre, tied, feeders = per_unique[code]
        if genre is None:
            continue
        for tag in feeders:
            fed[(genre, tag)] += int(n)
        if len(tied) > 1:
            ties[(" / ".join(tied), genre)] += int(n)
    vocab_table = pd.DataFrame(
        [{"main_genre": g, "tag": t, "tracks": n} for (g, t), n in fed.items()],
        columns=["main_genre", "tag", "tracks"],
    )
    vocab_table = (
        vocab_table.sort_values(["main_genre", "tracks", "tag"], ascending=[True, False, True])
        .groupby("main_genre", sort=False)
        .head(top)
        .reset_index(drop=True)
    )
    tie_table = (
        pd.DataFrame(
            [{"tied_genres": k, "winner": w, "tracks": n} for (k, w), n in ties.items()],
            columns=["tied_genres", "winner", "tracks"],
        )
        .sort_values(["tracks", "tied_genres"], ascending=[False, True])
        .reset_index(drop=True)
    )
    genre = np.array([per_unique[c][0] if c >= 0 else None for c in codes], dtype=object)
    disagreements = pd.DataFrame(columns=["tag_genre", "playlist_genre", "tracks", "share_of_tag_genre"])
    if "genres" in tracks.columns and "main_genre" not in tracks.columns:
        playlist = tracks["genres"].map(lambda t: t[0] if len(t) else None).to_numpy(dtype=object)
        known = np.array([g is not None and p is not None for g, p in zip(genre, playlist, strict=True)])
        pairs = pd.DataFrame({"tag_genre": genre[known], "playlist_genre": playlist[known]})
        crosstab = pairs.value_counts().rename("tracks").reset_index()
        crosstab["share_of_tag_genre"] = crosstab["tracks"] / crosstab.groupby("tag_genre")[
            "tracks"
        ].transform("sum")
        disagreements = crosstab.sort_values(["tag_genre", "tracks"], ascending=[True, False]).reset_index(
            drop=True
        )
    return vocab_table, tie_table, disagreements
