"""The canonical track table: one row per (source) track, the same columns from every source.

Every source (built-in data, imported files, the collector) produces this table and every
later stage consumes it. :func:`coerce` turns a raw frame with canonical column names into
the canonical dtypes and checks it; every problem found is collected and raised once as a
:class:`~hitlab.errors.SchemaError` naming the file, the column and the first offending rows.

Columns (see ``docs/schema.md`` for the full page):

==================  =========  ==========================================================
column              dtype      meaning
==================  =========  ==========================================================
track_id            string     Spotify track id, or a derived ``hl:`` id (required)
track_name          string     title
artist_name         string     performing artist(s) as one display string
artist_id           string     Spotify artist id(s), comma separated, where known
album_id            string     Spotify album id
release_date        string     as given: ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``
year                Int64      release year
popularity          Int64      Spotify popularity 0-100 (optional: the task is skipped)
danceability ...    Float64    the Spotify audio features, ranges below
key                 Int64      pitch class -1..11 (-1: no key detected)
mode                Int64      1 major, 0 minor
time_signature      Int64      3..7 where present
duration_ms         Float64    track length in ms
genres              object     label set: a sorted tuple of genre labels (may be empty)
artist_genres       object     the artist's Spotify genre tags, a tuple (may be empty)
==================  =========  ==========================================================

Columns the schema does not know are kept after the canonical ones, untouched; their
names are listed in ``df.attrs["extra_columns"]``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hitlab.errors import Problem, SchemaError

__all__ = [
    "AUDIO_FEATURES",
    "COLUMNS",
    "REQUIRED",
    "Column",
    "coerce",
    "empty_tracks",
    "parse_label_list",
]

MAX_ROWS_SHOWN = 5
#: Cell texts that mean "no label" (compared in lower case), as dumps write them.
EMPTY_LABELS = frozenset({"", "[]", "()", "{}", "set()", "n/a", "na", "none", "null", "nan", "-", "unknown"})
#: Whole numbers beyond this magnitude cannot be exact; they are out of any range.
MAX_WHOLE = 2**53


@dataclass(frozen=True)
class Column:
    """One column of the canonical track table."""

    name: str
    kind: str  # "string", "int", "float", "labels"
    description: str
    low: float | None = None
    high: float | None = None
    required: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("track_id", "string", "Spotify track id, or a derived 'hl:' id", required=True),
    Column("track_name", "string", "track title"),
    Column("artist_name", "string", "performing artist(s), one display string"),
    Column("artist_id", "string", "Spotify artist id(s), comma separated"),
    Column("album_id", "string", "Spotify album id"),
    Column("release_date", "string", "release date as given (YYYY, YYYY-MM or YYYY-MM-DD)"),
    Column("year", "int", "release year", 1900, 2100),
    Column("popularity", "int", "Spotify popularity", 0, 100),
    Column("danceability", "float", "how suitable for dancing", 0, 1),
    Column("energy", "float", "perceived intensity", 0, 1),
    Column("key", "int", "pitch class, -1 when no key was detected", -1, 11),
    Column("loudness", "float", "average loudness in dB", -80, 10),
    Column("mode", "int", "1 major, 0 minor", 0, 1),
    Column("speechiness", "float", "presence of spoken words", 0, 1),
    Column("acousticness", "float", "confidence the track is acoustic", 0, 1),
    Column("instrumentalness", "float", "likelihood of no vocals", 0, 1),
    Column("liveness", "float", "likelihood of a live audience", 0, 1),
    Column("valence", "float", "musical positiveness", 0, 1),
    Column("tempo", "float", "estimated tempo in BPM", 0, 300),
    Column("duration_ms", "float", "track length in milliseconds", 0, 7_200_000),
    Column("time_signature", "int", "estimated beats per bar", 0, 7),
    Column("genres", "labels", "genre label set (sorted tuple, may be empty)"),
    Column("artist_genres", "labels", "the artist's Spotify genre tags (tuple, may be empty)"),
)

BY_NAME = {c.name: c for c in COLUMNS}
NAMES = tuple(c.name for c in COLUMNS)
REQUIRED = tuple(c.name for c in COLUMNS if c.required)
AUDIO_FEATURES = (
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "duration_ms",
)
_DTYPES = {"string": "string", "int": "Int64", "float": "Float64", "labels": object}


def empty_tracks() -> pd.DataFrame:
    """An empty canonical table with every column and dtype."""
    return pd.DataFrame({c.name: pd.Series([], dtype=_DTYPES[c.kind]) for c in COLUMNS})


def _rows(mask: np.ndarray | pd.Series, index: pd.Index) -> tuple[list[int], int]:
    """First offending rows as 1-based data row numbers, and how many there are."""
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    return [int(index[p]) + 1 for p in positions[:MAX_ROWS_SHOWN]], int(positions.size)


def parse_label_list(value: object, separators: str = ",;|") -> tuple[str, ...]:
    """Turn one cell into a label tuple.

    Accepts a list/tuple/array, a Python list literal (``"['pop', 'rock']"``), or text with
    several labels separated by commas, semicolons or pipes (``"rock, pop"``). Labels are
    stripped; empty ones are left out; order of first appearance is kept, duplicates removed.

    >>> parse_label_list("rock, pop")
    ('rock', 'pop')
    >>> parse_label_list("['dance pop', 'pop']")
    ('dance pop', 'pop')
    >>> parse_label_list(None)
    ()
    >>> parse_label_list("set()"), parse_label_list("N/A"), parse_label_list(("pop", "none"))
    ((), (), ('pop',))
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ()
    if isinstance(value, (list, tuple, np.ndarray, set, frozenset)):
        items: Iterable[object] = value
    else:
        text = str(value).strip()
        if not text or text.lower() in EMPTY_LABELS:
            return ()
        if text[0] in "[(" and text[-1] in "])":
            try:
                parsed = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                parsed = None
            if isinstance(parsed, (list, tuple)):
                items = parsed
            else:
                items = text[1:-1].replace('"', "").replace("'", "").split(",")
        else:
            for sep in separators[1:]:
                text = text.replace(sep, separators[0])
            items = text.split(separators[0])
    out: dict[str, None] = {}
    for item in items:
        label = str(item).strip()
        if label and label.lower() not in EMPTY_LABELS:
            out[label] = None
    return tuple(out)


def year_from_dates(dates: pd.Series) -> pd.Series:
    """Release year from dates given as ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (or a datetime).

    >>> year_from_dates(pd.Series(["2019-05-01", "2019-05", "1999", None])).tolist()
    [2019, 2019, 1999, <NA>]
    """
    if pd.api.types.is_datetime64_any_dtype(dates):
        return dates.dt.year.astype("Int64")
    codes, uniques = pd.factorize(dates.astype("string"), use_na_sentinel=True)  # dates repeat: once each
    text = pd.Series(uniques, dtype="string").str.extract(r"^\s*(\d{4})", expand=False)
    years = np.append(pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan), np.nan)
    return pd.Series(years[codes], index=dates.index).astype("Int64")


def _coerce_labels(series: pd.Series) -> pd.Series:
    """Label tuples from cells of any form (text, list literals, tuples, lists, arrays).

    Many rows repeat the same few values: each distinct value is parsed once.
    """
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, arrays): as tuples, then by distinct value
        as_tuples = np.empty(len(series), dtype=object)
        as_tuples[:] = [tuple(v) if isinstance(v, (list, np.ndarray)) else v for v in series]
        codes, uniques = pd.factorize(pd.Series(as_tuples, index=series.index), use_na_sentinel=True)
    parsed = [parse_label_list(u) for u in uniques] + [()]
    table = np.empty(len(parsed), dtype=object)
    table[:] = parsed
    return pd.Series(table[codes], index=series.index, dtype=object)


def coerce(
    frame: pd.DataFrame,
    *,
    source: str | None = None,
    check_ranges: bool = True,
) -> pd.DataFrame:
    """Cast a frame with canonical column names to the canonical dtypes, and check it.

    Parameters
    ----------
    frame
        Columns named as in :data:`COLUMNS`; unknown columns are kept and listed in
        ``attrs["extra_columns"]``. Its index is taken as 0-based source row numbers.
    source
        The file name used in error messages.
    check_ranges
        When False, out-of-range values are left for :func:`hitlab.clean.clean` to drop
        and count instead of raising.

    Raises
    ------
    SchemaError
        Listing every problem: missing required columns, values of the wrong type,
        values out of range, an empty table.
    """
    problems: list[Problem] = []
    if len(frame.columns) == 0 or len(frame) == 0:
        what = "no columns" if len(frame.columns) == 0 else "a header but no data rows"
        raise SchemaError([Problem(None, f"the table is empty ({what})")], source=source)
    missing = [name for name in REQUIRED if name not in frame.columns]
    if missing:
        problems.append(
            Problem(
                None,
                f"missing required column(s) {', '.join(repr(m) for m in missing)}; "
                f"found {', '.join(repr(str(c)) for c in frame.columns)}",
            )
        )
    if not any(name in frame.columns for name in AUDIO_FEATURES):
        problems.append(
            Problem(
                None,
                "no audio feature column (expected some of "
                f"{', '.join(AUDIO_FEATURES)}); found {', '.join(repr(str(c)) for c in frame.columns)}",
            )
        )
    out: dict[str, pd.Series] = {}
    index = frame.index
    for col in COLUMNS:
        if col.name not in frame.columns:
            if col.kind == "labels":
                empty = np.empty(len(frame), dtype=object)
                empty[:] = [()] * len(frame)
                out[col.name] = pd.Series(empty, index=index, dtype=object)
            else:
                out[col.name] = pd.Series(pd.NA, index=index, dtype=_DTYPES[col.kind])
            continue
        raw = frame[col.name]
        if col.kind == "string":
            s = raw.astype("string").str.strip()
            out[col.name] = s.mask(s == "")
        elif col.kind == "labels":
            out[col.name] = _coerce_labels(raw)
        else:
            if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
                num = raw.astype("Float64")
            else:
                text = raw.astype("string").str.strip()
                num = pd.to_numeric(text.mask(text == ""), errors="coerce").astype("Float64")
                bad = num.isna() & text.notna() & (text != "")
                if bad.any():
                    rows, n = _rows(bad, index)
                    examples = ", ".join(repr(v) for v in text[bad].head(3))
                    problems.append(Problem(col.name, f"expected a number, got {examples}", rows, n))
            huge = (num.abs() > MAX_WHOLE).fillna(False) if col.kind == "int" else None
            if huge is not None and huge.any():
                # beyond exact whole numbers: out of every range; kept out of range (for cleaning to
                # drop) but small enough to store, and reported with the value as written
                if check_ranges or col.low is None:
                    rows, n = _rows(huge, index)
                    examples = ", ".join(f"{float(v):g}" for v in num[huge].head(3))
                    problems.append(Problem(col.name, f"value(s) {examples} are not plausible", rows, n))
                num = num.clip(-MAX_WHOLE, MAX_WHOLE)
            if col.kind == "int":
                frac = num.notna() & (num != num.round())
                if frac.any():
                    rows, n = _rows(frac.fillna(False), index)
                    problems.append(Problem(col.name, "expected a whole number", rows, n))
                    num = num.round()
                num = num.astype("Int64")
            if check_ranges and col.low is not None:
                out_of_range = ((num < col.low) | (num > col.high)).fillna(False)
                if out_of_range.any():
                    rows, n = _rows(out_of_range, index)
                    examples = ", ".join(str(v) for v in num[out_of_range].head(3))
                    problems.append(
                        Problem(
                            col.name,
                            f"value(s) {examples} outside the allowed range {col.low:g}..{col.high:g}",
                            rows,
                            n,
                        )
                    )
            out[col.name] = num
    if "year" not in frame.columns and "release_date" in frame.columns:
        out["year"] = year_from_dates(out["release_date"])
    if "track_id" in frame.columns:
        missing_id = out["track_id"].isna()
        if missing_id.any():
            rows, n = _rows(missing_id, index)
            problems.append(Problem("track_id", "empty track id", rows, n))
    if problems:
        raise SchemaError(problems, source=source)
    extra = [c for c in frame.columns if c not in BY_NAME]
    table = pd.DataFrame(out, index=index)
    for name in extra:
        table[name] = frame[name]
    table.attrs["extra_columns"] = [str(c) for c in extra]
    return table
