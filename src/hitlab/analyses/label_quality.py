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
>>> result.flagged.head(); result.cleaning; result.facts                          # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hitlab.analyses import _plots as plots
from hitlab.analyses._fitting import mean_ci, task_data
from hitlab.analyses._genre_tables import text_column
from hitlab.analyses._label_steps import (
    OofFold,
    _does_cleaning_help,
    _flagged_table,
    _label_issues,
    _multi_label,
    _per_genre,
    _second_source,
    out_of_fold,
    tag_vocabulary,
)
from hitlab.analyses.base import Context
from hitlab.analyses.genre import genre_task
from hitlab.errors import DataError
from hitlab.labels import DEFAULT_VOCABULARY, attach_artist_tags, normalize_tag
from hitlab.modeling import Estimate

__all__ = ["LabelQualityResult", "OofFold", "analyse", "out_of_fold", "run", "tag_vocabulary"]



def _metric(name: str, value: Any, ci: list[Any] | None = None, *, baseline: Any = None,
            better: str = "higher") -> dict[str, Any]:
    """One headline number of the report (name, value, 95% CI, baseline, which way is better)."""
    return {"name": name, "value": value, "ci": ci, "baseline": baseline, "better": better}

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
        if self.skipped:
            return {}
        figs: dict[str, Figure] = {}
        if len(self.per_genre):
            figs["label_quality_wrong_by_genre"] = plots.wrong_labels_chart(self.per_genre)
        if len(self.cleaning):
            figs["label_quality_cleaning"] = plots.cleaning_chart(self.cleaning)
        return figs

    def headline_metrics(self) -> list[dict[str, Any]]:
        """The report's headline numbers (none when skipped)."""
        if self.skipped:
            return []
        metrics: list[dict[str, Any]] = []
        if self.accuracy is not None:
            metrics.append(_metric("out-of-fold accuracy", self.accuracy.value,
                                   [self.accuracy.low, self.accuracy.high], baseline=self.baseline_accuracy))
        metrics.append(_metric("tracks flagged as likely mislabelled", len(self.flagged), better="lower"))
        for row in self.cleaning.to_dict("records")[:1]:
            metrics.append(_metric(f"accuracy gain from cleaning ({row['test_tracks']})", row["difference"],
                                   [row["difference_low"], row["difference_high"]]))
        for row in self.multi_label.to_dict("records")[:2]:
            metrics.append(_metric(f"set overlap (Jaccard), {row['model'].split(' (')[0]}", row["jaccard"],
                                   [row["jaccard_low"], row["jaccard_high"]]))
        return metrics


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
            "track_id": text_column(data.rows, "track_id"),
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


def run(ctx: Context) -> LabelQualityResult:
    """The label-quality analysis of a run (its artist table, when given, for the tag checks)."""
    cfg = ctx.config
    return analyse(ctx.tracks, groups=ctx.groups(), artists=ctx.artists, vocabulary=cfg.vocabulary,
                   seed=cfg.seed, progress=ctx.progress)
