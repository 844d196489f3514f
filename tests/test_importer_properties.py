"""Property-based: any generated table gives a canonical table or one clear HitlabError naming the file.

Tables are generated with random column subsets (canonical names, public-dump spellings and
junk), cell types (numbers, text, note names, fractions, thousands separators, empty-label
spellings, non-ASCII text), encodings, delimiters, line ends, truncation, and formats (CSV and
JSON lines). Reading, and cleaning what was read, may only ever raise a HitlabError.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitlab import clean, schema
from hitlab.datasets import read_tracks
from hitlab.datasets.conventions import UNIT_FEATURES
from hitlab.errors import HitlabError

HEADERS = [
    *schema.NAMES,
    "Title",
    "Artist",
    "Top Genre",
    "bpm",
    "nrgy",
    "dnce",
    "dB",
    "dur",
    "pop",
    "track_popularity",
    "playlist_genre",
    "track_artist",
    "Unnamed: 0",
    "x",
    "tempo ",
    "",
]
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(str),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.sampled_from(
        [
            "",
            "NA",
            "set()",
            "[]",
            "none",
            "C#",
            "E♭",
            "Major",
            "minor",
            "4/4",
            "4-Apr",
            "3:45",
            "1,412",
            "True",
            "['pop', 'rock']",
            "rock, pop",
            "é",
            '"',
            "'",
            ";",
            "\t",
            "0.5",
            "-1",
        ]
    ),
    st.text(alphabet=st.characters(max_codepoint=0x24F, exclude_categories=("Cs",)), max_size=8),
)


UNIT = st.floats(min_value=0, max_value=1).map(lambda v: f"{v:.3f}")
PLAUSIBLE = {
    "track_id": st.text(alphabet="abcdefXYZ0123", min_size=1, max_size=6),
    "track_name": st.text(max_size=6),
    "artist_name": st.sampled_from(["A", "B, C", "Beyoncé", "", "D & E"]),
    "popularity": st.integers(min_value=0, max_value=100).map(str),
    "year": st.integers(min_value=1950, max_value=2021).map(str),
    "release_date": st.sampled_from(["2019-05-01", "2019-05", "1999", "", "bad"]),
    "genres": st.sampled_from(["pop", "rock", "set()", "['pop', 'rock']", "", "N/A", "album rock"]),
    "key": st.sampled_from(["0", "5", "11", "-1", "C#", "Eb", "", "H"]),
    "mode": st.sampled_from(["0", "1", "Major", "minor", "", "maybe"]),
    "time_signature": st.sampled_from(["4", "3", "4/4", "4-Apr", "", "12"]),
    "loudness": st.floats(min_value=-40, max_value=0).map(lambda v: f"{v:.2f}"),
    "tempo": st.floats(min_value=0, max_value=220).map(lambda v: f"{v:.1f}"),
    "duration_ms": st.sampled_from(["210000", "215", "3:35", "1,412", "3.5", "", "0"]),
    **{name: UNIT for name in UNIT_FEATURES},
}


@st.composite
def tables(draw) -> dict:
    plausible = draw(st.booleans())
    if plausible:  # near-valid canonical tables, some cells corrupted: these reach coerce and clean
        names = draw(st.lists(st.sampled_from(list(PLAUSIBLE)), min_size=4, max_size=16, unique=True))
        names += [n for n in ("track_id", "danceability", "energy", "tempo") if n not in names]
        n_rows = draw(st.integers(min_value=1, max_value=8))
        rows = [
            [draw(CELLS) if draw(st.integers(0, 40)) == 0 else draw(PLAUSIBLE[n]) for n in names]
            for _ in range(n_rows)
        ]
    else:
        names = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=12))
        n_rows = draw(st.integers(min_value=0, max_value=6))
        rows = [[draw(CELLS) for _ in names] for _ in range(n_rows)]
    return {
        "names": names,
        "rows": rows,
        "format": draw(st.sampled_from(["csv", "csv", "csv", "jsonl"])),
        "delimiter": draw(st.sampled_from([",", ";", "\t", "|"])),
        "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1"])),
        "newline": draw(st.sampled_from(["\n", "\r\n"])),
        "cut": draw(st.sampled_from([None, None, None, "cut"]))
        and draw(st.integers(min_value=0, max_value=400)),
    }


def _csv_text(table: dict) -> str:
    d = table["delimiter"]

    def cell(value: str) -> str:
        if any(ch in value for ch in (d, '"', "\n", "\r")):
            return '"' + value.replace('"', '""') + '"'
        return value

    lines = [d.join(cell(c) for c in table["names"])]
    lines += [d.join(cell(c) for c in row) for row in table["rows"]]
    return table["newline"].join(lines) + table["newline"]


def _write(table: dict, folder: Path) -> Path:
    if table["format"] == "jsonl":
        path = folder / "tracks.jsonl"
        records = [dict(zip(table["names"], row, strict=True)) for row in table["rows"]]
        data = "".join(json.dumps(r) + "\n" for r in records).encode("utf-8")
    else:
        path = folder / "tracks.csv"
        data = _csv_text(table).encode(table["encoding"], errors="replace")
    if table["cut"] is not None:
        data = data[: table["cut"]]
    path.write_bytes(data)
    return path


def _check_canonical(tracks: pd.DataFrame) -> None:
    assert list(tracks.columns[: len(schema.NAMES)]) == list(schema.NAMES)
    for column in schema.COLUMNS:
        values = tracks[column.name]
        if column.kind == "int":
            assert str(values.dtype) == "Int64", column.name
        elif column.kind == "float":
            assert str(values.dtype) == "Float64", column.name
        elif column.kind == "labels":
            assert all(isinstance(v, tuple) for v in values), column.name
    assert tracks["track_id"].notna().all()


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_generated_tables_give_a_canonical_table_or_one_clear_error(table):
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(table, Path(tmp))
        try:
            tracks = read_tracks(path)
        except HitlabError as exc:
            assert path.name in str(exc) or "mapping" in str(exc), str(exc)
            return
        _check_canonical(tracks)
        try:
            result = clean(tracks)
        except HitlabError as exc:
            assert path.name in str(exc), str(exc)
            return
        _check_canonical(result.tracks)
        result.report.check()
