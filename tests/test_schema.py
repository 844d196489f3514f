"""The canonical schema: coercion, and one clear error per kind of bad input."""

from __future__ import annotations

import pandas as pd
import pytest

from hitlab.errors import SchemaError
from hitlab.schema import AUDIO_FEATURES, NAMES, coerce, parse_label_list, year_from_dates


def _good_rows(n: int = 3) -> pd.DataFrame:
    base = {c: [0.5] * n for c in AUDIO_FEATURES}
    base.update(key=[1] * n, mode=[1] * n, loudness=[-5.0] * n, tempo=[120.0] * n, duration_ms=[200_000] * n)
    return pd.DataFrame({"track_id": [f"t{i}" for i in range(n)], **base})


def test_coerce_gives_every_canonical_column_with_its_dtype():
    table = coerce(_good_rows())
    assert list(table.columns[: len(NAMES)]) == list(NAMES)
    assert str(table["key"].dtype) == "Int64"
    assert str(table["danceability"].dtype) == "Float64"
    assert table["genres"].tolist() == [(), (), ()]


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("tempo", "abc", r"column 'tempo': expected a number, got 'abc' at row 2"),
        (
            "danceability",
            1.7,
            r"column 'danceability': value\(s\) 1.7 outside the allowed range 0..1 at row 2",
        ),
        ("key", 12, r"column 'key': value\(s\) 12 outside the allowed range -1..11"),
        ("mode", 0.5, r"column 'mode': expected a whole number at row 2"),
        ("track_id", "", r"column 'track_id': empty track id at row 2"),
    ],
)
def test_bad_values_name_file_column_and_row(column, value, match):
    rows = _good_rows().astype(object)
    rows.loc[1, column] = value
    with pytest.raises(SchemaError, match=match) as info:
        coerce(rows, source="my.csv")
    assert str(info.value).startswith("my.csv: ")


def test_all_problems_are_collected_and_raised_once():
    rows = _good_rows().astype(object)
    rows.loc[0, "tempo"] = "fast"
    rows.loc[2, "valence"] = -1
    with pytest.raises(SchemaError, match="2 problems") as info:
        coerce(rows, source="x.csv")
    assert {p.column for p in info.value.problems} == {"tempo", "valence"}


def test_missing_required_column_is_named():
    with pytest.raises(SchemaError, match=r"missing required column\(s\) 'track_id'"):
        coerce(_good_rows().drop(columns="track_id"), source="x.csv")


def test_audio_features_are_optional_but_one_is_needed():
    table = coerce(_good_rows().drop(columns=["tempo", "key", "mode"]), source="x.csv")
    assert table["tempo"].isna().all()
    features = [c for c in AUDIO_FEATURES if c in _good_rows().columns]
    with pytest.raises(SchemaError, match="no audio feature column"):
        coerce(_good_rows().drop(columns=features), source="x.csv")


def test_huge_whole_numbers_are_reported_as_written():
    rows = _good_rows()
    rows["year"] = 2000.0
    rows.loc[0, "year"] = 1e22
    with pytest.raises(SchemaError, match=r"column 'year': value\(s\) 1e\+22 are not plausible at row 1"):
        coerce(rows, source="x.csv")
    table = coerce(rows, check_ranges=False)
    assert table.loc[0, "year"] > 2100  # kept out of range, for cleaning to drop


def test_range_checks_can_be_deferred_to_cleaning():
    rows = _good_rows()
    rows.loc[0, "danceability"] = 1.7
    table = coerce(rows, check_ranges=False)
    assert table.loc[0, "danceability"] == 1.7


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("rock, pop", ("rock", "pop")),
        ("rock; pop | edm", ("rock", "pop", "edm")),
        ("['dance pop', 'pop']", ("dance pop", "pop")),
        ("[]", ()),
        ("", ()),
        (None, ()),
        (["a", "a", "b"], ("a", "b")),
    ],
)
def test_parse_label_list(value, expected):
    assert parse_label_list(value) == expected


def test_year_from_full_partial_and_bare_dates():
    years = year_from_dates(pd.Series(["2019-05-01", "2019-05", "1999", None, "unknown"]))
    assert years.tolist() == [2019, 2019, 1999, pd.NA, pd.NA]
