"""The same song under several track ids: the title rule, the song ids, the cleaning step."""

from __future__ import annotations

import pandas as pd
import pytest

from hitlab.songs import find_songs, group_labels, song_keys, title_key


@pytest.mark.parametrize(
    ("a", "b"),
    [  # another release of the same recording: the same song (titles from the built-in data)
        ("Dancing Queen", "Dancing Queen - Remastered 2011"),
        ("Song 2", "Song 2 - 2012 Remaster"),
        ("Uptown Funk", "Uptown Funk - Radio Edit"),
        ("Gimme Shelter", "Gimme Shelter - Mono"),
        ("Electricity", "Electricity - 2003 Digital Remaster"),
        ("Strip That Down", "Strip That Down (feat. Quavo)"),
        ("Without You", "Without You - Remastered"),
        ("Remember The Time", "Remember the Time"),
        ("Gold Skies", "Gold Skies - Original Mix"),
        ("Let It Go", "Let It Go (Single Version)"),
        ("Stay The Night", "Stay The Night - Featuring Hayley Williams Of Paramore"),
    ],
)
def test_release_markers_do_not_make_another_song(a: str, b: str) -> None:
    assert title_key(a) == title_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [  # another performance or arrangement: a different song
        ("Wake Me Up", "Wake Me Up - Avicii Remix"),
        ("Titanium", "Titanium - Club Mix"),
        ("Hotel California", "Hotel California - Live"),
        ("Hotel California", "Hotel California - Live; 2013 Remaster"),
        ("Despacito", "Despacito - Ao Vivo"),
        ("Photograph", "Photograph (Acoustic Version)"),
        ("Layla", "Layla - Unplugged"),
        ("Clocks", "Clocks - Instrumental"),
        ("Love Story", "Love Story (Taylor's Version)"),
        ("Mi Gente", "Mi Gente - English Version"),
        ("Animals", "Animals - Martin Garrix Remix Radio Edit"),
    ],
)
def test_performance_markers_keep_versions_apart(a: str, b: str) -> None:
    assert title_key(a) != title_key(b)


def test_song_keys_join_names_isrc_and_track_ids() -> None:
    tracks = pd.DataFrame({
        "track_id": ["a", "b", "c", "d", "e", "a"],
        "track_name": ["Hey Jude", "Hey Jude - Remastered 2015", "Hey Jude - Live", None, "Other", None],
        "artist_name": ["The Beatles", "the  beatles", "The Beatles", None, "X", None],
        "isrc": [None, None, "GBAYE0601690", "gbaye0601690", None, None],
    })
    keys = song_keys(tracks)
    assert keys[0] == keys[1] == keys[5]  # same name key; the same track id
    assert keys[2] == keys[3] != keys[0]  # a live version, joined to a nameless row by its ISRC
    assert keys[4] not in set(keys[:4])


def test_cleaning_adds_song_ids_and_counts_them_without_dropping(clean_tracks: pd.DataFrame) -> None:
    from hitlab import clean
    from hitlab.datasets import load_tidytuesday

    result = clean(load_tidytuesday())
    step = next(s for s in result.report.steps if s.step == "same song, several track ids")
    assert step.action == "kept" and step.examples
    tracks = result.tracks
    assert tracks["song_id"].notna().all()
    sizes = tracks.groupby("song_id")["track_id"].transform("size")
    assert step.rows == int((sizes > 1).sum()) > 3000
    assert "songs released under several track ids" in step.reason
    assert result.report.rows_out == len(tracks)  # nothing dropped by this step
    _, report = find_songs(tracks)
    assert report.songs == tracks["song_id"].nunique() < len(tracks)
    # the splits use the cleaning's song ids as they are
    assert (group_labels(tracks, "song") == tracks["song_id"].to_numpy(dtype=object)).all()


def test_rows_without_a_song_key_are_their_own_group_and_noted(clean_tracks: pd.DataFrame) -> None:
    from hitlab.songs import grouping_note

    rows = clean_tracks.head(40).copy()
    rows.loc[rows.index[:3], "track_name"] = pd.NA
    keys = group_labels(rows.drop(columns=["song_id"]), "song")
    assert all(str(k).startswith("t:") for k in keys[:3]) and len(set(keys[:3])) == 3
    assert grouping_note(rows, "song") == (
        "3 of 40 tracks lack an artist and title (or an ISRC): each is its own song group in the split")
    assert grouping_note(clean_tracks.head(40), "song") is None
