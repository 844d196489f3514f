"""The same song under several track ids, and the group keys the splits use.

Spotify gives one recording a new track id for every release it appears on (single,
album, deluxe edition, compilation, re-release), so a table of tracks holds the same
song several times. A split that puts one copy in the training part and another in the
test part scores the model on a song it has seen. :func:`song_keys` finds these copies;
:func:`group_labels` turns the rows of a track table into split groups (``song``,
``track`` or ``artist``) that the modelling package receives as a plain array.

The rule (docs/modeling.md, "Same song, several track ids"):

- two rows are the same song when their **normalised artist + normalised title** match,
  or they share an **ISRC** (when the table has an ``isrc`` column), or they share a
  track id, or they have **the same audio** (every audio feature of the table equal, at
  least six of them, none missing) and the same normalised artist *or* title (the same
  recording credited or titled differently: ``"Boy Oh Boy"`` by Diplo and by Good Times
  Ahead, ``"I'll Do For U"`` / ``"I'll Do 4 U"``);
- artist and title keys are compared **without accents** (``"Quizás"`` / ``"Quizas"``,
  ``"Tiësto"`` / ``"Tiesto"``), as track tables spell the same title both ways;
- the title is normalised by Unicode NFKC, lower case, featured-artist credits removed,
  punctuation folded to spaces, and trailing **release markers** removed: markers that
  name another *release of the same recording* (``- Remastered 2011``, ``(Radio Edit)``,
  ``- Single Version``, ``(Explicit)``, ``- Original Mix``, ``(Extended Mix)``,
  ``- Mono``, ``(Album Version)``, a bare year);
- markers that name *another performance or arrangement* keep the versions apart:
  ``Remix``, ``Club Mix``, ``Live``, ``Ao Vivo``, ``Acoustic``, ``Unplugged``,
  ``Instrumental``, ``Re-recorded``, a language version, a session recording; any marker
  not in the release list is kept (a new marker never merges two songs by accident).

>>> title_key("Dancing Queen - Remastered 2011")
'dancing queen'
>>> title_key("Dancing Queen (Radio Edit)") == title_key("Dancing Queen")
True
>>> title_key("Dancing Queen - Live")
'dancing queen live'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from hitlab.errors import ConfigError
from hitlab.labels import normalize_artist
from hitlab.schema import AUDIO_FEATURES

__all__ = [
    "GROUP_BY",
    "SongReport",
    "add_song_ids",
    "find_songs",
    "fold_accents",
    "group_labels",
    "grouping_note",
    "song_keys",
    "title_key",
]

#: How rows can be grouped for splitting (``song``, the default, groups most).
GROUP_BY = ("song", "track", "artist")

#: Words of a trailing marker that names another release of the *same recording*. A marker
#: made only of these words (and years / numbers) is dropped from the title key.
RELEASE_WORDS = frozenset({
    "remaster", "remastered", "remasterizado", "remasterizada", "digital", "digitally", "version", "versión",
    "radio", "edit", "edited", "single", "album", "explicit", "clean", "original", "mix", "extended",
    "mono", "stereo", "deluxe", "edition", "bonus", "track", "main", "lp", "ep", "45", "short", "long",
    "full", "length", "from", "the", "remasterização", "reissue", "anniversary", "th", "st", "nd", "rd",
})
#: Words that keep a marker (another performance or arrangement) even beside release words.
PERFORMANCE_WORDS = frozenset({
    "remix", "rmx", "live", "vivo", "acoustic", "acústico", "acustico", "unplugged", "instrumental",
    "karaoke", "cover", "demo", "session", "sessions", "studios", "recorded", "re", "rerecorded",
    "club", "dub", "vip", "bootleg", "rework", "reprise", "orchestral", "piano", "slowed", "sped",
    "spanish", "english", "español", "french", "italian", "portuguese", "german", "spanglish",
})
_FEAT = re.compile(r"[\(\[]\s*(?:feat|ft|featuring|with)\b[^\)\]]*[\)\]]"
                   r"|\s-\s(?:feat|ft|featuring)\b.*$", re.IGNORECASE)
_TRAILING = re.compile(r"(?:\s-\s([^-]+)|\s*\(([^()]*)\)|\s*\[([^\[\]]*)\])\s*$")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
#: The fewest audio feature columns that make "the same audio" a fingerprint of a recording.
MIN_FINGERPRINT_COLUMNS = 6


def _is_release_marker(marker: str) -> bool:
    words = _WORD.findall(marker.lower())
    if not words or any(w in PERFORMANCE_WORDS for w in words):
        return False
    return all(w in RELEASE_WORDS or w.isdigit() for w in words)


def title_key(title: object) -> str:
    """The normalised title: NFKC, lower case, no featured artists, no release markers.

    >>> title_key("Señorita (feat. Camila) - 2019 Remaster")
    'señorita'
    >>> title_key("Wake Me Up - Avicii Remix")
    'wake me up avicii remix'
    """
    if title is None or title is pd.NA or (isinstance(title, float) and np.isnan(title)):
        return ""
    text = unicodedata.normalize("NFKC", str(title)).strip()
    if "(" not in text and "[" not in text and "-" not in text:  # no credit, no marker (most titles)
        return " ".join(_WORD.findall(text.lower()))
    text = _FEAT.sub("", text).strip()
    while True:
        found = _TRAILING.search(text)
        if not found:
            break
        marker = next(g for g in found.groups() if g is not None)
        if not _is_release_marker(marker) or found.start() == 0:
            break
        text = text[: found.start()].rstrip()
    return " ".join(_WORD.findall(text.lower()))


def fold_accents(text: str) -> str:
    """``text`` without combining marks (NFKD, marks dropped, NFC again); ASCII is unchanged.

    >>> fold_accents("quizás tiësto señorita")
    'quizas tiesto senorita'
    """
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _artist_key(name: object) -> str:
    return fold_accents(normalize_artist(name))


def _title_song_key(title: object) -> str:
    return fold_accents(title_key(title))


def _audio_codes(tracks: pd.DataFrame) -> np.ndarray | None:
    """One code per distinct audio fingerprint (every audio feature column of the table), -1
    where a value is missing; None when the table has too few audio columns for one."""
    columns = [c for c in AUDIO_FEATURES if c in tracks.columns]
    if len(columns) < MIN_FINGERPRINT_COLUMNS:
        return None
    codes = np.zeros(len(tracks), dtype=np.int64)
    complete = np.ones(len(tracks), dtype=bool)
    for column in columns:  # one column at a time: a groupby over all twelve took 3x longer
        values = pd.to_numeric(tracks[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        complete &= ~np.isnan(values)
        part, distinct = pd.factorize(values)
        codes = pd.factorize(codes * (len(distinct) + 1) + part)[0]
    return np.where(complete, codes, -1)


def _column(tracks: pd.DataFrame, name: str) -> pd.Series:
    if name in tracks.columns:
        return tracks[name].astype("string")
    return pd.Series(pd.NA, index=tracks.index, dtype="string")


def _key_array(values: pd.Series) -> np.ndarray:
    return values.fillna("").str.strip().to_numpy(dtype=object)


def _per_distinct(values: pd.Series, key) -> tuple[np.ndarray, np.ndarray]:
    """``key`` of every distinct value, computed once (names repeat across rows), and the
    distinct key's code of every row: ``(codes, keys)``, ``keys[codes]`` is the row's key."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object, na_value=None), use_na_sentinel=True)
    keys = np.asarray([key(u) for u in uniques] + [key(None)], dtype=object)
    key_codes, distinct = pd.factorize(keys)  # two values may share a key ("ABBA", "abba")
    return key_codes[codes], distinct.astype(object)


def _text_codes(keys: np.ndarray) -> np.ndarray:
    """One integer per distinct key, -1 for the empty key (it joins nothing)."""
    codes = pd.factorize(keys)[0]
    codes[keys == ""] = -1
    return codes


def song_keys(tracks: pd.DataFrame) -> np.ndarray:
    """One song id per row: rows that are the same song (see the module rule) share it.

    The id is ``"s:<artist> / <title>"`` (the smallest key of the song's rows), or
    ``"t:<track id>"`` for a row without an artist and title that shares no ISRC.
    """
    n = len(tracks)
    track_ids = _key_array(_column(tracks, "track_id"))
    artist_codes, artists = _per_distinct(_column(tracks, "artist_name"), _artist_key)
    title_codes, titles = _per_distinct(_column(tracks, "track_name"), _title_song_key)
    # one integer per (artist, title) pair: a MultiIndex of the strings took 9 s per 1M rows
    pairs, distinct = pd.factorize(artist_codes.astype(np.int64) * len(titles) + title_codes)
    artist_of, title_of = artists[distinct // len(titles)], titles[distinct % len(titles)]
    named = (artist_of != "") & (title_of != "")
    distinct_names = np.full(distinct.size, "", dtype=object)
    distinct_names[named] = artist_of[named] + " / " + title_of[named]
    names = distinct_names[pairs]
    isrc = _key_array(_column(tracks, "isrc").str.upper())
    if n == 0:
        return np.empty(0, dtype=object)
    # rows joined by a shared name key, ISRC, track id or same audio + artist or title form one
    # song (connected components); a key of "" or -1 joins nothing
    keyed = [np.where(names != "", pairs, -1), _text_codes(isrc), _text_codes(track_ids)]
    audio = _audio_codes(tracks)
    if audio is not None:
        for part_codes, blank in ((artist_codes, artists[artist_codes] == ""),
                                  (title_codes, titles[title_codes] == "")):
            combined = audio * (int(part_codes.max()) + 1) + part_codes
            keyed.append(np.where((audio >= 0) & ~blank, combined, -1))
    edges_from: list[np.ndarray] = []
    edges_to: list[np.ndarray] = []
    for keys in keyed:
        present = np.flatnonzero(keys >= 0)
        if present.size == 0:
            continue
        codes = pd.factorize(keys[present])[0]
        first = np.full(codes.max() + 1, -1, dtype=np.int64)
        order = np.arange(present.size)[::-1]
        first[codes[order]] = present[order]
        edges_from.append(present)
        edges_to.append(first[codes])
    rows = np.concatenate(edges_from) if edges_from else np.empty(0, dtype=np.int64)
    cols = np.concatenate(edges_to) if edges_to else np.empty(0, dtype=np.int64)
    graph = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    labels = np.where(names != "", "s:" + names, "t:" + track_ids.astype(str))
    frame = pd.DataFrame({"component": component, "label": labels})
    # a named key wins over a track-id key; among named keys, the smallest
    rank = frame["label"].str.startswith("t:").astype(int).astype(str) + frame["label"]
    best = frame.assign(rank=rank).sort_values("rank", kind="stable").groupby("component")["label"].first()
    return best.loc[component].to_numpy(dtype=object)


@dataclass
class SongReport:
    """How many tracks share a song with another track id."""

    tracks: int
    songs: int
    tracks_in_shared_songs: int
    shared_songs: int
    examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"tracks": self.tracks, "songs": self.songs,
                "tracks_in_shared_songs": self.tracks_in_shared_songs, "shared_songs": self.shared_songs,
                "examples": list(self.examples)}


def find_songs(tracks: pd.DataFrame, *, max_examples: int = 5) -> tuple[pd.DataFrame, SongReport]:
    """Add a ``song_id`` column (nothing dropped) and count the songs under several track ids.

    Examples read ``artist - title: id1 | id2 (+n more)`` with the titles as they appear.
    """
    out = tracks.copy()
    out["song_id"] = pd.array(song_keys(tracks), dtype="string")
    sizes = out.groupby("song_id", sort=False)["song_id"].transform("size")
    shared = out[sizes.to_numpy() > 1]
    examples = []
    for _, part in shared.groupby("song_id", sort=True):
        if len(examples) >= max_examples:
            break
        titles = " | ".join(dict.fromkeys(part["track_name"].astype("string").fillna("?")))
        artist = part["artist_name"].astype("string").fillna("?").iloc[0] if "artist_name" in part else "?"
        ids = ", ".join(part["track_id"].astype(str).head(3))
        more = f" (+{len(part) - 3} more)" if len(part) > 3 else ""
        examples.append(f"{artist} - {titles}: {ids}{more}")
    report = SongReport(
        tracks=len(out),
        songs=int(out["song_id"].nunique()),
        tracks_in_shared_songs=len(shared),
        shared_songs=int(shared["song_id"].nunique()),
        examples=examples,
    )
    return out, report


def add_song_ids(tracks: pd.DataFrame, report: Any) -> pd.DataFrame:
    """The cleaning step: add ``song_id`` (nothing dropped) and count the songs under several ids.

    ``report`` is the :class:`hitlab.clean.CleaningReport`; the step reads "same song,
    several track ids", action ``kept``, with the tracks involved, the songs they make and
    examples.
    """
    out, found = find_songs(tracks)
    reason = (f"kept; {found.tracks_in_shared_songs:,} tracks are {found.shared_songs:,} songs released "
              f"under several track ids ({found.songs:,} songs in all); splits keep each song on one side"
              if found.shared_songs else "no song appears under several track ids")
    report.add("same song, several track ids", "kept", found.tracks_in_shared_songs, reason, found.examples)
    return out


def _has_values(tracks: pd.DataFrame, column: str) -> bool:
    return column in tracks.columns and bool(tracks[column].notna().any())


def grouping_note(tracks: pd.DataFrame, group_by: str) -> str | None:
    """A line for the report when the grouping falls back to track ids for some rows, else None."""
    if group_by == "track" or len(tracks) == 0:
        return None
    if group_by == "song":
        named = _column(tracks, "artist_name").notna() & _column(tracks, "track_name").notna()
        named |= _column(tracks, "isrc").notna()
        what = "an artist and title (or an ISRC)"
    else:
        named = _column(tracks, "artist_id").notna() | _column(tracks, "artist_name").notna()
        what = "an artist id or name"
    alone = int((~named).sum())
    if not alone:
        return None
    return (f"{alone:,} of {len(tracks):,} tracks lack {what}: each is its own {group_by} group "
            "in the split")


def group_labels(tracks: pd.DataFrame, group_by: str = "song") -> np.ndarray:
    """One split-group label per row of ``tracks``, for :func:`hitlab.modeling.split.outer_split`.

    - ``"song"``: the ``song_id`` column when cleaning added it, else :func:`song_keys`;
    - ``"track"``: the track id;
    - ``"artist"``: the first Spotify artist id where known, else the normalised artist
      name; a row with neither falls back to its track id (it can only share a group with
      itself).

    Raises
    ------
    ConfigError
        For an unknown ``group_by``, or ``"artist"`` on a table without artist ids or names.
    """
    if group_by not in GROUP_BY:
        raise ConfigError(f"group_by must be one of {', '.join(GROUP_BY)}, got {group_by!r}")
    track_ids = _key_array(_column(tracks, "track_id"))
    if group_by == "track":
        return np.asarray(["t:" + str(t) for t in track_ids], dtype=object)
    if group_by == "song":
        if "song_id" in tracks.columns and tracks["song_id"].notna().all():
            return tracks["song_id"].astype(str).to_numpy(dtype=object)
        return song_keys(tracks)
    if not (_has_values(tracks, "artist_id") or _has_values(tracks, "artist_name")):
        raise ConfigError(
            "group_by='artist' needs artist ids or names, and this table has neither "
            "(no value in the artist_id or artist_name columns); use group_by='song' or 'track'"
        )
    ids = _column(tracks, "artist_id").str.split(",").str[0].str.strip().to_numpy(dtype=object,
                                                                                   na_value=None)
    names = _column(tracks, "artist_name").to_numpy(dtype=object, na_value=None)
    out = np.empty(len(tracks), dtype=object)
    for i, (aid, name, tid) in enumerate(zip(ids, names, track_ids, strict=True)):
        if aid:
            out[i] = "a:" + str(aid)
        else:
            key = normalize_artist(name)
            out[i] = "n:" + key if key else "t:" + str(tid)
    return out
