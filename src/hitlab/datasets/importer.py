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

import hashlib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from hitlab import schema
from hitlab.errors import DataError, MappingError, Problem, SchemaError

__all__ = [
    "Mapping",
    "derived_track_id",
    "list_presets",
    "load_mapping",
    "read_artists",
    "read_table",
    "read_tracks",
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
        return cls(
            name=name,
            columns={str(k): str(v) for k, v in columns.items()},
            description=str(data.get("description", "")),
            kind=kind,
            artist_separator=str(options.get("artist_separator", ",")),
            list_columns=tuple(options.get("list_columns", ())),
        )


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


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV, Parquet or JSON-lines file as raw text-preserving columns.

    Raises :class:`DataError` naming the file for a missing, empty, undecodable or corrupt file.
    ``-`` is not accepted here; the CLI reads standard input itself.
    """
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", source=str(path))
    if path.is_dir():
        raise DataError("is a folder, expected a CSV, Parquet or JSON-lines file", source=str(path))
    if path.stat().st_size == 0:
        raise SchemaError([Problem(None, "the file is empty (0 bytes)")], source=str(path))
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif suffix in (".jsonl", ".ndjson", ".jsonl.gz"):
            frame = pd.read_json(path, lines=True, dtype=False)
        else:
            sep = "\t" if suffix in (".tsv", ".tsv.gz") else ","
            frame = pd.read_csv(
                path,
                sep=sep,
                dtype=str,
                keep_default_na=False,
                na_values=["", "NA", "NaN", "nan", "null"],
                encoding="utf-8",
                encoding_errors="strict",
            )
    except UnicodeDecodeError as exc:
        raise DataError(
            f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at byte offset {exc.start}); "
            "re-save the file as UTF-8",
            source=str(path),
        ) from None
    except pd.errors.EmptyDataError:
        raise SchemaError([Problem(None, "the file is empty (no header)")], source=str(path)) from None
    except pd.errors.ParserError as exc:
        raise DataError(f"could not parse as CSV: {exc}", source=str(path)) from None
    except (OSError, ValueError) as exc:
        # pyarrow raises ArrowInvalid (a ValueError) or OSError for corrupt Parquet
        kind = "Parquet" if suffix in (".parquet", ".pq") else "JSON lines" if "json" in suffix else "CSV"
        raise DataError(f"could not read as {kind}: {exc}", source=str(path)) from None
    frame.columns = [str(c).strip() for c in frame.columns]
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


def apply_mapping(raw: pd.DataFrame, mapping: Mapping, *, source: str) -> pd.DataFrame:
    """Rename mapped source columns to canonical names; keep the others after them."""
    missing = [(canon, src) for canon, src in mapping.columns.items() if src not in raw.columns]
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
    used = set(mapping.columns.values())
    frame = pd.DataFrame({canon: raw[src] for canon, src in mapping.columns.items()}, index=raw.index)
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


def _guess_mapping(raw: pd.DataFrame, kind: str) -> Mapping | None:
    """The preset whose source columns all appear in the file (the most specific one),
    else None when the columns already carry canonical names."""
    cols = set(raw.columns)
    candidates = [m for m in list_presets().values() if m.kind == kind and set(m.columns.values()) <= cols]
    if candidates:
        return max(candidates, key=lambda m: len(m.columns))
    if (
        kind == "tracks"
        and set(schema.REQUIRED) - {"track_id"} <= cols
        and ("track_id" in cols or {"artist_name", "track_name"} <= cols)
    ):
        return None
    if kind == "artists" and "artist_genres" in cols and ({"artist_id", "artist_name"} & cols):
        return None
    presets = [m for m in list_presets().values() if m.kind == kind]
    closest = max(presets, key=lambda m: len(set(m.columns.values()) & cols) / len(m.columns))
    if len(set(closest.columns.values()) & cols) >= 0.7 * len(closest.columns):
        return closest  # apply_mapping names the columns it lacks
    raise MappingError(
        "could not tell how to read this file: its columns match no preset and are not the "
        f"canonical names. Columns: {', '.join(sorted(cols))}. Pass --mapping PRESET or a TOML file "
        "(see docs/schema.md)"
    )


def read_tracks(
    path: str | Path,
    mapping: str | Path | Mapping | None = None,
    *,
    check_ranges: bool = True,
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
    """
    source = str(path)
    raw = read_table(path)
    if len(raw) == 0:
        raise SchemaError([Problem(None, "the file has a header but no data rows")], source=source)
    chosen = load_mapping(mapping) if mapping is not None else _guess_mapping(raw, "tracks")
    if chosen is not None and chosen.kind != "tracks":
        raise MappingError(f"mapping '{chosen.name}' is for an artists table, not tracks")
    frame = apply_mapping(raw, chosen, source=source) if chosen is not None else raw
    derived = False
    if "track_id" not in frame.columns and {"artist_name", "track_name"} <= set(frame.columns):
        frame.insert(0, "track_id", derived_track_id(frame["artist_name"], frame["track_name"]))
        derived = True
    table = schema.coerce(frame, source=source, check_ranges=check_ranges)
    table.attrs.update(source=source, mapping=chosen.name if chosen else "canonical", derived_ids=derived)
    return table


def read_artists(path: str | Path, mapping: str | Path | Mapping | None = None) -> pd.DataFrame:
    """Read an artists table: ``artist_id`` and/or ``artist_name``, and ``artist_genres`` tuples."""
    source = str(path)
    raw = read_table(path)
    chosen = load_mapping(mapping) if mapping is not None else _guess_mapping(raw, "artists")
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
