"""Tag normalisation, the artist-tag join and main genres, on the real shared tables."""

from __future__ import annotations

import pandas as pd
import pytest

from hitlab.datasets import read_artists
from hitlab.errors import ConfigError
from hitlab.labels import attach_artist_tags, label_tracks, main_genre, normalize_artist, normalize_tag


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("hip hop", "hiphop"),
        ("Hip-Hop", "hiphop"),
        ("hiphop", "hiphop"),
        ("r&b", "r&b"),
        ("RnB", "r&b"),
        ("r and b", "r&b"),
        ("alternative r&b", "alternative r&b"),
        ("  Dance   Pop ", "dance pop"),
    ],
)
def test_normalize_tag(tag, expected):
    assert normalize_tag(tag) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ed Sheeran feat. Justin Bieber", "ed sheeran"),
        ("  THE  Weeknd ", "the weeknd"),
        ("Drake (ft. Rihanna)", "drake"),
        ("Beyoncé", "beyoncé"),
    ],
)
def test_normalize_artist(name, expected):
    assert normalize_artist(name) == expected


def test_main_genre_counts_words_and_breaks_ties_by_vocabulary_order():
    tags = pd.Series(
        [
            ("dance pop", "pop", "pop rap"),  # pop 3
            ("hip hop", "rap", "southern hip-hop"),  # hiphop 2
            ("indie rock", "indie folk", "rock"),  # indie 2, rock 2: tie, rock listed first
            ("jazz",),  # none
        ]
    )
    genre, tie = main_genre(tags)
    assert genre.tolist() == ["pop", "hiphop", "rock", pd.NA]
    assert tie.tolist() == [False, False, True, False]
    genre, _ = main_genre(tags, ["indie", "rock"])
    assert genre.iloc[2] == "indie"


def test_empty_vocabulary_is_refused():
    with pytest.raises(ConfigError, match="vocabulary is empty"):
        main_genre(pd.Series([("pop",)]), [])


@pytest.fixture(scope="module")
def tagged(clean_tracks, artists_file):
    return attach_artist_tags(clean_tracks, read_artists(artists_file))


def test_tag_join_matches_most_tracks_by_name(tagged):
    tracks, report = tagged
    assert report.by_id == 0  # TidyTuesday has no artist ids
    assert report.by_name + report.by_name_part + report.unmatched == len(tracks) == 28_354
    assert 17_000 <= report.by_name + report.by_name_part <= 17_800
    assert report.with_tags == (tracks["artist_genres"].map(len) > 0).sum()
    ed = tracks.loc[tracks["artist_name"] == "Ed Sheeran", "artist_genres"].iloc[0]
    assert "pop" in ed


def test_tag_join_by_id_wins_over_name(clean_tracks):
    tracks = clean_tracks.head(3).copy()
    tracks["artist_id"] = ["A1", "A2", None]
    artists = pd.DataFrame(
        {"artist_id": ["A1", "A2"], "artist_name": ["x", "y"], "artist_genres": [("rock",), ("country",)]}
    )
    out, report = attach_artist_tags(tracks, artists)
    assert out["artist_genres"].tolist()[:2] == [("rock",), ("country",)]
    assert report.by_id == 2 and report.unmatched == 1


def test_tags_scheme_counts(tagged):
    tracks, _ = tagged
    labelled, report = label_tracks(tracks, "tags")
    assert set(report.counts) == {"pop", "country", "hiphop", "rock", "indie", "house", "r&b"}
    assert sum(report.counts.values()) + report.unlabelled == len(tracks)
    assert report.counts["pop"] == max(report.counts.values())
    assert 0 < report.ties < sum(report.counts.values())
    assert (labelled["genres"].map(len) == labelled["genre"].notna()).all()
    _top3, report3 = label_tracks(tracks, "tags", top_n=3)
    assert len(report3.counts) == 3
    assert report3.unlabelled > report.unlabelled


def test_playlist_scheme_first_label_and_multi_label_count(clean_tracks):
    labelled, report = label_tracks(clean_tracks, "playlist")
    assert report.multi_label == 1_687
    assert set(report.counts) == {"edm", "latin", "pop", "r&b", "rap", "rock"}
    assert (labelled["genre"] == labelled["genres"].str[0]).all()
