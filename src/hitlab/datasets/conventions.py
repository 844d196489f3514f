"""Value conventions: the ways public tables write canonical values, and how to read them.

Public Spotify tables write the same quantities in many ways: keys as note names
(``C#``, ``Eb``), modes as words (``Major``), time signatures as ``4/4`` (or mangled by
a spreadsheet into the date ``4-Apr``), the 0-1 audio features on a 0-100 scale,
durations in seconds, minutes or ``m:ss``, numbers with thousands separators. Each
column of the canonical table has a small set of conventions; :func:`convert` turns a
frame with canonical column names into canonical values, column by column.

A convention is either given (a mapping's ``[values]`` table, e.g.
``danceability = "percent"``) or, where the values leave no doubt, detected. Every
conversion is returned as a :class:`Conversion` (column, convention, rows changed, how
it was decided), so the cleaning report can say what was read how, and the resolved
conventions are recorded so that ``hitlab predict`` reads new files the same way.

Detection rules (only where unambiguous):

- ``key``: any cell that is a note name (``C``, ``c#``, ``D♭``, ``F sharp``, optionally
  followed by ``major``/``minor``/``m``) -> pitch class 0-11;
- ``mode``: words (``major``/``minor``, ``maj``/``min``) or booleans -> 1/0;
- ``time_signature``: ``4/4`` -> 4, and the spreadsheet dates ``4-Apr``/``Apr-04``/``3-Apr``
  (a ``x/4`` signature read as a day/month date) -> beats per bar;
- 0-1 features: whole numbers reaching above 1, or mostly above 1, all at most 100 -> ``percent``;
- ``duration_ms``: ``m:ss`` text -> ms; numbers whose median is below 30 -> minutes,
  below 30,000 -> seconds;
- any numeric column: ``1,412`` (groups of three digits) -> thousands separators removed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from hitlab.errors import MappingError

__all__ = ["CONVENTIONS", "UNIT_FEATURES", "Conversion", "convert", "parse_key", "parse_time_signature"]

#: Audio features Spotify gives on a 0-1 scale.
UNIT_FEATURES: tuple[str, ...] = (
    "danceability",
    "energy",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
)

#: Every convention a mapping may name, per canonical column ("auto": detect; "number": as is).
CONVENTIONS: dict[str, tuple[str, ...]] = {
    "key": ("auto", "number", "note-name"),
    "mode": ("auto", "number", "word"),
    "time_signature": ("auto", "number", "fraction"),
    "duration_ms": ("auto", "ms", "seconds", "minutes", "m:ss"),
    **{name: ("auto", "unit", "percent") for name in UNIT_FEATURES},
}
#: Numeric canonical columns (thousands separators are removed from these).
NUMERIC_COLUMNS: tuple[str, ...] = (
    *UNIT_FEATURES,
    "key",
    "loudness",
    "mode",
    "tempo",
    "duration_ms",
    "time_signature",
    "popularity",
    "year",
)

_NOTES = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_KEY_RE = re.compile(r"^\s*([a-g])\s*(#|♯|sharp|b|♭|flat)?\s*(?:m|min|minor|maj|major)?\s*$", re.IGNORECASE)
_MODE_WORDS = {
    "major": 1,
    "maj": 1,
    "minor": 0,
    "min": 0,
    "true": 1,
    "false": 0,
    "yes": 1,
    "no": 0,
    "t": 1,
    "f": 0,
    "y": 1,
    "n": 0,
}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
_FRACTION_RE = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{1,2})\s*$")
_DATE_RE = re.compile(r"^\s*(?:(\d{1,2})[-\s/.]([a-z]{3})|([a-z]{3})[-\s/.](\d{1,2}))\s*$", re.IGNORECASE)
_THOUSANDS_RE = re.compile(r"^\s*-?\d{1,3}(?:,\d{3})+(?:\.\d+)?\s*$")
_MSS_RE = re.compile(r"^\s*(?:(\d+):)?(\d{1,3}):(\d{2}(?:\.\d+)?)\s*$")
_EMPTY = {"", "na", "n/a", "nan", "null", "none", "-"}


@dataclass(frozen=True)
class Conversion:
    """One column read under a convention: how many values changed, and whether it was detected."""

    column: str
    convention: str
    rows: int
    detected: bool
    detail: str = ""

    def describe(self) -> str:
        how = "detected" if self.detected else "as the mapping says"
        if self.convention == "thousands separator":
            return (
                f"{self.column}: {self.rows:,} values written with a thousands separator "
                f"({self.detail}) read as numbers"
            )
        return f"{self.column}: read as {self.convention} ({how}); {self.rows:,} values converted" + (
            f"; {self.detail}" if self.detail else ""
        )

    def to_dict(self) -> dict:
        return asdict(self)


def parse_key(text: object) -> float:
    """Pitch class of a key cell: a number, or a note name (any case, sharps, flats).

    >>> [parse_key(k) for k in ["C", "c#", "D♭", "Bb minor", "F sharp", "B#", "7", "H"]]
    [0.0, 1.0, 1.0, 10.0, 6.0, 0.0, 7.0, nan]
    """
    value = str(text).strip()
    try:
        return float(value)
    except ValueError:
        pass
    match = _KEY_RE.match(value)
    if not match:
        return np.nan
    pitch = _NOTES[match.group(1).lower()]
    accidental = (match.group(2) or "").lower()
    if accidental in ("#", "♯", "sharp"):
        pitch += 1
    elif accidental in ("b", "♭", "flat"):
        pitch -= 1
    return float(pitch % 12)


def parse_time_signature(text: object) -> float:
    """Beats per bar of a time-signature cell: ``4``, ``3/4`` or a spreadsheet date.

    A spreadsheet turns ``3/4`` into the date 4 March or 3 April, shown ``4-Mar`` or
    ``3-Apr``; signatures over 4 are the norm, so the part that is not 4 is the beats
    (``4-Apr`` is 4/4).

    >>> [parse_time_signature(t) for t in ["4", "3/4", "4-Apr", "4-Mar", "3-Apr", "Apr-05", "x"]]
    [4.0, 3.0, 4.0, 3.0, 3.0, 5.0, nan]
    """
    value = str(text).strip()
    try:
        return float(value)
    except ValueError:
        pass
    fraction = _FRACTION_RE.match(value)
    if fraction:
        return float(fraction.group(1))
    date = _DATE_RE.match(value)
    if not date:
        return np.nan
    day = int(date.group(1) or date.group(4))
    month = _MONTHS.get((date.group(2) or date.group(3)).lower())
    if month is None:
        return np.nan
    if day == 4:
        return float(month)
    if month == 4:
        return float(day)
    return np.nan


def _parse_mode(text: object) -> float:
    value = str(text).strip().lower()
    try:
        return float(value)
    except ValueError:
        return float(_MODE_WORDS[value]) if value in _MODE_WORDS else np.nan


def _parse_mss(text: object) -> float:
    match = _MSS_RE.match(str(text))
    if not match:
        return np.nan
    hours = float(match.group(1) or 0)
    return ((hours * 60 + float(match.group(2))) * 60 + float(match.group(3))) * 1000


def _by_unique(text: pd.Series, parse) -> pd.Series:
    """Apply ``parse`` once per distinct value (columns repeat a handful of values)."""
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    values = np.array([parse(u) for u in uniques] + [np.nan], dtype="float64")
    return pd.Series(values[codes], index=text.index, dtype="Float64")


def _text(series: pd.Series) -> pd.Series:
    text = series.astype("string").str.strip()
    return text.mask(text.str.lower().isin(_EMPTY))


def _numbers(text: pd.Series) -> pd.Series:
    """Numbers of text cells (NaN where a cell is not a number), parsing each distinct text once."""
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    parsed = pd.to_numeric(pd.Series(np.asarray(uniques, dtype=object)), errors="coerce")
    values = np.append(parsed.to_numpy(dtype="float64", na_value=np.nan), np.nan)
    return pd.Series(values[codes], index=text.index, dtype="Float64")


def _unparsed(text: pd.Series, parsed: pd.Series) -> pd.Series:
    return text.notna() & parsed.isna()


def _validate(values: dict[str, str], source: str) -> dict[str, str]:
    out = {}
    for column, convention in values.items():
        allowed = CONVENTIONS.get(column)
        if allowed is None:
            raise MappingError(
                f"{source}: [values] names column {column!r}, which has no conventions; "
                f"columns with conventions: {', '.join(CONVENTIONS)}"
            )
        if convention not in allowed:
            raise MappingError(
                f"{source}: [values] {column} = {convention!r} is not a convention of {column}; "
                f"allowed: {', '.join(allowed)}"
            )
        out[column] = convention
    return out


def convert(
    frame: pd.DataFrame,
    values: dict[str, str] | None = None,
    *,
    detect: bool = True,
    source: str = "mapping",
) -> tuple[pd.DataFrame, list[Conversion]]:
    """Convert a frame with canonical column names to canonical values.

    Parameters
    ----------
    frame
        Canonical column names; cells as read (text from CSV, numbers from Parquet).
    values
        Conventions by column (``{"danceability": "percent"}``); columns not named are
        detected when ``detect`` is true and read as plain numbers otherwise.
    detect
        Detect unambiguous conventions in columns that ``values`` does not name.
    source
        Named in errors about ``values``.

    Returns
    -------
    frame, conversions
        A copy with converted columns (numbers as ``Float64``; cells that no convention
        reads are left as text for :func:`hitlab.schema.coerce` to report), and one
        :class:`Conversion` per column changed.

    >>> raw = pd.DataFrame({"key": ["C#", "F"], "energy": ["30", "53"], "duration_ms": ["217", "1,412"]})
    >>> out, notes = convert(raw)
    >>> out["key"].tolist(), out["energy"].tolist(), out["duration_ms"].tolist()
    ([1.0, 5.0], [0.3, 0.53], [217000.0, 1412000.0])
    """
    chosen = _validate(dict(values or {}), source)
    out = frame.copy()
    notes: list[Conversion] = []
    parsed: dict[str, tuple[pd.Series | None, pd.Series]] = {}
    for column in NUMERIC_COLUMNS:
        if column not in out.columns:
            continue
        raw = out[column]
        given = chosen.get(column, "auto" if detect else "number")
        if pd.api.types.is_bool_dtype(raw):
            raw = raw.astype("Int64")
            notes.append(Conversion(column, "boolean (true 1, false 0)", int(raw.notna().sum()), True))
        if pd.api.types.is_numeric_dtype(raw):
            numbers = raw.astype("Float64")
            text = None
        else:
            text = _text(raw)
            numbers = _numbers(text)
            # thousands separators: "1,412" (only when every such cell has groups of three digits)
            odd = _unparsed(text, numbers)
            maybe = odd & text.str.contains(",", regex=False).fillna(False)
            if maybe.any() and given in ("auto", "number", "ms", "seconds", "minutes", "unit", "percent"):
                odd = maybe
                grouped = text[odd].str.match(_THOUSANDS_RE.pattern)
                if grouped.any():
                    fixed = _numbers(text[odd][grouped].str.replace(",", "", regex=False))
                    numbers = numbers.copy()
                    numbers.loc[fixed.index] = fixed
                    notes.append(
                        Conversion(
                            column,
                            "thousands separator",
                            int(grouped.sum()),
                            True,
                            f"e.g. {text[odd][grouped].iloc[0]!r}",
                        )
                    )
        parsed[column] = (text, numbers)
    # 0-1 features: a table writes all of them on one scale, so a feature whose values alone leave
    # the scale open (a few above 1, all at most 100) follows the features that are clearly percent
    scales = {
        c: _unit_scale(parsed[c][1])
        for c in UNIT_FEATURES
        if c in parsed and chosen.get(c, "auto" if detect else "unit") == "auto"
    }
    table_percent = "percent" in scales.values() or "percent" in chosen.values()
    for column, (text, numbers) in parsed.items():
        given = chosen.get(column, "auto" if detect else "number")
        if column in scales:
            scale = scales[column]
            given = "percent" if scale == "percent" or (scale == "open" and table_percent) else "unit"
            converted = _convert_column(column, given, text, numbers, notes, detected=True)
        else:
            converted = _convert_column(column, given, text, numbers, notes)
        out[column] = (
            converted if converted is not None else (numbers if text is None else _keep_text(text, numbers))
        )
    return out, notes


def _unit_scale(numbers: pd.Series) -> str:
    """``percent`` (whole numbers above 1, or mostly above 1, all within 0-100), ``open`` (some
    values above 1, all within 0-100) or ``unit``."""
    valid = numbers.dropna()
    if not len(valid) or valid.max() <= 1 or valid.max() > 100 or valid.min() < 0:
        return "unit"
    whole = bool((valid == valid.round()).all())
    return "percent" if whole or float((valid > 1).mean()) >= 0.5 else "open"


def _keep_text(text: pd.Series, numbers: pd.Series) -> pd.Series:
    """Numbers where the cell is a number, the original text where it is not (for coerce to report)."""
    if not _unparsed(text, numbers).any():
        return numbers
    return text.where(_unparsed(text, numbers), numbers.astype("string"))


def _convert_column(
    column: str,
    given: str,
    text: pd.Series | None,
    numbers: pd.Series,
    notes: list[Conversion],
    *,
    detected: bool | None = None,
) -> pd.Series | None:
    detected = given == "auto" if detected is None else detected
    if column in ("key", "mode", "time_signature") and text is not None:
        parse = {"key": parse_key, "mode": _parse_mode, "time_signature": parse_time_signature}[column]
        name = {"key": "note-name", "mode": "word", "time_signature": "fraction"}[column]
        odd = _unparsed(text, numbers)
        if (given == "auto" and odd.any()) or given == name:
            parsed = _by_unique(text, parse)
            changed = int((odd & parsed.notna()).sum())
            if changed:
                notes.append(Conversion(column, name, changed, detected))
            return _keep_text(text, parsed)
        return None
    if column in UNIT_FEATURES:
        valid = numbers.dropna()
        if given == "percent":
            notes.append(Conversion(column, "percent (0-100 scale, divided by 100)", len(valid), detected))
            scaled = numbers / 100
            return scaled if text is None else _keep_text(text, scaled)
        return None
    if column == "duration_ms":
        if text is not None:
            odd = _unparsed(text, numbers)
            if (given == "auto" and odd.any()) or given == "m:ss":
                parsed = _by_unique(text, _parse_mss)
                merged = numbers.where(~odd, parsed)
                changed = int((odd & parsed.notna()).sum())
                if changed or given == "m:ss":
                    notes.append(Conversion(column, "m:ss", changed, detected))
                    return _keep_text(text, merged)
        valid = numbers.dropna()
        if given == "auto" and len(valid):
            median = float(valid.median())
            given = "minutes" if median < 30 else "seconds" if median < 30_000 else "ms"
            if given == "ms":
                return None
        factor = {"seconds": 1000.0, "minutes": 60_000.0}.get(given)
        if factor is None:
            return None
        notes.append(Conversion(column, f"{given} (times {factor:g})", len(valid), detected))
        scaled = numbers * factor
        return scaled if text is None else _keep_text(text, scaled)
    return None
