"""Import any CSV, Parquet or JSON-lines file into the canonical track table.

A *mapping* says which source column feeds which canonical column. It is a TOML file
(``[columns]`` canonical = source, and optional ``[options]``) or the name of a preset
for a well-known public dump (``hitlab presets`` lists them). Without a mapping, a file
whose columns already carry canonical names is taken as it is, and otherwise the preset
whose source columns all appear in the file is chosen.

Messy files are handled as a user would expect:

- no track ids: a stable id ``hl:<16 hex>`` is derived from the normalised artist and
  title (see :func:`derived_track_id`); rows sharing it are merged by cleaning like any
  other duplicate;
- a genre column holding several labels as text (``"rock, pop"``) or a list literal
  becomes a label set;
- a release date given as a full date, a year or a partial date (``2019-05``) gives the year;
- columns the mapping does not use are kept after the canonical ones (never dropped);
- a file without popularity or genres still imports; the task that needs them is skipped.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from hitlab import schema
from hitlab.datasets import conventions
from hitlab.errors import DataError, MappingError, Problem, SchemaError

__all__ = [
    "Mapping",
    "derived_track_id",
    "list_presets",
    "load_mapping",
    "read_artists",
    "read_table",
    "read_tracks",
    "tracks_from_table",
]

ARTIST_COLUMNS = ("artist_id", "artist_name", "artist_genres")


@dataclass(frozen=True)
class Mapping:
    """Which source column feeds which canonical column, and how to read it."""

    name: str
    columns: dict[str, str]
    description: str = ""
    kind: str = "tracks"
    artist_separator: str = ","
    list_columns: tuple[str, ...] = field(default_factory=tuple)
    values: dict[str, str] = field(default_factory=dict)
    detect: bool = True
    encoding: str | None = None
    delimiter: str | None = None
    optional: tuple[str, ...] = ("popularity", "genres", "artist_genres")

    @classmethod
    def from_dict(cls, data: dict, *, name: str) -> Mapping:
        columns = data.get("columns")
        if not isinstance(columns, dict) or not columns:
            raise MappingError(f"mapping '{name}' has no [columns] table")
        allowed = set(schema.NAMES) | set(ARTIST_COLUMNS)
        unknown = sorted(set(columns) - allowed)
        if unknown:
            raise MappingError(
                f"mapping '{name}' maps to unknown canonical column(s) {unknown}; allowed: {sorted(allowed)}"
            )
        options = data.get("options", {})
        kind = data.get("kind", "tracks")
        if kind not in ("tracks", "artists"):
            raise MappingError(f"mapping '{name}': kind must be 'tracks' or 'artists', got {kind!r}")
        known_options = {"artist_separator", "list_columns", "encoding", "delimiter", "detect"}
        unknown_options = sorted(set(options) - known_options)
        if unknown_options:
            raise MappingError(
                f"mapping '{name}': unknown [options] key(s) {unknown_options}; "
                f"known: {sorted(known_options)}"
            )
        values = data.get("values", {})
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise MappingError(f"mapping '{name}': [values] must map column names to convention names")
        conventions._validate(values, f"mapping '{name}'")
        delimiter = options.get("delimiter")
        if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
            raise MappingError(f"mapping '{name}': delimiter must be one character, got {delimiter!r}")
        encoding = options.get("encoding")
        if encoding is not None:
            _check_encoding(str(encoding), f"mapping '{name}'")
        detect = options.get("detect", True)
        if not isinstance(detect, bool):
            raise MappingError(f"mapping '{name}': detect must be true or false, got {detect!r}")
        return cls(
            name=name,
            columns={str(k): str(v) for k, v in columns.items()},
            description=str(data.get("description", "")),
            kind=kind,
            artist_separator=str(options.get("artist_separator", ",")),
            list_columns=tuple(options.get("list_columns", ())),
            values={str(k): str(v) for k, v in values.items()},
            detect=detect,
            encoding=str(encoding) if encoding is not None else None,
            delimiter=delimiter,
        )

    def to_dict(self) -> dict:
        """The mapping as TOML-shaped data (recorded in a run's manifest, re-read by predict)."""
        options: dict[str, object] = {"artist_separator": self.artist_separator, "detect": self.detect}
        if self.list_columns:
            options["list_columns"] = list(self.list_columns)
        if self.encoding:
            options["encoding"] = self.encoding
        if self.delimiter:
            options["delimiter"] = self.delimiter
        return {
            "description": self.description,
            "kind": self.kind,
            "columns": dict(self.columns),
            "options": options,
            "values": dict(self.values),
        }


def _preset_files() -> dict[str, object]:
    folder = resources.files("hitlab.datasets") / "presets"
    return {p.name.removesuffix(".toml"): p for p in folder.iterdir() if p.name.endswith(".toml")}


def list_presets() -> dict[str, Mapping]:
    """Every built-in mapping preset, by name."""
    return {
        name: Mapping.from_dict(tomllib.loads(path.read_text("utf-8")), name=name)  # type: ignore[attr-defined]
        for name, path in sorted(_preset_files().items())
    }


def load_mapping(spec: str | Path | Mapping) -> Mapping:
    """A mapping from a preset name, a TOML file path, or a :class:`Mapping` (returned as is)."""
    if isinstance(spec, Mapping):
        return spec
    presets = _preset_files()
    if isinstance(spec, str) and spec in presets:
        return Mapping.from_dict(tomllib.loads(presets[spec].read_text("utf-8")), name=spec)  # type: ignore[attr-defined]
    path = Path(spec)
    if path.suffix == ".toml" or path.exists():
        if not path.exists():
            raise MappingError(f"mapping file not found: {path}")
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise MappingError(f"{path}: not a valid TOML mapping ({exc})") from None
        return Mapping.from_dict(data, name=str(path))
    raise MappingError(
        f"unknown mapping preset {str(spec)!r}; presets: {', '.join(sorted(presets))}, "
        "or give the path of a TOML mapping file"
    )


#: Delimiters tried when a CSV's delimiter is not given, in order of preference on a tie.
DELIMITERS = (",", ";", "\t", "|")
#: The encoding tried when a file is not valid UTF-8 (it is stated in the read notes).
FALLBACK_ENCODING = "cp1252"
_NA_VALUES = ["", "NA", "NaN", "nan", "null"]
SAMPLE_BYTES = 65536
_TEXT_COLUMN = re.compile(
    r"(?:^|[^a-z])(?:id|ids|isrc|uri)(?:[^a-z]|$)|name|title|artist|album|genre|date", re.IGNORECASE
)


def _check_encoding(name: str, where: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise MappingError(f"{where}: unknown text encoding {name!r} (e.g. utf-8, cp1252, latin-1)") from None


def _decode(data: bytes, encoding: str | None, notes: list[str], source: str) -> tuple[str, str]:
    """The file's text: UTF-8 (a byte-order mark dropped), the given encoding, or the stated fallback."""
    if encoding is not None:
        try:
            return data.decode(_check_encoding(encoding, source)).removeprefix("\ufeff"), encoding
        except UnicodeDecodeError as exc:
            raise DataError(
                f"not valid {encoding} (byte 0x{exc.object[exc.start]:02x} at byte offset {exc.start})",
                source=source,
            ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = f"byte 0x{exc.object[exc.start]:02x} at byte offset {exc.start}"
        try:
            text, used = data.decode(FALLBACK_ENCODING), FALLBACK_ENCODING
        except UnicodeDecodeError:
            text, used = data.decode("latin-1"), "latin-1"
        notes.append(
            f"not valid UTF-8 ({bad}); read as {used} (pass --encoding or set encoding in the "
            "mapping if that is wrong)"
        )
        return text, used
    if text.startswith("\ufeff"):
        notes.append("UTF-8 byte-order mark removed")
        text = text[1:]
    return text, "utf-8"


def _sniff_delimiter(text: str, suffix: str, *, cut: bool = False) -> str:
    """The delimiter that splits the first lines into the same number (> 1) of fields.

    ``cut``: ``text`` is only the start of the file (its last line may be cut short).
    """
    lines = text[:SAMPLE_BYTES].splitlines()[:50]
    sample_cut = cut or len(text) > SAMPLE_BYTES
    if len(lines) > 1 and sample_cut and not text[:SAMPLE_BYTES].endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may cut the last line
    preferred = "\t" if suffix.startswith(".tsv") else ","
    best, best_fields = preferred, 1
    for delimiter in (preferred, *(d for d in DELIMITERS if d != preferred)):
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if not counts or counts[0] < 2:
            continue
        consistent = sum(c == counts[0] for c in counts) >= 0.9 * len(counts)
        if consistent and counts[0] > best_fields:
            best, best_fields = delimiter, counts[0]
    return best


def _drop_truncated_last_line(text: str, delimiter: str, notes: list[str]) -> str:
    """A last line cut short (no line end, fewer fields than the header) is dropped and noted."""
    if not text or text.endswith(("\n", "\r")):
        return text
    head_end = min((i for i in (text.find("\n"), text.find("\r")) if i >= 0), default=-1)
    if head_end < 0:
        return text  # a header only
    cut = max(text.rfind("\n"), text.rfind("\r"))
    header = next(csv.reader([text[:head_end]], delimiter=delimiter))
    last = text[cut + 1 :]
    try:
        fields = next(csv.reader([last], delimiter=delimiter, strict=True))
        complete = len(fields) >= len(header)
    except (csv.Error, StopIteration):
        complete = False
    if complete and last.count('"') % 2 == 0:
        return text
    notes.append(f"last line cut short ({len(last)} characters, no line end): not read")
    return text[: cut + 1]


def _csv_frame(handle: object, sep: str, header_line: str, encoding: str | None = None) -> pd.DataFrame:
    header = next(csv.reader([header_line], delimiter=sep), [])
    return pd.read_csv(
        handle,
        sep=sep,
        # numbers are parsed by the C reader (fast); columns that name or identify keep their text
        # exactly (an id "007" stays "007"); a column with any non-number stays text for the value
        # conventions and the schema to read or report
        dtype={name: object for name in header if _TEXT_COLUMN.search(name)},
        keep_default_na=False,
        na_values=_NA_VALUES,
        encoding=encoding,
        encoding_errors="strict",
    )


def _read_csv(
    path: Path, suffix: str, encoding: str | None, delimiter: str | None, notes: list[str], source: str
) -> tuple[pd.DataFrame, str, str]:
    """Read a CSV: the file straight into the C reader when it is UTF-8 and ends with a line end
    (the common case), else decoded first (another encoding, a cut last line, gzip)."""
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE_BYTES)
        handle.seek(max(0, path.stat().st_size - 1))
        last = handle.read(1)
    plain = not suffix.endswith(".gz") and last in (b"\n", b"\r") and encoding in (None, "utf-8", "utf-8-sig")
    if plain:
        sample = head.decode("utf-8", errors="ignore")
        if not sample.lstrip("\ufeff").strip():
            raise SchemaError([Problem(None, "the file is empty (no header)")], source=source)
        sep = delimiter or _sniff_delimiter(sample.lstrip("\ufeff"), suffix, cut=len(head) == SAMPLE_BYTES)
        try:
            frame = _csv_frame(path, sep, sample.lstrip("\ufeff").splitlines()[0], "utf-8-sig")
        except UnicodeDecodeError:
            pass  # not UTF-8: decoded below, with the fallback stated
        else:
            if head.startswith(codecs.BOM_UTF8):
                notes.append("UTF-8 byte-order mark removed")
            if delimiter is None and sep != ",":
                notes.append(f"delimiter {sep!r} detected")
            return frame, sep, "utf-8"
    data = path.read_bytes()
    if suffix.endswith(".gz"):
        import gzip

        data = gzip.decompress(data)
    text, used_encoding = _decode(data, encoding, notes, source)
    if not text.strip():
        raise SchemaError([Problem(None, "the file is empty (no header)")], source=source)
    sep = delimiter or _sniff_delimiter(text, suffix)
    if delimiter is None and sep != ",":
        notes.append(f"delimiter {sep!r} detected")
    text = _drop_truncated_last_line(text, sep, notes)
    return _csv_frame(io.StringIO(text), sep, text.splitlines()[0] if text else ""), sep, used_encoding


def _read_json_lines(data: bytes, source: str) -> pd.DataFrame:
    try:
        return pd.read_json(io.BytesIO(data), lines=True, dtype=False)
    except ValueError:
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                json.loads(line)
            except ValueError as exc:
                raise DataError(f"line {number} is not valid JSON ({exc.msg})", source=source) from None
        raise DataError(
            "could not read as JSON lines (each line must be one JSON object)", source=source
        ) from None


def read_table(
    path: str | Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    notes: list[str] | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """Read a CSV, TSV, Parquet or JSON-lines file as raw text-preserving columns.

    CSV text is read as UTF-8 (a byte-order mark is dropped); text that is not UTF-8 is
    read as Windows-1252 and the fallback is noted (or give ``encoding``). The delimiter
    (``,`` ``;`` tab ``|``) is detected from the first lines unless given; any line
    end is accepted; a last line cut short is dropped and noted. What reading noticed is
    appended to ``notes``.

    Raises :class:`DataError` naming the file for a missing, empty, undecodable or corrupt file.
    ``-`` is not accepted here; the CLI reads standard input itself.
    """
    path = Path(path)
    source = source or str(path)
    notes = notes if notes is not None else []
    if not path.exists():
        raise DataError("file not found", source=source)
    if path.is_dir():
        raise DataError("is a folder, expected a CSV, Parquet or JSON-lines file", source=source)
    if path.stat().st_size == 0:
        raise SchemaError([Problem(None, "the file is empty (0 bytes)")], source=source)
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif suffix in (".jsonl", ".ndjson", ".jsonl.gz", ".json"):
            data = path.read_bytes()
            if suffix.endswith(".gz"):
                import gzip

                data = gzip.decompress(data)
            frame = _read_json_lines(data, source)
        else:
            frame, sep, used_encoding = _read_csv(path, suffix, encoding, delimiter, notes, source)
    except pd.errors.EmptyDataError:
        raise SchemaError([Problem(None, "the file is empty (no header)")], source=source) from None
    except pd.errors.ParserError as exc:
        raise DataError(f"could not parse as CSV: {exc}", source=source) from None
    except (OSError, ValueError, EOFError) as exc:
        # pyarrow raises ArrowInvalid (a ValueError) or OSError for corrupt Parquet
        kind = "Parquet" if suffix in (".parquet", ".pq") else "JSON lines" if "json" in suffix else "CSV"
        raise DataError(f"could not read as {kind}: {exc}", source=source) from None
    names = [str(c).strip() for c in frame.columns]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    mangled = [c for c in frame.columns if isinstance(c, str) and "." in c and c.rsplit(".", 1)[0] in names
               and c.rsplit(".", 1)[1].isdigit()]
    if duplicated or (mangled and suffix not in (".parquet", ".pq")):
        shown = duplicated or sorted({c.rsplit(".", 1)[0] for c in mangled})
        raise SchemaError(
            [Problem(None, f"column name(s) {', '.join(repr(n) for n in shown)} appear more than once; "
                     "rename or remove the copies")],
            source=source,
        )
    frame.columns = names
    if suffix not in (".parquet", ".pq") and "json" not in suffix:
        frame.attrs.update(encoding=used_encoding, delimiter=sep)
    return frame


def _normalise_text(series: pd.Series) -> pd.Series:
    return (
        series.astype("string")
        .fillna("")
        .str.lower()
        .str.normalize("NFKC")
        .str.replace(r"\s+", " ", regex=True)
        .str.strip()
    )


def derived_track_id(artist: pd.Series, title: pd.Series) -> pd.Series:
    """A stable id for tracks without a Spotify id: ``hl:`` + 16 hex digits.

    It is the start of the sha1 of the normalised artist and title (lower case, Unicode
    NFKC, runs of whitespace folded), joined by a unit separator. The same artist and
    title always give the same id, whatever file or row they come from.

    >>> derived_track_id(pd.Series(["Daft  Punk"]), pd.Series(["One More Time"])).iloc[0]
    'hl:40dcc762d7d4d554'
    """
    keys = _normalise_text(artist) + "\x1f" + _normalise_text(title)
    codes, uniques = pd.factorize(keys)
    ids = np.array(["hl:" + hashlib.sha1(k.encode("utf-8")).hexdigest()[:16] for k in uniques], dtype=object)
    return pd.Series(ids[codes], index=artist.index, dtype="string")


def _join_lists(series: pd.Series) -> pd.Series:
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    joined = np.array([", ".join(schema.parse_label_list(u)) for u in uniques] + [None], dtype=object)
    return pd.Series(joined[codes], index=series.index).replace("", None)


def apply_mapping(
    raw: pd.DataFrame, mapping: Mapping, *, source: str, require: bool = True
) -> pd.DataFrame:
    """Rename mapped source columns to canonical names; keep the others after them.

    Source columns of the mapping's ``optional`` canonical columns (popularity and genres:
    new tracks to score have neither) may be absent; any other absent source column is
    an error naming it, unless ``require`` is false (then it is simply absent).
    """
    missing = [
        (canon, src)
        for canon, src in mapping.columns.items()
        if src not in raw.columns and canon not in mapping.optional and require
    ]
    if missing:
        listed = ", ".join(f"'{src}' (for {canon})" for canon, src in missing)
        raise SchemaError(
            [
                Problem(
                    None,
                    f"mapping '{mapping.name}' needs column(s) {listed}; "
                    f"the file has {', '.join(repr(c) for c in raw.columns)}",
                )
            ],
            source=source,
        )
    present = {canon: src for canon, src in mapping.columns.items() if src in raw.columns}
    used = set(present.values())
    frame = pd.DataFrame({canon: raw[src] for canon, src in present.items()}, index=raw.index)
    for name in mapping.list_columns:
        if name in frame.columns and name != "genres":
            frame[name] = _join_lists(frame[name])
    if mapping.artist_separator != "," and "artist_name" in frame.columns:
        frame["artist_name"] = (
            frame["artist_name"].astype("string").str.replace(mapping.artist_separator, ", ", regex=False)
        )
    for col in raw.columns:
        if col not in used:
            name = col if col not in frame.columns else f"source_{col}"
            frame[name] = raw[col]
    return frame


#: Canonical audio-feature names a file must show (at least this many) to be read as canonical.
MIN_CANONICAL_FEATURES = 3


def _guess_mapping(raw: pd.DataFrame, kind: str, source: str = "") -> Mapping | None:
    """The preset whose source columns all appear in the file (popularity and genres may be
    absent; the most specific preset wins), else None when the columns already carry
    canonical names."""
    cols = set(raw.columns)
    presets = [m for m in list_presets().values() if m.kind == kind]

    def needed(m: Mapping) -> set[str]:
        return {src for canon, src in m.columns.items() if canon not in m.optional}

    def specific(m: Mapping) -> set[str]:  # the preset's own spellings (not canonical names)
        return {src for canon, src in m.columns.items() if src != canon}

    candidates = [m for m in presets if needed(m) <= cols and specific(m) & cols]
    if candidates:
        return max(candidates, key=lambda m: (len(set(m.columns.values()) & cols), len(m.columns)))
    # a file with most of a preset's own spellings is that preset's file, even with columns missing:
    # apply_mapping then names what it lacks (instead of reading it as canonical and losing columns)
    meant = [m for m in presets if specific(m) and len(specific(m) & cols) >= 0.5 * len(specific(m))]
    if meant:
        return max(meant, key=lambda m: len(specific(m) & cols) / len(specific(m)))
    canonical_features = len(set(schema.AUDIO_FEATURES) & cols)
    if (
        kind == "tracks"
        and canonical_features >= MIN_CANONICAL_FEATURES
        and ("track_id" in cols or {"artist_name", "track_name"} <= cols)
    ):
        return None
    if kind == "artists" and "artist_genres" in cols and ({"artist_id", "artist_name"} & cols):
        return None
    where = f"{source}: " if source else ""
    closest = max(presets, key=lambda m: len(needed(m) & cols) / len(needed(m)))
    share = len(needed(closest) & cols) / len(needed(closest))
    if share >= 0.7:
        return closest  # apply_mapping names the columns it lacks
    hint = (
        f"the closest preset, {closest.name!r}, lacks {', '.join(sorted(needed(closest) - cols)[:8])}; "
        if share >= 0.3
        else ""
    )
    raise MappingError(
        f"{where}could not tell how to read this file: its columns match no preset and are not the "
        f"canonical names ({'a track id or artist_name + track_name, and ' if kind == 'tracks' else ''}"
        f"at least {MIN_CANONICAL_FEATURES} audio features such as danceability, energy, tempo). "
        f"Columns: {', '.join(sorted(map(str, cols)))}. {hint}"
        "Write a mapping (`hitlab mapping FILE -o mapping.toml` drafts one) and pass --mapping, "
        "or pass a preset name (see `hitlab presets`)"
    )


def read_tracks(
    path: str | Path,
    mapping: str | Path | Mapping | None = None,
    *,
    check_ranges: bool = True,
    encoding: str | None = None,
    source: str | None = None,
    require_mapped: bool = True,
) -> pd.DataFrame:
    """Read a file into the canonical track table.

    Parameters
    ----------
    path
        A CSV, TSV, Parquet or JSON-lines file.
    mapping
        A preset name, a TOML mapping file, a :class:`Mapping`, or None to detect.
    check_ranges
        Passed to :func:`hitlab.schema.coerce`: False leaves out-of-range values for
        cleaning to drop and count.
    encoding
        The text encoding of a CSV (overrides the mapping's); default: UTF-8, falling
        back to Windows-1252 with a note.
    source
        The name used in messages (default: the path).
    require_mapped
        False lets source columns that the mapping names be absent (they are listed in
        ``attrs["absent_columns"]``); prediction uses this, and asks only for the columns
        its models need.

    The table's ``attrs`` say how it was read: ``mapping`` (its name), ``read`` (the
    mapping as data with the conventions resolved, so that :func:`read_tracks` can read
    new files the same way), ``read_notes`` (what reading noticed and converted) and
    ``absent_columns`` (canonical columns the file does not have).
    """
    source = source or str(path)
    chosen = load_mapping(mapping) if mapping is not None else None
    notes: list[str] = []
    raw = read_table(
        path,
        encoding=encoding or (chosen.encoding if chosen else None),
        delimiter=chosen.delimiter if chosen else None,
        notes=notes,
        source=source,
    )
    return tracks_from_table(
        raw, chosen, check_ranges=check_ranges, source=source, require_mapped=require_mapped, read_notes=notes
    )


def tracks_from_table(
    raw: pd.DataFrame,
    mapping: str | Path | Mapping | None = None,
    *,
    check_ranges: bool = True,
    source: str = "<table>",
    require_mapped: bool = True,
    read_notes: list[str] | None = None,
) -> pd.DataFrame:
    """The canonical track table from a table already read by :func:`read_table`.

    What :func:`read_tracks` does after reading the file, for a caller that has read it
    already (prediction reads a file once, looks at its header, then chooses the mapping).
    ``read_notes`` are what reading noticed; the other parameters are those of
    :func:`read_tracks`. The table's ``attrs`` also list the value conversions as
    dicts (``conversions``: :meth:`~hitlab.datasets.conventions.Conversion.to_dict`).
    """
    chosen = load_mapping(mapping) if mapping is not None else None
    notes = list(read_notes or [])
    if len(raw) == 0:
        raise SchemaError([Problem(None, "the file has a header but no data rows")], source=source)
    if chosen is None:
        chosen = _guess_mapping(raw, "tracks", source)
    if chosen is not None and chosen.kind != "tracks":
        raise MappingError(f"mapping '{chosen.name}' is for an artists table, not tracks")
    frame = (
        apply_mapping(raw, chosen, source=source, require=require_mapped)
        if chosen is not None
        else raw.copy()
    )
    frame, converted = conventions.convert(
        frame,
        chosen.values if chosen else None,
        detect=chosen.detect if chosen else True,
        source=f"mapping '{chosen.name}'" if chosen else source,
    )
    derived = False
    if "track_id" not in frame.columns and {"artist_name", "track_name"} <= set(frame.columns):
        frame.insert(0, "track_id", derived_track_id(frame["artist_name"], frame["track_name"]))
        derived = True
    absent = [
        c for c in schema.NAMES if c not in frame.columns and not (c == "year" and "release_date" in frame)
    ]
    table = schema.coerce(frame, source=source, check_ranges=check_ranges)
    resolved = chosen.to_dict() if chosen is not None else {"columns": {}, "options": {}, "values": {}}
    resolved["name"] = chosen.name if chosen else "canonical"
    resolved["values"] = {**resolved["values"], **{c.column: _convention_name(c) for c in converted
                                                   if c.convention != "thousands separator"}}
    for option in ("encoding", "delimiter"):
        if raw.attrs.get(option):
            resolved["options"][option] = raw.attrs[option]
    table.attrs.update(
        source=source,
        mapping=chosen.name if chosen else "canonical",
        derived_ids=derived,
        read=resolved,
        read_notes=notes + [c.describe() for c in converted],
        conversions=[c.to_dict() for c in converted],
        absent_columns=absent,
    )
    return table


def _convention_name(conversion: conventions.Conversion) -> str:
    return conversion.convention.split(" ")[0]


def read_artists(path: str | Path, mapping: str | Path | Mapping | None = None) -> pd.DataFrame:
    """Read an artists table: ``artist_id`` and/or ``artist_name``, and ``artist_genres`` tuples."""
    source = str(path)
    raw = read_table(path)
    chosen = load_mapping(mapping) if mapping is not None else _guess_mapping(raw, "artists", source)
    if chosen is not None and chosen.kind != "artists":
        raise MappingError(f"mapping '{chosen.name}' is for a tracks table, not artists")
    frame = apply_mapping(raw, chosen, source=source) if chosen is not None else raw
    if "artist_genres" not in frame.columns or not ({"artist_id", "artist_name"} & set(frame.columns)):
        raise SchemaError(
            [Problem(None, "an artists table needs 'artist_genres' and 'artist_id' or 'artist_name'")],
            source=source,
        )
    out = pd.DataFrame(index=frame.index)
    for col in ("artist_id", "artist_name"):
        if col in frame.columns:
            out[col] = frame[col].astype("string").str.strip()
    out["artist_genres"] = schema._coerce_labels(frame["artist_genres"])
    return out
