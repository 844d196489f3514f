"""Draft a mapping TOML from a file's header and a sample of its values (``hitlab mapping FILE``).

Each canonical column is matched to a source column by its spelling: the canonical
name itself (sure), a common spelling or abbreviation of public dumps (``nrgy``,
``Beats Per Minute (BPM)``, ``track_artist``: likely), or a header that starts with the
canonical word (a guess). Value conventions (0-100 scales, note-name keys, durations in
seconds ...) are detected on a sample and written as explicit ``[values]`` lines, so
that the mapping reads every file of that format the same way. Every line carries a
comment saying what was guessed and how sure it is; the draft is meant to be read
before use (``hitlab validate FILE --mapping mapping.toml`` shows what it yields).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hitlab import schema
from hitlab.datasets import conventions
from hitlab.datasets.importer import read_table

__all__ = ["SYNONYMS", "Guess", "draft_mapping", "guess_columns"]

#: Common spellings of each canonical column in public tables (compared after normalising).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "track_id": ("id", "track id", "spotify id", "song id", "track uri", "uri"),
    "track_name": ("title", "name", "song", "track", "song name", "track title", "song title"),
    "artist_name": ("artist", "artists", "track artist", "artist s", "performer", "singer", "artist names"),
    "artist_id": ("artist ids", "id artists", "artists id"),
    "album_id": ("track album id", "album"),
    "release_date": ("track album release date", "date", "released", "release", "album release date"),
    "year": ("release year", "yr"),
    "popularity": ("pop", "track popularity", "popularity score", "spotify popularity"),
    "genres": ("genre", "top genre", "track genre", "playlist genre", "main genre", "genre s"),
    "artist_genres": ("artist genres", "artist genre"),
    "danceability": ("dnce", "dance", "dance ability", "danceable"),
    "energy": ("nrgy", "nrg", "enrg"),
    "key": ("musical key", "pitch", "song key"),
    "loudness": ("db", "loudness db", "loud", "dbs"),
    "mode": ("modality", "major minor"),
    "speechiness": ("spch", "speech", "speechy"),
    "acousticness": ("acous", "acoustic", "acst", "acoustics"),
    "instrumentalness": ("instr", "instrumental", "inst", "instrum"),
    "liveness": ("live", "lvns"),
    "valence": ("val", "positiveness", "happiness"),
    "tempo": ("bpm", "beats per minute bpm", "beats per minute", "beat per minute"),
    "duration_ms": (
        "duration",
        "dur",
        "length",
        "length duration",
        "duration ms",
        "duration s",
        "length s",
        "duration sec",
        "track duration ms",
        "len",
    ),
    "time_signature": ("time signature", "timesig", "time sig", "meter", "ts"),
}
SAMPLE_ROWS = 2000


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", str(text).lower()).strip()


@dataclass(frozen=True)
class Guess:
    """A source column guessed for a canonical column, and how sure the guess is."""

    canonical: str
    source: str
    sureness: str  # "sure", "likely", "guess"
    why: str


def guess_columns(header: list[str]) -> tuple[list[Guess], list[str]]:
    """Guess a source column for each canonical column; return the guesses and the unused columns.

    >>> guesses, unused = guess_columns(["Title", "Artist", "nrgy", "Beats Per Minute (BPM)", "x"])
    >>> [(g.canonical, g.source, g.sureness) for g in guesses]
    [('track_name', 'Title', 'likely'), ('artist_name', 'Artist', 'likely'), ('energy', 'nrgy', 'likely'), \
('tempo', 'Beats Per Minute (BPM)', 'likely')]
    >>> unused
    ['x']
    """
    normalised = {col: _norm(col) for col in header}
    taken: set[str] = set()
    found: dict[str, Guess] = {}
    passes = (
        ("sure", lambda canon: {_norm(canon)}, "the canonical name"),
        ("likely", lambda canon: {_norm(s) for s in SYNONYMS.get(canon, ())}, "a common spelling"),
    )
    for sureness, spellings, why in passes:
        for canon in schema.NAMES:
            if canon in found:
                continue
            names = spellings(canon)
            for col in header:
                if col not in taken and normalised[col] in names:
                    found[canon] = Guess(canon, col, sureness, why)
                    taken.add(col)
                    break
    for canon in schema.NAMES:  # a header that starts with the canonical word ("Loudness (dB)")
        if canon in found:
            continue
        word = canon.split("_")[0]
        for col in header:
            if col not in taken and len(word) > 3 and normalised[col].split(" ")[:1] == [word]:
                found[canon] = Guess(canon, col, "guess", f"the header starts with '{word}'")
                taken.add(col)
                break
    order = {c: i for i, c in enumerate(header)}
    guesses = sorted(found.values(), key=lambda g: order[g.source])
    return guesses, [c for c in header if c not in taken]


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def draft_mapping(path: str | Path, *, encoding: str | None = None) -> str:
    """A draft mapping TOML for ``path``, commented with what was guessed and how sure it is."""
    notes: list[str] = []
    raw = read_table(path, encoding=encoding, notes=notes)
    header = [str(c) for c in raw.columns]
    guesses, unused = guess_columns(header)
    sample = raw.head(SAMPLE_ROWS)
    mapped = pd.DataFrame({g.canonical: sample[g.source] for g in guesses}, index=sample.index)
    _, converted = conventions.convert(mapped, detect=True)
    lines = [
        f"# Draft mapping for {Path(path).name}, written by `hitlab mapping` from its header and "
        f"{len(sample):,} rows.",
        "# Read it before use; `hitlab validate FILE --mapping THIS.toml` shows what it yields.",
        f"description = {_toml('draft mapping for ' + Path(path).name)}",
        'kind = "tracks"',
        "",
        "[columns]",
        "# canonical column = source column   # how sure, and why",
    ]
    for g in guesses:
        lines.append(f"{g.canonical} = {_toml(g.source)}   # {g.sureness}: {g.why}")
    missing = [c for c in schema.NAMES if c not in {g.canonical for g in guesses}]
    if missing:
        lines.append(f"# not found in the file: {', '.join(missing)}")
    if unused:
        lines.append(f"# source columns left unmapped (kept aside): {', '.join(unused)}")
    if "track_id" not in {g.canonical for g in guesses}:
        lines.append("# no track id: hitlab derives one from artist + title")
    options: list[str] = []
    if raw.attrs.get("encoding") not in (None, "utf-8"):
        options.append(f"encoding = {_toml(raw.attrs['encoding'])}   # detected: the file is not UTF-8")
    if raw.attrs.get("delimiter") not in (None, ","):
        options.append(f"delimiter = {_toml(raw.attrs['delimiter'])}   # detected")
    if options:
        lines += ["", "[options]", *options]
    values = [c for c in converted if c.convention != "thousands separator"]
    thousands = [c for c in converted if c.convention == "thousands separator"]
    lines += [
        "",
        "[values]",
        "# value conventions detected on the sample (explicit, so every file reads alike)",
    ]
    for c in values:
        name = c.convention.split(" ")[0]
        lines.append(f"{c.column} = {_toml(name)}   # detected: {c.convention}, {c.rows:,} sample values")
    for c in thousands:
        lines.append(
            f"# {c.column}: {c.rows} value(s) with a thousands separator ({c.detail}): read as numbers"
        )
    if not converted:
        lines.append("# none: every value is already on Spotify's scale")
    for note in notes:
        lines.append(f"# reading: {note}")
    return "\n".join(lines) + "\n"
