"""Which genre labels are likely wrong, and does removing them help?

:func:`analyse` takes the cleaned, labelled track table and returns a
:class:`LabelQualityResult`; it writes nothing.

- **Out-of-fold probabilities** for every labelled track: grouped, stratified K-fold
  (:func:`hitlab.modeling.inner_folds`), each fold's model the genre task's LightGBM pipeline
  (zoo defaults, no tuning), so every track's probabilities come from a model that never saw it.
- **Likely mislabelled tracks** by confident learning (cleanlab's ``find_label_issues``,
  pruned by noise rate): given label, suggested label, confidence that the given label is
  wrong (1 - the out-of-fold probability of the given label, cleanlab's self-confidence
  ranking), Spotify link; ordered by that confidence. Per genre, the labels estimated wrong
  from cleanlab's calibrated confident joint, with a bootstrap 95% CI.
- **Does cleaning help?** A grouped split; the flagged tracks are found again *within the
  training part only*; one model is trained on every training track, one without the flagged
  ones; both are scored on the test tracks whose label a second source confirms (the artist-tag
  main genre equals the playlist genre) and on all test tracks: accuracy with CIs and the paired
  difference.
- **Several genres per track**: tracks in playlists of several genres. A genre-profile model
  (each track once per label, weighted 1/number of labels) returns a probability per genre;
  it is scored by hit-any (the top genre is one of the track's) and by set overlap (Jaccard of
  its top-|labels| genres with the label set), beside the one-label model.
- **Tag vocabulary** (when artist tags are known): which tags fed which main genre, the ties
  and how the vocabulary order broke them, and where the tag genre disagrees with the
  playlist genre.

>>> from hitlab.analyses import label_quality                                  # doctest: +SKIP
>>> result = label_quality.analyse(tracks, artists=read_artists(path))         # doctest: +SKIP
>>> result.flagged.head(); result.cleaning; label_quality.section(result)      # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hitlab.analyses._fitting import (
    TaskData,
    difference_ci,
    excludes_zero,
    fit_model,
    mean_ci,
    percentile_ci,
    predict,
    task_data,
)
from hitlab.errors import DataError
from hitlab.genre import genre_task, spotify_link
from hitlab.labels import DEFAULT_VOCABULARY, _tag_words, attach_artist_tags, main_genre, normalize_tag
from hitlab.modeling import Estimate, Task, inner_folds
from hitlab.modeling.evaluate import bootstrap_indices

__all__ = ["LabelQualityResult", "OofFold", "analyse", "out_of_fold", "section", "tag_vocabulary"]


@dataclass(frozen=True)
class OofFold:
    """One cross-fitting fold: positions (into the labelled rows) its model was fitted on and scored."""

    train: np.ndarray
    test: np.ndarray


@dataclass
class LabelQualityResult:
    """What :func:`analyse` found. ``skipped`` holds the reason when the data cannot answer."""

    skipped: str | None = None
    classes: list[str] = field(default_factory=list)
    proba: np.ndarray | None = None
    folds: list[OofFold] = field(default_factory=list)
    out_of_fold: pd.DataFrame = field(default_factory=pd.DataFrame)
    accuracy: Estimate | None = None
    baseline_accuracy: float = float("nan")
    flagged: pd.DataFrame = field(default_factory=pd.DataFrame)
    per_genre: pd.DataFrame = field(default_factory=pd.DataFrame)
    cleaning: pd.DataFrame = field(default_factory=pd.DataFrame)
    multi_label: pd.DataFrame = field(default_factory=pd.DataFrame)
    tag_vocabulary: pd.DataFrame = field(default_factory=pd.DataFrame)
    tag_ties: pd.DataFrame = field(default_factory=pd.DataFrame)
    tag_disagreements: pd.DataFrame = field(default_factory=pd.DataFrame)
    cleaning_split: tuple[np.ndarray, np.ndarray] | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def tables(self) -> dict[str, pd.DataFrame]:
        """Tables by name (a stage writes them as ``label_quality/<name>.csv``); empty ones left out."""
        if self.skipped:
            return {}
        tables = {
            "flagged": self.flagged,
            "wrong_by_genre": self.per_genre,
            "cleaning": self.cleaning,
            "multi_label": self.multi_label,
            "tag_vocabulary": self.tag_vocabulary,
            "tag_ties": self.tag_ties,
            "tag_disagreements": self.tag_disagreements,
            "out_of_fold": self.out_of_fold,
        }
        return {name: table for name, table in tables.items() if len(table)}

    def figures(self) -> dict[str, Figure]:
        """Figures by file stem (``label_quality_...``); the caller saves (and closes) them."""
        from hitlab.analyses import _plots as plots

        if self.skipped:
            return {}
        figs: dict[str, Figure] = {}
        if len(self.per_genre):
            figs["label_quality_wrong_by_genre"] = plots.wrong_labels_chart(self.per_genre)
        if len(self.cleaning):
            figs["label_quality_cleaning"] = plots.cleaning_chart(self.cleaning)
        return figs


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


def _text(rows: pd.DataFrame, column: str) -> np.ndarray:
    if column not in rows.columns:
        return np.full(len(rows), "", dtype=object)
    return rows[column].astype("string").fillna("").to_numpy(dtype=object)


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
    ids = _text(rows, "track_id")
    table = pd.DataFrame(
        {
            "track_id": ids,
            "track_name": _text(rows, "track_name"),
            "artist_name": _text(rows, "artist_name"),
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


# --------------------------------------------------------------------------- the analysis


def analyse(
    tracks: pd.DataFrame,
    *,
    groups: np.ndarray | None = None,
    artists: pd.DataFrame | None = None,
    features: Sequence[str] | str | None = None,
    vocabulary: Sequence[str] = DEFAULT_VOCABULARY,
    n_splits: int = 5,
    clean_splits: int = 3,
    multi_label: bool = True,
    n_boot: int = 1000,
    seed: int = 42,
    n_jobs: int = 1,
    params: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> LabelQualityResult:
    """Out-of-fold probabilities, likely mislabelled tracks, whether removing them helps, the
    multi-label view and the tag vocabulary report.

    Parameters
    ----------
    tracks
        The cleaned, labelled canonical track table (``genre``; ``genres`` for the label sets).
    groups
        One group label per row of ``tracks`` (default: the track id); no group is on both sides
        of a fold or of the split. Pass song groups to keep versions of one song together.
    artists
        An artists table (:func:`hitlab.read_artists`) whose tags confirm or contradict the
        playlist labels; without it, tags already in ``artist_genres`` are used, and without
        those the cleaning check is scored on all test tracks (said in the notes).
    features
        ``--features`` value of the genre task.
    vocabulary
        Genre words of the tag vocabulary report (the tags scheme's vocabulary).
    n_splits, clean_splits
        Folds of the out-of-fold probabilities, and of the flagging inside the training part.
    multi_label
        Fit the genre-profile model for tracks with several labels.
    n_boot, seed, n_jobs
        Bootstrap resamples; seed of everything; threads per model.
    params
        LightGBM parameters laid over the zoo's defaults (e.g. fewer trees for a quick look).
    progress
        Called with short messages.
    """
    started = time.perf_counter()
    say = progress or (lambda message: None)
    task = genre_task(features)
    try:
        data = task_data(tracks, task, groups)
    except DataError as exc:
        return LabelQualityResult(skipped=str(exc))
    notes: list[str] = []
    if data.left_out:
        notes.append(f"{data.left_out:,} tracks without a genre label left out")
    classes = list(data.classes or [])
    say(f"out-of-fold probabilities: {n_splits} grouped folds over {len(data.y):,} tracks")
    proba, folds = out_of_fold(task, data, n_splits=n_splits, seed=seed, n_jobs=n_jobs, params=params)
    pred = np.argmax(proba, axis=1)
    accuracy = mean_ci((pred == data.y).astype(float), n_boot=n_boot, seed=seed, groups=data.groups)
    baseline = float(np.mean(data.y == np.bincount(data.y).argmax()))
    say("confident learning (cleanlab)")
    flagged = _label_issues(data.y, proba)
    flagged_table = _flagged_table(data, proba, flagged)
    per_genre = _per_genre(
        data.y, proba, flagged, classes, n_boot=min(n_boot, 200), seed=seed, groups=data.groups
    )
    oof = pd.DataFrame(
        {
            "track_id": _text(data.rows, "track_id"),
            "given": np.asarray(classes, dtype=object)[data.y],
            "predicted": np.asarray(classes, dtype=object)[pred],
            "flagged": flagged,
        }
    )
    for j, c in enumerate(classes):
        oof[f"p_{c}"] = proba[:, j]
    say("does cleaning help? (flagging within the training part, two models)")
    tag_genre = _second_source(data.rows, artists, classes, notes)
    cleaning, cleaning_facts = _does_cleaning_help(
        task, data, tag_genre, n_splits=clean_splits, n_boot=n_boot, seed=seed, n_jobs=n_jobs, params=params
    )
    multi = pd.DataFrame()
    if multi_label:
        say("genre profiles for tracks with several labels")
        multi = _multi_label(
            task, data, proba, n_splits=n_splits, n_boot=n_boot, seed=seed, n_jobs=n_jobs, params=params
        )
        if not len(multi):
            notes.append("fewer than 20 tracks carry several genre labels: the multi-label view is skipped")
    vocab = ties = disagreements = pd.DataFrame()
    tagged = data.rows
    if artists is not None and "main_genre" not in tagged.columns:
        tagged, _ = attach_artist_tags(tagged, artists)
    if "artist_genres" in tagged.columns and tagged["artist_genres"].map(len).any():
        vocab, ties, disagreements = tag_vocabulary(tagged, vocabulary)
    result = LabelQualityResult(
        None,
        classes,
        proba,
        folds,
        oof,
        accuracy,
        baseline,
        flagged_table,
        per_genre,
        cleaning,
        multi,
        vocab,
        ties,
        disagreements,
        cleaning_facts.pop("split"),
        {},
        notes,
    )
    result.facts = _facts(result, cleaning_facts, len(data.y), vocabulary)
    result.seconds = time.perf_counter() - started
    return result


def _facts(
    result: LabelQualityResult, cleaning: dict[str, Any], n: int, vocabulary: Sequence[str]
) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "tracks": n,
        "genres": len(result.classes),
        "notes": list(result.notes),
        "folds": len(result.folds),
    }
    if result.accuracy is not None:
        facts["accuracy"] = result.accuracy.to_dict()
        facts["baseline"] = result.baseline_accuracy
    facts["flagged"] = len(result.flagged)
    facts["flagged_share"] = len(result.flagged) / n if n else float("nan")
    per = result.per_genre
    if len(per):
        facts["estimated_wrong"] = float(per["estimated_wrong"].sum())
        worst = per.sort_values("estimated_wrong_share", ascending=False).iloc[0]
        facts["worst_genre"] = {
            k: worst[k]
            for k in (
                "genre",
                "estimated_wrong",
                "estimated_wrong_low",
                "estimated_wrong_high",
                "estimated_wrong_share",
                "tracks",
            )
        }
    if len(result.flagged):
        fl = result.flagged
        facts["top_flag"] = fl.iloc[0][
            ["track_name", "artist_name", "given", "suggested", "confidence"]
        ].to_dict()
        facts["suggested_in_labels"] = int(fl["suggested_in_labels"].sum())
        pairs = fl.groupby(["given", "suggested"]).size().sort_values(ascending=False).head(3)
        facts["common_swaps"] = [
            {"given": g, "suggested": s, "tracks": int(k)} for (g, s), k in pairs.items()
        ]
    facts["cleaning"] = dict(cleaning)
    facts["cleaning_rows"] = result.cleaning.to_dict("records")
    facts["multi_rows"] = result.multi_label.to_dict("records")
    facts["has_tags"] = bool(len(result.tag_vocabulary))
    if len(result.tag_vocabulary):
        facts["vocabulary"] = [normalize_tag(v) for v in vocabulary]
        facts["tie_tracks"] = int(result.tag_ties["tracks"].sum()) if len(result.tag_ties) else 0
        top_tie = result.tag_ties.iloc[0].to_dict() if len(result.tag_ties) else None
        facts["top_tie"] = top_tie
        d = result.tag_disagreements
        if len(d):
            facts["tagged_tracks"] = int(d["tracks"].sum())
            same = d[d["tag_genre"] == d["playlist_genre"]]["tracks"].sum()
            facts["tag_agreement"] = float(same / d["tracks"].sum())
            off = d[d["tag_genre"] != d["playlist_genre"]].sort_values("tracks", ascending=False).head(3)
            facts["top_disagreements"] = off.to_dict("records")
    return facts


def section(
    result: LabelQualityResult, figure_files: dict[str, str] | None = None, *, stage: str = "label_quality"
) -> dict[str, Any]:
    """The report section (``<stage>/section.json``, see :mod:`hitlab.report.builder`).

    ``figure_files`` maps figure stems to their path in the run folder (default
    ``figures/<stem>.png``); tables are ``<stage>/<name>.csv``.
    """
    from hitlab.analyses._sections import reading

    title = "Label quality"
    if result.skipped:
        return {"title": title, "reading": [], "metrics": [], "blocks": [], "skipped": result.skipped}
    if figure_files is None:
        figure_files = {
            stem: f"figures/{stem}.png"
            for stem in (["label_quality_wrong_by_genre"] if len(result.per_genre) else [])
            + (["label_quality_cleaning"] if len(result.cleaning) else [])
        }
    metrics: list[dict[str, Any]] = []
    if result.accuracy is not None:
        metrics.append(
            {
                "name": "out-of-fold accuracy",
                "value": result.accuracy.value,
                "ci": [result.accuracy.low, result.accuracy.high],
                "baseline": result.baseline_accuracy,
                "better": "higher",
            }
        )
    metrics.append(
        {
            "name": "tracks flagged as likely mislabelled",
            "value": len(result.flagged),
            "ci": None,
            "baseline": None,
            "better": "lower",
        }
    )
    for row in result.cleaning.to_dict("records")[:1]:
        metrics.append(
            {
                "name": f"accuracy gain from cleaning ({row['test_tracks']})",
                "value": row["difference"],
                "ci": [row["difference_low"], row["difference_high"]],
                "baseline": None,
                "better": "higher",
            }
        )
    for row in result.multi_label.to_dict("records")[:2]:
        metrics.append(
            {
                "name": f"set overlap (Jaccard), {row['model'].split(' (')[0]}",
                "value": row["jaccard"],
                "ci": [row["jaccard_low"], row["jaccard_high"]],
                "baseline": None,
                "better": "higher",
            }
        )
    notes = {
        "flagged": (
            "Likely mislabelled tracks",
            "confidence: how sure the label is wrong (1 - the out-of-fold probability of the given "
            "label); suggested: the most probable genre; suggested_in_labels: the suggestion is "
            "another of the track's playlist genres.",
        ),
        "wrong_by_genre": (
            "Estimated wrong labels per genre",
            "estimated_wrong: off-diagonal mass of cleanlab's calibrated confident joint "
            "(bootstrap 95% CI); flagged: tracks listed above.",
        ),
        "cleaning": (
            "Does cleaning help?",
            "Models trained with and without the tracks flagged within the training part; "
            "difference = cleaned - all (paired bootstrap 95% CI); real: the CI excludes 0.",
        ),
        "multi_label": (
            "Several genres per track",
            "Tracks in playlists of several genres: hit_any = the top genre is one of them; "
            "jaccard = overlap of the top-|labels| genres with the label set (95% CIs).",
        ),
        "tag_vocabulary": ("Which artist tags fed which main genre", "Top tags per main genre."),
        "tag_ties": ("Ties between genres", "Broken by the vocabulary order (first listed wins)."),
        "tag_disagreements": ("Tag main genre against playlist genre", ""),
    }
    captions = {
        "label_quality_wrong_by_genre": "Estimated wrong labels per genre (95% CI) and flagged share",
        "label_quality_cleaning": "Accuracy with and without the flagged tracks (95% CI)",
    }
    blocks: list[dict[str, Any]] = []
    tables = result.tables()
    order = [
        ("table", "flagged"),
        ("figure", "label_quality_wrong_by_genre"),
        ("table", "wrong_by_genre"),
        ("figure", "label_quality_cleaning"),
        ("table", "cleaning"),
        ("table", "multi_label"),
        ("table", "tag_vocabulary"),
        ("table", "tag_ties"),
        ("table", "tag_disagreements"),
    ]
    for kind, key in order:
        if kind == "table" and key in tables:
            name, note = notes[key]
            blocks.append(
                {"kind": "table", "title": name, "csv": f"{stage}/{key}.csv", "note": note, "max_rows": 50}
            )
        elif kind == "figure" and key in figure_files:
            blocks.append({"kind": "figure", "title": captions[key], "file": figure_files[key]})
    return {
        "title": title,
        "reading": reading("label_quality", result.facts),
        "metrics": metrics,
        "blocks": blocks,
        "skipped": None,
    }
