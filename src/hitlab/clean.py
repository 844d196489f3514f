"""Cleaning: one row per track, every dropped or changed row counted with its reason.

Steps, in order (each becomes a line of the :class:`CleaningReport`):

0. **read notes**: what the importer noticed and converted (encoding, delimiter, value
   conventions), and the audio features the table does not have (the models use the
   ones present).
1. **exact duplicates**: rows identical in every column are dropped.
2. **same artist and title, different audio** (files without track ids, whose derived id
   comes from artist + title): different recordings (a single and an album version),
   kept as separate tracks with the id suffix ``~2``, ``~3``, ... (counted).
3. **same track, several rows** (the same track id under several genre queries or
   playlists): merged into one row whose genre labels are the union (in order of first
   appearance in the file) and whose artist tags are the union. When the rows disagree
   on audio features, the **first row's** features are kept and the track counted
   (``strict=True`` raises :class:`~hitlab.errors.ConflictError` naming the track and
   rows instead); other fields take the first non-missing value. When the copies
   disagree on popularity the highest is kept and the track counted as changed.
4. **missing audio features**: tracks lacking a value of a feature the table has are dropped.
5. **out-of-range values** (only when the table was read with range checks deferred,
   ``--drop-invalid``): audio features, popularity, year and time signature outside
   their ranges; dropped, per column.
6. **zero tempo**: a tempo of 0 BPM means the analysis failed; dropped.
7. **implausible duration**: shorter than ``min_duration_ms`` (30 s) or longer than
   ``max_duration_ms`` (30 min); dropped.

Tracks without popularity or without genre labels are kept and counted (they leave the
task that needs them, not the table).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from hitlab import schema
from hitlab.errors import ConflictError
from hitlab.songs import add_song_ids

__all__ = ["CleanResult", "CleaningReport", "CleaningStep", "clean"]

MAX_EXAMPLES = 5


@dataclass
class CleaningStep:
    """One cleaning step: what happened to how many rows, and why."""

    step: str
    action: str  # "dropped", "merged", "changed", "kept"
    rows: int
    reason: str
    examples: list[str] = field(default_factory=list)


@dataclass
class CleaningReport:
    """Every dropped, merged or changed row, counted with its reason."""

    source: str
    rows_in: int
    rows_out: int = 0
    steps: list[CleaningStep] = field(default_factory=list)

    def add(self, step: str, action: str, rows: int, reason: str, examples: object = ()) -> None:
        shown = [str(e) for e in list(examples)[:MAX_EXAMPLES]]
        self.steps.append(CleaningStep(step, action, int(rows), reason, shown))

    @property
    def rows_dropped(self) -> int:
        return sum(s.rows for s in self.steps if s.action in ("dropped", "merged"))

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "rows_removed": self.rows_dropped,
            "steps": [asdict(s) for s in self.steps],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [asdict(s) for s in self.steps], columns=["step", "action", "rows", "reason", "examples"]
        )

    def check(self) -> None:
        """Every input row is accounted for: out + removed == in."""
        if self.rows_out + self.rows_dropped != self.rows_in:
            raise AssertionError(
                f"cleaning lost rows: {self.rows_in} in, {self.rows_out} out, {self.rows_dropped} removed"
            )


@dataclass
class CleanResult:
    """The clean track table and the report of what cleaning did."""

    tracks: pd.DataFrame
    report: CleaningReport


def _union_labels(codes: np.ndarray, labels: pd.Series, n_groups: int) -> np.ndarray:
    """Per group, the union of its rows' label tuples, in order of first appearance.

    Most groups repeat one label set (the same track found twice under one genre): those take
    it as it is; only groups whose rows disagree are united label by label.
    """
    set_codes, sets = pd.factorize(labels.to_numpy(dtype=object), use_na_sentinel=False)
    lowest = np.full(n_groups, np.iinfo(np.int64).max, dtype=np.int64)
    highest = np.full(n_groups, -1, dtype=np.int64)
    np.minimum.at(lowest, codes, set_codes)
    np.maximum.at(highest, codes, set_codes)
    first_row = np.full(n_groups, len(codes), dtype=np.int64)
    np.minimum.at(first_row, codes, np.arange(len(codes)))
    out = np.empty(n_groups, dtype=object)
    out[:] = list(sets[set_codes[first_row]])
    mixed = lowest != highest
    if not mixed.any():
        return out
    rows = np.flatnonzero(mixed[codes])  # rows of groups whose label sets differ, in file order
    sub = labels.iloc[rows]
    lengths = np.fromiter((len(t) for t in sub), dtype=np.int64, count=len(sub))
    flat = pd.Series([label for t in sub for label in t], dtype=object)
    pairs = pd.DataFrame({"group": np.repeat(codes[rows], lengths), "label": flat})
    pairs = pairs.drop_duplicates().sort_values("group", kind="stable")
    groups = pairs["group"].to_numpy()
    names = pairs["label"].to_numpy(dtype=object)
    bounds = np.flatnonzero(np.diff(groups)) + 1
    for g, chunk in zip(groups[np.r_[0, bounds]], np.split(names, bounds), strict=True):
        out[g] = tuple(chunk)
    return out


def _present_features(tracks: pd.DataFrame) -> list[str]:
    """The audio features the table has (a column with no value at all is absent)."""
    return [c for c in schema.AUDIO_FEATURES if c in tracks.columns and tracks[c].notna().any()]


def _audio_conflicts(tracks: pd.DataFrame, codes: np.ndarray, first_pos: np.ndarray,
                     features: list[str]) -> np.ndarray:
    """Rows whose audio features differ from the first row of their group (rounded to 6 places)."""
    conflict = np.zeros(len(tracks), dtype=bool)
    for col in features:
        values = tracks[col].to_numpy(dtype="float64", na_value=np.nan)
        ref = values[first_pos[codes]]
        same = (np.round(values, 6) == np.round(ref, 6)) | (np.isnan(values) & np.isnan(ref))
        conflict |= ~same
    return conflict


def _split_recordings(tracks: pd.DataFrame, features: list[str], report: CleaningReport) -> pd.DataFrame:
    """Rows sharing a derived id (same artist and title) but not the audio are different
    recordings: each keeps its own track, the second gets the id suffix ``~2``, and so on."""
    ids = tracks["track_id"].astype("string")
    derived = ids.str.startswith("hl:").fillna(False).to_numpy(dtype=bool)
    if not derived.any() or not features:
        return tracks
    sub = tracks.loc[derived, features].astype("Float64").round(6)
    sub.insert(0, "track_id", ids[derived])
    key = sub.groupby(list(sub.columns), sort=False, dropna=False).ngroup().to_numpy()
    firsts = pd.DataFrame({"id": sub["track_id"].to_numpy(), "key": key}).drop_duplicates("key")
    rank = firsts.groupby("id", sort=False).cumcount().to_numpy()
    by_key = np.zeros(key.max() + 1, dtype=np.int64)
    by_key[firsts["key"].to_numpy()] = rank
    n = by_key[key]
    if not n.any():
        return tracks
    tracks = tracks.copy()
    new_ids = ids[derived].to_numpy(dtype=object)
    new_ids[n > 0] = [f"{i}~{k + 1}" for i, k in zip(new_ids[n > 0], n[n > 0], strict=True)]
    tracks.loc[derived, "track_id"] = new_ids
    split_ids = pd.unique(sub["track_id"].to_numpy()[n > 0])
    report.add(
        "same artist and title, different audio",
        "kept",
        int((n > 0).sum()),
        f"{len(split_ids):,} artist + title pair(s) without track ids came with different audio features "
        "(a single and an album version, a re-release): each recording stays a track of its own "
        "(id suffix ~2, ~3, ...); a song-grouped split keeps them on one side",
        split_ids[:MAX_EXAMPLES],
    )
    return tracks


def _merge_duplicates(
    tracks: pd.DataFrame, report: CleaningReport, source: str, *, strict: bool = False
) -> pd.DataFrame:
    features = _present_features(tracks)
    tracks = _split_recordings(tracks, features, report)
    ids = tracks["track_id"].to_numpy(dtype=object)
    codes, uniques = pd.factorize(ids)
    n = len(uniques)
    if n == len(tracks):
        report.add("same track, several rows", "merged", 0, "no track id appears twice")
        return tracks
    counts = np.bincount(codes, minlength=n)
    # first row of each group in file order
    first_pos = np.full(n, len(codes), dtype=np.int64)
    np.minimum.at(first_pos, codes, np.arange(len(codes)))
    conflict = _audio_conflicts(tracks, codes, first_pos, features)
    if conflict.any():
        bad_ids = pd.unique(ids[conflict])
        first_bad = bad_ids[0]
        rows = [int(r) + 1 for r in tracks.index[ids == first_bad][:MAX_EXAMPLES]]
        cols = [
            c
            for c in features
            if tracks.loc[ids == first_bad, c].astype("Float64").round(6).nunique(dropna=False) > 1
        ]
        if strict:
            raise ConflictError(
                f"track_id '{first_bad}' has conflicting audio features in column(s) "
                f"{', '.join(cols)} at rows {', '.join(map(str, rows))}; "
                f"{len(bad_ids)} track id(s) conflict in all. Fix the file or drop the wrong rows "
                "(without --strict the first row of each track is kept and the others counted).",
                source=source,
            )
        report.add(
            "conflicting audio features",
            "changed",
            int(conflict.sum()),
            f"{len(bad_ids):,} track id(s) came with different audio features in different rows "
            f"(first: '{first_bad}', column(s) {', '.join(cols)}, rows {', '.join(map(str, rows))}); "
            "the first row's features were kept (--strict refuses such a file)",
            bad_ids[:MAX_EXAMPLES],
        )
    order = np.argsort(codes, kind="stable")
    grouped = tracks.iloc[order]
    keys = codes[order]
    plain = [c for c in tracks.columns if c not in ("genres", "artist_genres", "popularity")]
    merged = grouped[plain].groupby(keys, sort=True).first()
    merged.index = tracks.index[first_pos]
    for col in features:  # the first row's features, as a whole (never mixed across rows)
        merged[col] = tracks[col].iloc[first_pos].set_axis(merged.index)
    merged["popularity"] = (
        grouped["popularity"].groupby(keys, sort=True).max().to_numpy()
        if "popularity" in tracks.columns
        else pd.NA
    )
    pop = tracks["popularity"].astype("Float64")
    pop_min = pop.groupby(codes).min().to_numpy(dtype="float64", na_value=np.nan)
    pop_max = pop.groupby(codes).max().to_numpy(dtype="float64", na_value=np.nan)
    differing = np.flatnonzero(pop_min != pop_max)
    merged["genres"] = _union_labels(codes, tracks["genres"], n)
    merged["artist_genres"] = _union_labels(codes, tracks["artist_genres"], n)
    merged = merged[list(tracks.columns)]
    merged["popularity"] = merged["popularity"].astype("Int64")
    multi = counts > 1
    n_label_sets = np.fromiter((len(t) for t in merged["genres"]), dtype=np.int64, count=n)
    report.add(
        "same track, several rows",
        "merged",
        int(len(tracks) - n),
        f"{int(multi.sum()):,} track ids appeared in several rows (genre queries or playlists); "
        f"each became one row with the union of its genre labels "
        f"({int(((n_label_sets > 1) & multi).sum()):,} now carry more than one genre)",
        uniques[multi][:MAX_EXAMPLES],
    )
    if len(differing):
        report.add(
            "popularity differs between copies",
            "changed",
            len(differing),
            "copies of the same track disagreed on popularity; the highest was kept",
            uniques[differing][:MAX_EXAMPLES],
        )
    return merged


def clean(
    tracks: pd.DataFrame,
    *,
    min_duration_ms: float = 30_000,
    max_duration_ms: float = 1_800_000,
    source: str | None = None,
    strict: bool = False,
) -> CleanResult:
    """Clean a canonical track table: one row per track, every removal counted.

    Parameters
    ----------
    tracks
        A canonical track table (from :mod:`hitlab.datasets` or :func:`hitlab.schema.coerce`).
    min_duration_ms, max_duration_ms
        Tracks outside this length are implausible and dropped.
    source
        Name used in the report and in errors (defaults to ``tracks.attrs["source"]``).
    strict
        Refuse (:class:`~hitlab.errors.ConflictError`) a track id whose rows disagree on
        audio features, instead of keeping the first row and counting the others.

    Returns
    -------
    CleanResult
        ``tracks``: one row per track id; ``report``: the counted steps.

    >>> from hitlab.datasets import load_tidytuesday
    >>> result = clean(load_tidytuesday())
    >>> len(result.tracks), result.report.rows_in
    (28354, 32833)
    """
    source = source or str(tracks.attrs.get("source", "<DataFrame>"))
    attrs = dict(tracks.attrs)
    report = CleaningReport(source=source, rows_in=len(tracks))
    dup = tracks.duplicated(keep="first").to_numpy()
    report.add(
        "exact duplicates",
        "dropped",
        int(dup.sum()),
        "rows identical in every column to an earlier row",
        tracks.loc[dup, "track_id"].head(MAX_EXAMPLES),
    )
    tracks = tracks.loc[~dup]
    for note in attrs.get("read_notes", []):
        report.add("read", "noted", 0, note)
    features = _present_features(tracks)
    absent = [c for c in schema.AUDIO_FEATURES if c not in features]
    if absent:
        report.add(
            "absent audio features",
            "noted",
            0,
            f"the data has no {', '.join(absent)}: the models use the {len(features)} features present",
        )
    tracks = _merge_duplicates(tracks, report, source, strict=strict)

    missing = tracks[features].isna()
    any_missing = missing.any(axis=1).to_numpy()
    cols = [c for c in features if missing[c].any()]
    report.add(
        "missing audio features",
        "dropped",
        int(any_missing.sum()),
        "no value for " + ", ".join(cols) if cols else "every track has every audio feature",
        tracks.loc[any_missing, "track_id"].head(MAX_EXAMPLES),
    )
    tracks = tracks.loc[~any_missing]

    ranged = [c.name for c in schema.COLUMNS if c.low is not None and c.name in tracks.columns]
    for col in ranged:
        spec = schema.BY_NAME[col]
        values = tracks[col]
        bad = ((values < spec.low) | (values > spec.high)).fillna(False).to_numpy(dtype=bool)
        if bad.any():
            report.add(
                f"out-of-range {col}",
                "dropped",
                int(bad.sum()),
                f"{col} outside {spec.low:g}..{spec.high:g}",
                tracks.loc[bad, "track_id"].head(MAX_EXAMPLES),
            )
            tracks = tracks.loc[~bad]

    if "tempo" in features:
        zero = (tracks["tempo"] == 0).fillna(False).to_numpy(dtype=bool)
        report.add(
            "zero tempo",
            "dropped",
            int(zero.sum()),
            "tempo 0 BPM: the audio analysis failed",
            tracks.loc[zero, "track_id"].head(MAX_EXAMPLES),
        )
        tracks = tracks.loc[~zero]

    if "duration_ms" in features:
        duration = tracks["duration_ms"]
        odd = ((duration < min_duration_ms) | (duration > max_duration_ms)).fillna(False).to_numpy(dtype=bool)
        report.add(
            "implausible duration",
            "dropped",
            int(odd.sum()),
            f"shorter than {min_duration_ms / 1000:g} s or longer than {max_duration_ms / 60000:g} min",
            tracks.loc[odd, "track_id"].head(MAX_EXAMPLES),
        )
        tracks = tracks.loc[~odd]

    no_pop = int(tracks["popularity"].isna().sum())
    if no_pop:
        report.add("no popularity", "kept", no_pop, "kept; left out of the popularity model")
    no_genre = int((tracks["genres"].map(len) == 0).sum())
    if no_genre:
        report.add("no genre label", "kept", no_genre, "kept; left out of the genre model")

    report.rows_out = len(tracks)
    report.check()
    tracks = add_song_ids(tracks, report)
    attrs["absent_features"] = absent
    tracks.attrs = attrs
    return CleanResult(tracks=tracks, report=report)
