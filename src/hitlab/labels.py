"""Genre labels: artist tag normalisation, tag join, main genre, and the two label schemes.

Two label schemes give each track a training label in the column ``genre``:

``playlist``
    The genre labels the source gave (TidyTuesday: the playlist genre). A track in
    playlists of several genres keeps all of them in ``genres`` (in order of first
    appearance in the file); its training label is the **first** of them. Models
    report exact accuracy on that label and "hit any of its labels" accuracy.
``tags``
    The *main genre* derived from the artist's Spotify genre tags, as the seed analysis
    did: tags are normalised (:func:`normalize_tag`), each tag is split into words, the
    words of the genre vocabulary are counted over all of the artist's tags, and the
    most frequent wins. **Ties** go to the genre listed first in the vocabulary, so the
    vocabulary order is the tie-break priority. Tracks whose tags hold no vocabulary
    word get no main genre and leave the genre task (counted).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hitlab.errors import ConfigError

__all__ = [
    "DEFAULT_VOCABULARY",
    "LabelReport",
    "TagJoinReport",
    "attach_artist_tags",
    "label_tracks",
    "main_genre",
    "normalize_artist",
    "normalize_tag",
]

#: The seed analysis's seven genres, in tie-break priority order.
DEFAULT_VOCABULARY: tuple[str, ...] = ("pop", "country", "hiphop", "rock", "indie", "house", "r&b")

_TAG_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bhip[\s\-_]*hop\b"), "hiphop"),
    (re.compile(r"\br\s*(?:&|and|n|'n'|-n-)\s*b\b"), "r&b"),
    (re.compile(r"\brnb\b"), "r&b"),
    (re.compile(r"\s+"), " "),
)


def normalize_tag(tag: str) -> str:
    """Lower-case a genre tag and fold its common spellings.

    >>> [normalize_tag(t) for t in ["Hip Hop", "hip-hop", "HIPHOP", "R&B", "rnb", "r and b"]]
    ['hiphop', 'hiphop', 'hiphop', 'r&b', 'r&b', 'r&b']
    """
    text = unicodedata.normalize("NFKC", str(tag)).lower().strip()
    for pattern, replacement in _TAG_RULES:
        text = pattern.sub(replacement, text)
    return text


def _tag_words(tag: str) -> list[str]:
    return [w for w in re.split(r"[\s\-/]+", normalize_tag(tag)) if w]


_FEAT = re.compile(r"\s*[\(\[]?\s*\b(?:feat\.?|ft\.?|featuring)\s.*$", re.IGNORECASE)
_SPLIT = re.compile(r"\s*(?:,|;|&|\+|\bx\b|\band\b|\bwith\b|\bvs\.?)\s*", re.IGNORECASE)


def normalize_artist(name: object) -> str:
    """A join key for artist names: NFKC, lower case, folded whitespace, no "feat." part.

    >>> normalize_artist("  Ed  Sheeran feat. Justin Bieber ")
    'ed sheeran'
    """
    if name is None or name is pd.NA or (isinstance(name, float) and np.isnan(name)):
        return ""
    text = unicodedata.normalize("NFKC", str(name)).lower()
    text = _FEAT.sub("", text)
    return re.sub(r"\s+", " ", text).strip()


def _artist_parts(name: str) -> list[str]:
    return [p for p in (q.strip() for q in _SPLIT.split(name)) if p]


@dataclass
class TagJoinReport:
    """How tracks were matched to the artists table."""

    tracks: int
    by_id: int = 0
    by_name: int = 0
    by_name_part: int = 0
    unmatched: int = 0
    matched_without_tags: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    @property
    def with_tags(self) -> int:
        return self.by_id + self.by_name + self.by_name_part - self.matched_without_tags


def attach_artist_tags(
    tracks: pd.DataFrame, artists: pd.DataFrame, *, by: str = "auto"
) -> tuple[pd.DataFrame, TagJoinReport]:
    """Fill ``artist_genres`` from an artists table.

    Parameters
    ----------
    tracks
        Canonical track table.
    artists
        ``artist_id`` and/or ``artist_name``, and ``artist_genres`` (tuples), as
        :func:`hitlab.datasets.read_artists` returns.
    by
        ``"id"``: match the track's first artist id; ``"name"``: match normalised names
        (:func:`normalize_artist`): first the whole artist string, then each artist of a
        multi-artist string ("A, B", "A & B", "A x B", "A feat. B") in order, the first
        that matches wins; ``"auto"``: by id where both sides have ids, else by name.

    Returns
    -------
    (tracks, report)
        A copy whose ``artist_genres`` holds the matched artist's tags (tracks already
        carrying tags keep theirs), and a :class:`TagJoinReport`.
    """
    if by not in ("auto", "id", "name"):
        raise ConfigError(f"by must be 'auto', 'id' or 'name', got {by!r}")
    out = tracks.copy()
    report = TagJoinReport(tracks=len(out))
    tags = out["artist_genres"].to_numpy(dtype=object).copy()
    matched = np.zeros(len(out), dtype=bool)
    has_ids = "artist_id" in artists.columns and out["artist_id"].notna().any()
    if by == "id" or (by == "auto" and has_ids):
        id_tags: dict[str, tuple[str, ...]] = {}
        for key, value in zip(artists["artist_id"], artists["artist_genres"], strict=True):
            if isinstance(key, str):
                id_tags[key] = tuple(dict.fromkeys(id_tags.get(key, ()) + tuple(value)))
        first_ids = out["artist_id"].astype("string").str.split(",").str[0].str.strip()
        for i, key in enumerate(first_ids):
            if isinstance(key, str) and key in id_tags:
                tags[i] = id_tags[key]
                matched[i] = True
        report.by_id = int(matched.sum())
    if by == "name" or (by == "auto" and "artist_name" in artists.columns):
        name_tags: dict[str, tuple[str, ...]] = {}
        for key, value in zip(artists["artist_name"], artists["artist_genres"], strict=True):
            k = normalize_artist(key)
            if k:
                name_tags[k] = tuple(dict.fromkeys(name_tags.get(k, ()) + tuple(value)))
        codes, uniques = pd.factorize(out["artist_name"].astype(object))
        resolved: list[tuple[tuple[str, ...] | None, str]] = []
        for raw in uniques:
            whole = normalize_artist(raw)
            if whole in name_tags:
                resolved.append((name_tags[whole], "whole"))
                continue
            hit = next((p for p in _artist_parts(whole) if p in name_tags), None)
            resolved.append((name_tags[hit], "part") if hit else (None, ""))
        for i, code in enumerate(codes):
            if matched[i] or code < 0:
                continue
            value, how = resolved[code]
            if value is not None:
                tags[i] = value
                matched[i] = True
                if how == "whole":
                    report.by_name += 1
                else:
                    report.by_name_part += 1
    before = out["artist_genres"].to_numpy(dtype=object)
    for i in np.flatnonzero(~matched):
        tags[i] = before[i]
    report.unmatched = int((~matched).sum())
    report.matched_without_tags = int(sum(1 for i in np.flatnonzero(matched) if not tags[i]))
    out["artist_genres"] = pd.Series(tags, index=out.index, dtype=object)
    return out, report


@dataclass
class LabelReport:
    """What labelling did: scheme, counts per genre, tracks left without a label."""

    scheme: str
    vocabulary: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    unlabelled: int = 0
    ties: int = 0
    multi_label: int = 0
    min_class_size: int = 1
    small_classes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _normalise_vocabulary(vocabulary: Sequence[str]) -> tuple[str, ...]:
    vocab = tuple(dict.fromkeys(normalize_tag(v) for v in vocabulary if str(v).strip()))
    if not vocab:
        raise ConfigError("the genre vocabulary is empty; give at least one genre word")
    return vocab


def main_genre(
    artist_genres: pd.Series, vocabulary: Sequence[str] = DEFAULT_VOCABULARY
) -> tuple[pd.Series, pd.Series]:
    """The main genre of each track from its artist's tags, and whether it was a tie.

    >>> tags = pd.Series([("dance pop", "pop", "edm"), ("indie rock", "rock"), ("jazz",)])
    >>> genre, tie = main_genre(tags)
    >>> genre.tolist(), tie.tolist()
    (['pop', 'rock', <NA>], [False, False, False])
    """
    vocab = _normalise_vocabulary(vocabulary)
    priority = {g: i for i, g in enumerate(vocab)}
    codes, uniques = pd.factorize(artist_genres.map(tuple).astype(object))
    results: list[tuple[str | None, bool]] = []
    for tag_tuple in uniques:
        counts = Counter(w for tag in tag_tuple for w in _tag_words(tag) if w in priority)
        if not counts:
            results.append((None, False))
            continue
        top = max(counts.values())
        best = sorted((g for g, c in counts.items() if c == top), key=priority.__getitem__)
        results.append((best[0], len(best) > 1))
    genre = np.array([r[0] for r in results] + [None], dtype=object)[codes]
    tie = np.array([r[1] for r in results] + [False], dtype=bool)[codes]
    return (
        pd.Series(genre, index=artist_genres.index, dtype="string"),
        pd.Series(tie, index=artist_genres.index, dtype=bool),
    )


def label_tracks(
    tracks: pd.DataFrame,
    scheme: str = "playlist",
    vocabulary: Sequence[str] = DEFAULT_VOCABULARY,
    top_n: int | None = None,
    min_class_size: int = 1,
) -> tuple[pd.DataFrame, LabelReport]:
    """Add the training label column ``genre`` (and ``main_genre`` for the tags scheme).

    Parameters
    ----------
    scheme
        ``"playlist"`` (the source's genre labels), ``"tags"`` (main genre from artist tags)
        or ``"words"`` (main genre from the source's own fine-grained genre labels).
    vocabulary
        Genre words for the tags scheme, in tie-break priority order.
    top_n
        Keep only the ``top_n`` most frequent labels; other tracks get no label (counted).
    min_class_size
        Genres with fewer tracks get no training label (counted in ``small_classes``).
    """
    out = tracks.copy()
    if scheme == "playlist":
        first = out["genres"].map(lambda t: t[0] if len(t) else None)
        out["genre"] = first.astype("string")
        report = LabelReport(scheme=scheme, vocabulary=[])
        report.multi_label = int((out["genres"].map(len) > 1).sum())
    elif scheme in ("tags", "words"):
        vocab = _normalise_vocabulary(vocabulary)
        genre, tie = main_genre(out["artist_genres" if scheme == "tags" else "genres"], vocab)
        out["main_genre"] = genre
        out["genre"] = genre
        empty = np.empty(len(out), dtype=object)
        empty[:] = [
            (g,) if isinstance(g, str) else () for g in genre.astype(object).where(genre.notna(), None)
        ]
        out["genres"] = pd.Series(empty, index=out.index, dtype=object)
        report = LabelReport(scheme=scheme, vocabulary=list(vocab))
        report.ties = int(tie.sum())
    else:
        raise ConfigError(f"label scheme must be 'playlist', 'tags' or 'words', got {scheme!r}")
    if top_n is not None:
        keep = out["genre"].value_counts().head(top_n).index
        out["genre"] = out["genre"].where(out["genre"].isin(keep))
    report.min_class_size = int(min_class_size)
    sizes = out["genre"].value_counts()
    small = sizes[sizes < min_class_size]
    if len(small):
        report.small_classes = {str(k): int(v) for k, v in small.items()}
        out["genre"] = out["genre"].where(~out["genre"].isin(small.index))
    report.counts = {str(k): int(v) for k, v in out["genre"].value_counts().items()}
    report.unlabelled = int(out["genre"].isna().sum())
    return out, report
