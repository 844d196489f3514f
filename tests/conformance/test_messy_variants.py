"""Messy variants of the built-in data: one per value convention the importer reads, and one with all.

Every variant is GENERATED from 300 real rows of the built-in TidyTuesday table, written the way
public dumps write those values, and must read back to the same canonical values as the
plain file (within the rounding the convention itself implies).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from hitlab.cli import app
from hitlab.datasets import read_tracks
from hitlab.datasets.conventions import UNIT_FEATURES
from hitlab.schema import AUDIO_FEATURES

runner = CliRunner()
NOTE_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F♯", "g", "G#", "A", "B♭", "b"]
FEATURES = list(AUDIO_FEATURES)


@pytest.fixture(scope="module")
def rows(raw_tidytuesday: pd.DataFrame) -> pd.DataFrame:
    def cp1252(row: pd.Series) -> bool:  # rows whose text Windows-1252 can hold (for that variant)
        try:
            "".join(str(v) for v in row).encode("cp1252")
        except UnicodeEncodeError:
            return False
        return True

    frame = raw_tidytuesday.sample(n=400, random_state=3)
    frame = frame[frame.apply(cp1252, axis=1)].head(300).reset_index(drop=True)
    # a time signature column, as the 114k and 600k dumps have (the TidyTuesday table has none)
    frame["time_signature"] = np.resize([4, 4, 3, 4, 5, 4, 1], len(frame))
    return frame


def _plain(rows: pd.DataFrame) -> pd.DataFrame:
    return rows


def _keys(rows):
    out = rows.copy()
    out["key"] = [NOTE_NAMES[k] if k >= 0 else "" for k in rows["key"]]
    return out


def _mode_words(rows):
    out = rows.copy()
    out["mode"] = np.where(rows["mode"] == 1, "Major", "minor")
    return out


def _mode_booleans(rows):
    out = rows.copy()
    out["mode"] = np.where(rows["mode"] == 1, "True", "false")
    return out


def _fractions(rows):
    out = rows.copy()
    out["time_signature"] = [f"{t}/4" for t in rows["time_signature"]]
    return out


def _spreadsheet_dates(rows):
    # 4/4 -> "4-Apr"; 3/4 -> "4-Mar" (month/day) or "3-Apr" (day/month); 5/4 -> "Apr-05"
    shown = {4: "4-Apr", 3: "4-Mar", 5: "Apr-05", 1: "1-Apr"}
    out = rows.copy()
    out["time_signature"] = [shown[t] for t in rows["time_signature"]]
    return out


def _percent(rows):
    out = rows.copy()
    for column in UNIT_FEATURES:
        out[column] = rows[column] * 100
    return out


def _seconds(rows):
    out = rows.copy()
    out["duration_ms"] = rows["duration_ms"] / 1000
    return out


def _minutes(rows):
    out = rows.copy()
    out["duration_ms"] = rows["duration_ms"] / 60_000
    return out


def _mss(rows):
    out = rows.copy()
    seconds = (rows["duration_ms"] / 1000).round().astype(int)
    out["duration_ms"] = [f"{s // 60}:{s % 60:02d}" for s in seconds]
    return out


def _thousands(rows):
    out = rows.copy()
    out["duration_ms"] = [f"{d:,}" for d in rows["duration_ms"]]
    return out


def _empty_labels(rows):
    out = rows.copy()
    out.loc[:4, "playlist_genre"] = ["set()", "[]", "N/A", "none", ""]
    return out


VARIANTS: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], dict]] = {
    "plain": (_plain, {}),
    "note-name keys": (_keys, {}),
    "mode words": (_mode_words, {}),
    "mode booleans": (_mode_booleans, {}),
    "time signature x/4": (_fractions, {}),
    "time signature spreadsheet dates": (_spreadsheet_dates, {}),
    "0-100 scales": (_percent, {}),
    "duration seconds": (_seconds, {}),
    "duration minutes": (_minutes, {}),
    "duration m:ss": (_mss, {"duration_ms": 1000}),
    "thousands separators": (_thousands, {}),
    "empty-label spellings": (_empty_labels, {}),
    "semicolons, BOM, CRLF": (_plain, {"write": ("utf-8-sig", ";", "\r\n")}),
    "Windows-1252 text": (_plain, {"write": ("cp1252", ",", "\n")}),
    "truncated last line": (_plain, {"truncate": True}),
}


def write_variant(
    frame: pd.DataFrame, path: Path, *, encoding="utf-8", sep=",", newline="\n", truncate=False
) -> Path:
    text = frame.to_csv(index=False, sep=sep, lineterminator=newline)
    if truncate:
        text = text[: text.rstrip(newline).rfind(newline) + len(newline) + 30]  # cut inside the last row
    path.write_bytes(text.encode(encoding, errors="strict"))
    return path


def _read(rows, name, tmp_path) -> tuple[pd.DataFrame, dict]:
    make, options = VARIANTS[name]
    frame = make(rows)
    if name == "Windows-1252 text":
        frame = frame.copy()
        frame.loc[0, "track_artist"] = "Beyoncé Knowles – Señor"
    encoding, sep, newline = options.get("write", ("utf-8", ",", "\n"))
    path = write_variant(
        frame,
        tmp_path / "variant.csv",
        encoding=encoding,
        sep=sep,
        newline=newline,
        truncate=options.get("truncate", False),
    )
    return read_tracks(path), options


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_reads_to_the_plain_values(rows, name, tmp_path):
    expected = read_tracks(write_variant(rows, tmp_path / "plain.csv"))
    got, options = _read(rows, name, tmp_path)
    if options.get("truncate"):
        assert len(got) == len(expected) - 1
        assert any("last line cut short" in n for n in got.attrs["read_notes"])
        expected = expected.iloc[:-1]
    assert len(got) == len(expected)
    for column in [*FEATURES, "time_signature", "popularity", "year"]:
        tolerance = options.get(column, 1e-9)
        np.testing.assert_allclose(
            got[column].to_numpy(float, na_value=np.nan),
            expected[column].to_numpy(float, na_value=np.nan),
            atol=tolerance,
            rtol=1e-12,
            equal_nan=True,
            err_msg=f"{name}: {column}",
        )
    if name == "empty-label spellings":
        assert got["genres"].iloc[:5].tolist() == [()] * 5
        assert got["genres"].iloc[5:].tolist() == expected["genres"].iloc[5:].tolist()
    else:
        assert got["genres"].tolist() == expected["genres"].tolist()
    if name == "Windows-1252 text":
        assert got.loc[0, "artist_name"] == "Beyoncé Knowles – Señor"
        assert any("read as cp1252" in n for n in got.attrs["read_notes"])
    if name != "plain" and "text" not in name and "label" not in name:
        assert got.attrs["read_notes"], f"{name}: the conversion is not noted"


def _all_conventions(rows: pd.DataFrame) -> pd.DataFrame:
    frame = rows
    for make in (_keys, _mode_words, _spreadsheet_dates, _percent, _seconds, _empty_labels):
        frame = make(frame)
    # Windows-1252 has no Unicode accidentals: this file writes them as # and b
    frame["key"] = frame["key"].str.replace("♯", "#").str.replace("♭", "b")
    return frame


def test_every_convention_at_once_reads_and_runs(rows, tmp_path):
    expected = read_tracks(write_variant(rows, tmp_path / "plain.csv"))
    messy = _all_conventions(rows)
    messy.loc[0, "track_artist"] = "Beyoncé"
    path = write_variant(
        messy, tmp_path / "messy.csv", encoding="cp1252", sep=";", newline="\r\n", truncate=True
    )
    got = read_tracks(path)
    assert len(got) == len(expected) - 1
    for column in FEATURES:
        np.testing.assert_allclose(
            got[column].to_numpy(float, na_value=np.nan),
            expected[column].iloc[:-1].to_numpy(float, na_value=np.nan),
            rtol=1e-9,
            equal_nan=True,
            err_msg=column,
        )
    out = tmp_path / "runs"
    result = runner.invoke(
        app,
        [
            "run",
            "--data",
            str(path),
            "--quick",
            "--trials",
            "1",
            "--out",
            str(out),
            "--name",
            "messy",
            "--stages",
            "eda,popularity",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "messy" / "cleaning_report.json").read_text())
    assert report["rows_in"] == len(rows) - 1
    noted = " ".join(s["reason"] for s in report["steps"] if s["action"] == "noted")
    for fragment in (
        "key: read as note-name",
        "mode: read as word",
        "time_signature: read as fraction",
        "danceability: read as percent",
        "duration_ms: read as seconds",
        "read as cp1252",
        "delimiter ';' detected",
        "last line cut short",
    ):
        assert fragment in noted, fragment
