"""Grouped splits: no song, track (or artist) on both sides, on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hitlab.errors import ConfigError, DataError
from hitlab.labels import normalize_artist
from hitlab.modeling.split import inner_folds, outer_split
from hitlab.songs import group_labels


@pytest.fixture(scope="module")
def raw_tracks() -> pd.DataFrame:
    """The built-in data before cleaning: the same track id sits in several rows."""
    from hitlab.datasets import load_tidytuesday

    tracks = load_tidytuesday()
    assert tracks["track_id"].duplicated().any()  # the case the grouping exists for
    return tracks


@pytest.mark.parametrize("group_by", ["song", "track", "artist"])
@pytest.mark.parametrize("seed", [0, 42])
def test_no_track_on_both_sides_of_the_outer_split(
    raw_tracks: pd.DataFrame, group_by: str, seed: int
) -> None:
    split = outer_split(group_labels(raw_tracks, group_by), group_by=group_by, test_size=0.33, seed=seed)
    ids = raw_tracks["track_id"].to_numpy(dtype=object)
    assert not set(ids[split.train]) & set(ids[split.test])
    assert np.intersect1d(split.train, split.test).size == 0
    assert split.train.size + split.test.size == len(raw_tracks)
    assert 0.25 < split.test.size / len(raw_tracks) < 0.41


def test_no_artist_on_both_sides_when_grouping_by_artist(clean_tracks: pd.DataFrame) -> None:
    split = outer_split(group_labels(clean_tracks, "artist"), group_by="artist", seed=42)
    artists = clean_tracks["artist_name"].map(normalize_artist).to_numpy(dtype=object)
    shared = set(artists[split.train]) & set(artists[split.test])
    assert shared <= {""}  # tracks without an artist fall back to their own track id


def test_the_same_seed_gives_the_same_split_and_another_seed_another(clean_tracks: pd.DataFrame) -> None:
    groups = group_labels(clean_tracks)
    first, again = outer_split(groups, seed=7), outer_split(groups, seed=7)
    other = outer_split(groups, seed=8)
    assert np.array_equal(first.test, again.test)
    assert not np.array_equal(first.test, other.test)


@pytest.mark.parametrize("group_by", ["song", "track", "artist"])
def test_inner_folds_are_grouped_and_cover_the_training_rows(
    clean_tracks: pd.DataFrame, group_by: str
) -> None:
    split = outer_split(group_labels(clean_tracks, group_by), group_by=group_by, seed=1)
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
    ],
)
def test_invalid_split_options_are_refused(
    clean_tracks: pd.DataFrame, kwargs: dict, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        outer_split(group_labels(clean_tracks.head(50)), **kwargs)


def test_an_unknown_grouping_is_refused(clean_tracks: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="group_by must be one of song, track, artist, got 'album'"):
        group_labels(clean_tracks.head(50), "album")


def test_the_split_takes_labels_not_a_table(clean_tracks: pd.DataFrame) -> None:
    """The modelling package knows no music: grouping a table is the caller's job."""
    with pytest.raises(ConfigError, match="one group label per row, not a table"):
        outer_split(clean_tracks.head(50))


def test_a_single_group_cannot_be_split(clean_tracks: pd.DataFrame) -> None:
    one_track = pd.concat([clean_tracks.head(1)] * 3)
    with pytest.raises(DataError, match="fewer than two track groups"):
        outer_split(group_labels(one_track, "track"), group_by="track")
    with pytest.raises(DataError, match="1 group\\(s\\) cannot make 3 cross-validation folds"):
        inner_folds(group_labels(one_track, "track"), n_splits=3)


def _simple_song_key(tracks: pd.DataFrame) -> np.ndarray:
    """The plainest "same song" rule: normalised artist + lower-cased, trimmed title."""
    titles = tracks["track_name"].astype("string").fillna("").str.lower().str.strip()
    artists = tracks["artist_name"].map(normalize_artist)
    return (artists + " / " + titles).to_numpy(dtype=object)


@pytest.mark.parametrize("seed", [0, 1, 42, 2024])
def test_no_song_on_both_sides_of_any_split_of_the_builtin_data(
    clean_tracks: pd.DataFrame, seed: int
) -> None:
    """Single and album copies of one song (other track ids) stay on one side, and in one inner fold."""
    keys = _simple_song_key(clean_tracks)
    split = outer_split(group_labels(clean_tracks), group_by="song", seed=seed)
    assert not (set(keys[split.train]) & set(keys[split.test])) - {" / "}  # " / ": no artist, no title
    train_keys = keys[split.train]
    for fit_rows, valid_rows in inner_folds(split.groups[split.train], n_splits=3, seed=seed):
        assert not (set(train_keys[fit_rows]) & set(train_keys[valid_rows])) - {" / "}


def test_song_grouping_is_the_default_of_both_tasks(clean_tracks: pd.DataFrame) -> None:
    import inspect

    from hitlab import genre, popularity

    for fit in (popularity.fit, genre.fit):
        assert inspect.signature(fit).parameters["group_by"].default == "song"


def test_group_labels_accept_a_callable_and_check_their_length(clean_tracks: pd.DataFrame) -> None:
    from hitlab.modeling.split import as_groups

    rows = clean_tracks.head(30)
    np.testing.assert_array_equal(as_groups(lambda r: group_labels(r, "artist"), rows),
                                  group_labels(rows, "artist"))
    with pytest.raises(ConfigError, match="got 29 group label\\(s\\) for 30 row\\(s\\)"):
        as_groups(group_labels(rows)[:-1], rows)


def test_grouping_by_artist_without_artist_columns_is_refused(clean_tracks: pd.DataFrame) -> None:
    """Issue 12 item 5: it used to group by track while the manifest said artist."""
    from hitlab import popularity

    no_artist = clean_tracks.head(300).assign(artist_name=pd.NA, artist_id=pd.NA)
    with pytest.raises(ConfigError, match="group_by='artist' needs artist ids or names"):
        group_labels(no_artist, "artist")
    with pytest.raises(ConfigError, match="group_by='artist' needs artist ids or names"):
        popularity.fit(no_artist, group_by="artist", quick=True, n_boot=10)


@pytest.mark.parametrize("n_splits", [2, 3, 5])
def test_stratified_inner_folds_are_scikit_learns_folds(tracks_slice: pd.DataFrame, n_splits: int) -> None:
    """The vectorised StratifiedGroupKFold makes exactly scikit-learn's folds (songs; random labels)."""
    from sklearn.model_selection import StratifiedGroupKFold

    rng = np.random.default_rng(n_splits)
    rows = tracks_slice[tracks_slice["genre"].notna()]
    cases = [(group_labels(rows, "song"), rows["genre"].astype(str).to_numpy()),
             (rng.integers(0, 400, 3000), rng.integers(0, 24, 3000))]
    for groups, y in cases:
        for seed in (0, 42):
            ours = inner_folds(groups, y, n_splits=n_splits, seed=seed)
            theirs = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed).split(groups, y, groups)
            for (fit_a, valid_a), (fit_b, valid_b) in zip(ours, theirs, strict=True):
                np.testing.assert_array_equal(fit_a, fit_b)
                np.testing.assert_array_equal(valid_a, valid_b)
