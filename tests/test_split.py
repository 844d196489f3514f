"""Grouped splits: no track (or artist) on both sides, on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hitlab.errors import ConfigError, DataError
from hitlab.labels import normalize_artist
from hitlab.modeling.split import group_labels, inner_folds, outer_split


@pytest.fixture(scope="module")
def raw_tracks() -> pd.DataFrame:
    """The built-in data before cleaning: the same track id sits in several rows."""
    from hitlab.datasets import load_tidytuesday

    tracks = load_tidytuesday()
    assert tracks["track_id"].duplicated().any()  # the case the grouping exists for
    return tracks


@pytest.mark.parametrize("group_by", ["track", "artist"])
@pytest.mark.parametrize("seed", [0, 42])
def test_no_track_on_both_sides_of_the_outer_split(
    raw_tracks: pd.DataFrame, group_by: str, seed: int
) -> None:
    split = outer_split(raw_tracks, group_by=group_by, test_size=0.33, seed=seed)
    ids = raw_tracks["track_id"].to_numpy(dtype=object)
    assert not set(ids[split.train]) & set(ids[split.test])
    assert np.intersect1d(split.train, split.test).size == 0
    assert split.train.size + split.test.size == len(raw_tracks)
    assert 0.25 < split.test.size / len(raw_tracks) < 0.41


def test_no_artist_on_both_sides_when_grouping_by_artist(clean_tracks: pd.DataFrame) -> None:
    split = outer_split(clean_tracks, group_by="artist", seed=42)
    artists = clean_tracks["artist_name"].map(normalize_artist).to_numpy(dtype=object)
    shared = set(artists[split.train]) & set(artists[split.test])
    assert shared <= {""}  # tracks without an artist fall back to their own track id


def test_the_same_seed_gives_the_same_split_and_another_seed_another(clean_tracks: pd.DataFrame) -> None:
    first, again = outer_split(clean_tracks, seed=7), outer_split(clean_tracks, seed=7)
    other = outer_split(clean_tracks, seed=8)
    assert np.array_equal(first.test, again.test)
    assert not np.array_equal(first.test, other.test)


@pytest.mark.parametrize("group_by", ["track", "artist"])
def test_inner_folds_are_grouped_and_cover_the_training_rows(
    clean_tracks: pd.DataFrame, group_by: str
) -> None:
    split = outer_split(clean_tracks, group_by=group_by, seed=1)
    groups = split.groups[split.train]
    folds = inner_folds(groups, n_splits=3, seed=1)
    assert len(folds) == 3
    validated = np.concatenate([valid for _, valid in folds])
    assert np.array_equal(np.sort(validated), np.arange(len(groups)))
    for fit_rows, valid_rows in folds:
        assert not set(groups[fit_rows]) & set(groups[valid_rows])


def test_stratified_inner_folds_keep_class_shares(clean_tracks: pd.DataFrame) -> None:
    y = clean_tracks["genre"].to_numpy(dtype=object)
    groups = group_labels(clean_tracks, "artist")
    folds = inner_folds(groups, y, n_splits=3, seed=0)
    overall = pd.Series(y).value_counts(normalize=True)
    for fit_rows, valid_rows in folds:
        assert not set(groups[fit_rows]) & set(groups[valid_rows])
        share = pd.Series(y[valid_rows]).value_counts(normalize=True)
        assert (share - overall).abs().max() < 0.05


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"test_size": 0.0}, ConfigError, "test_size must be between 0 and 1"),
        ({"test_size": 1.5}, ConfigError, "test_size must be between 0 and 1"),
        ({"group_by": "album"}, ConfigError, "group_by must be one of track, artist, got 'album'"),
    ],
)
def test_invalid_split_options_are_refused(
    clean_tracks: pd.DataFrame, kwargs: dict, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        outer_split(clean_tracks.head(50), **kwargs)


def test_a_single_group_cannot_be_split(clean_tracks: pd.DataFrame) -> None:
    one_track = pd.concat([clean_tracks.head(1)] * 3)
    with pytest.raises(DataError, match="fewer than two track groups"):
        outer_split(one_track)
    with pytest.raises(DataError, match="1 group\\(s\\) cannot make 3 cross-validation folds"):
        inner_folds(group_labels(one_track), n_splits=3)
