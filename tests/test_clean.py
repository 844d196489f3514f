"""Cleaning on the real built-in data and on targeted edits of it."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hitlab import clean
from hitlab.datasets import load_tidytuesday
from hitlab.schema import coerce


@pytest.fixture(scope="module")
def result():
    return clean(load_tidytuesday())


def _step(report, name):
    return next(s for s in report.steps if s.step == name)


def test_builtin_dedupes_to_one_row_per_track(result, shared_data):
    raw = pd.read_parquet(shared_data / "tidytuesday-2020" / "spotify_songs.parquet")
    assert raw["track_id"].nunique() == 28_356
    merged = _step(result.report, "same track, several rows")
    assert merged.rows == len(raw) - 28_356 == 4_477
    # after the merge, 2 tracks are dropped (one zero tempo, one 4-second track)
    assert len(result.tracks) == 28_356 - 2
    assert result.tracks["track_id"].is_unique


def test_multi_genre_tracks_carry_the_union(result, shared_data):
    raw = pd.read_parquet(shared_data / "tidytuesday-2020" / "spotify_songs.parquet")
    expected = raw.groupby("track_id")["playlist_genre"].agg(lambda s: set(s))
    multi = result.tracks[result.tracks["genres"].map(len) > 1]
    assert len(multi) == 1_687
    for track_id, labels in zip(multi["track_id"].head(200), multi["genres"].head(200), strict=True):
        assert set(labels) == expected[track_id]
    # the first label is the one of the track's first row in the file
    first = raw.drop_duplicates("track_id").set_index("track_id")["playlist_genre"]
    assert (multi.set_index("track_id")["genres"].str[0] == first[multi["track_id"]]).all()


def test_every_row_is_accounted_for(result):
    report = result.report
    assert report.rows_in == 32_833
    assert report.rows_out + report.rows_dropped == report.rows_in
    assert _step(report, "zero tempo").rows == 1
    assert _step(report, "implausible duration").rows == 1
    data = json.loads(report.to_json())
    assert [s["step"] for s in data["steps"]][:2] == ["exact duplicates", "same track, several rows"]


def test_exact_duplicates_missing_and_out_of_range_are_counted(raw_tidytuesday):
    from hitlab.datasets.importer import apply_mapping, load_mapping

    raw = raw_tidytuesday.head(100).copy()
    raw = pd.concat([raw, raw.iloc[[0, 1]]], ignore_index=True)  # 2 exact duplicates
    raw.loc[10, "valence"] = None  # missing feature
    raw.loc[11, "danceability"] = 1.7  # out of range, deferred to cleaning
    raw.loc[12, "duration_ms"] = 3_600_000  # an hour: implausible
    table = coerce(apply_mapping(raw, load_mapping("tidytuesday"), source="x"), check_ranges=False)
    report = clean(table).report
    assert _step(report, "exact duplicates").rows == 2
    assert _step(report, "missing audio features").rows == 1
    assert _step(report, "out-of-range danceability").rows == 1
    assert _step(report, "implausible duration").rows == 1
    assert report.rows_out == 100 - 3 - len(raw.head(100)) + raw.head(100)["track_id"].nunique()


def test_same_input_gives_same_output(result):
    again = clean(load_tidytuesday())
    pd.testing.assert_frame_equal(again.tracks, result.tracks)
    assert again.report.to_dict() == result.report.to_dict()
