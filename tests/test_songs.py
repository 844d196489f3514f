"""The same song under several track ids: the title rule, the song ids, the cleaning step."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_accents_and_same_audio_under_other_credits_are_one_song() -> None:
    """Pairs from the built-in data that sat on both sides of the split before this rule."""
    from hitlab.schema import AUDIO_FEATURES

    audio = {c: [0.5, 0.5, 0.7, 0.7, 0.9, 0.9, 0.3, 0.3] for c in AUDIO_FEATURES}
    tracks = pd.DataFrame({
        "track_id": list("abcdefgh"),
        "track_name": ["Quizás, Quizás, Quizás", "Quizas, Quizas, Quizas", "Boy Oh Boy", "Boy Oh Boy",
                       "I'll Do For U", "I'll Do 4 U", "Torrent", "Crystal"],
        "artist_name": ["Andrea Bocelli", "Andrea Bocelli", "Diplo", "Good Times Ahead",
                        "Father Dude", "Father Dude", "Sidney Samson", "Someone Else"],
        **audio,
    })
    keys = song_keys(tracks)
    assert keys[0] == keys[1]  # accents folded
    assert keys[2] == keys[3]  # the same recording credited to another artist
    assert keys[4] == keys[5]  # the same recording titled another way
    assert keys[6] != keys[7]  # the same audio but neither artist nor title: kept apart
    assert len({keys[0], keys[2], keys[4], keys[6]}) == 4
    # with fewer than six audio columns the audio is no fingerprint
    few = tracks.drop(columns=list(AUDIO_FEATURES[5:]))
    assert song_keys(few)[2] != song_keys(few)[3]
    # nor is a row with a missing feature
    gap = tracks.copy()
    gap.loc[3, "tempo"] = None
    assert song_keys(gap)[2] != song_keys(gap)[3]


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


# --------------------------------------------------------------------------- against plain references

_NAMES = ["Hey Jude", "hey jude", "Hey Jude - Remastered 2015", "Hey Jude (Live)", "Señorita (feat. X)",
          "Señorita", "Senorita", "A-ha", "[Intro]", "（Radio Edit）", "Song - Single Version", "", None]
_ARTISTS = ["The Beatles", "the beatles", "Shawn", "ABBA", "abba", "Tiësto", "Tiesto", "", None]
#: audio fingerprints for the reference test: None is a row with a missing feature
_AUDIO = [0.1, 0.2, 0.3, None]


def _title_key_reference(title: object) -> str:
    """title_key as it was before its fast path: every title through both regular expressions."""
    import unicodedata

    from hitlab import songs

    if title is None or title is pd.NA or (isinstance(title, float) and title != title):
        return ""
    text = songs._FEAT.sub("", unicodedata.normalize("NFKC", str(title)).strip()).strip()
    while (found := songs._TRAILING.search(text)) is not None:
        marker = next(g for g in found.groups() if g is not None)
        if not songs._is_release_marker(marker) or found.start() == 0:
            break
        text = text[: found.start()].rstrip()
    return " ".join(songs._WORD.findall(text.lower()))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=30), st.sampled_from([n for n in _NAMES if n is not None])))
def test_title_key_takes_its_fast_path_only_where_it_changes_nothing(title: str) -> None:
    assert title_key(title) == _title_key_reference(title)


def _song_keys_reference(tracks: pd.DataFrame) -> list[str]:
    """The module rule row by row: rows joined by an artist + title key (accents folded), an
    ISRC, a track id, or the same complete audio (every audio column, at least six) with the
    same artist or title, are one song; its id is the smallest named key, else the smallest
    track-id key."""
    import unicodedata

    from hitlab.labels import normalize_artist
    from hitlab.schema import AUDIO_FEATURES

    def text(value: object) -> str:
        return "" if value is None or pd.isna(value) else str(value).strip()

    def plain(value: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c))

    n = len(tracks)
    artists = [plain(normalize_artist(None if a is None or pd.isna(a) else a)) for a in tracks["artist_name"]]
    titles = [plain(title_key(None if t is None or pd.isna(t) else t)) for t in tracks["track_name"]]
    names = [f"{a} / {t}" if a and t else "" for a, t in zip(artists, titles, strict=True)]
    isrc = [text(v).upper() for v in tracks["isrc"]]
    ids = [text(v) for v in tracks["track_id"]]
    audio_columns = [c for c in AUDIO_FEATURES if c in tracks.columns]
    audio = [tuple(row) if len(audio_columns) >= 6 and not any(pd.isna(v) for v in row) else None
             for row in tracks[audio_columns].itertuples(index=False)]
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for keys in (names, isrc, ids):
        for i in range(n):
            for j in range(i):
                if keys[i] and keys[i] == keys[j]:
                    parent[root(i)] = root(j)
    for i in range(n):
        for j in range(i):
            if audio[i] is not None and audio[i] == audio[j] and (
                    (artists[i] and artists[i] == artists[j]) or (titles[i] and titles[i] == titles[j])):
                parent[root(i)] = root(j)
    labels = [f"s:{names[i]}" if names[i] else f"t:{ids[i]}" for i in range(n)]
    best: dict[int, str] = {}
    for i in range(n):
        r, label = root(i), labels[i]
        if r not in best or (label.startswith("t:"), label) < (best[r].startswith("t:"), best[r]):
            best[r] = label
    return [best[root(i)] for i in range(n)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d", ""]), st.sampled_from(_NAMES),
                          st.sampled_from(_ARTISTS), st.sampled_from(["GB1", "gb1", "US2", "", None]),
                          st.sampled_from(_AUDIO)),
                min_size=1, max_size=12),
       st.integers(min_value=0, max_value=12))
def test_song_keys_match_the_rule_applied_row_by_row(rows: list[tuple], audio_columns: int) -> None:
    from hitlab.schema import AUDIO_FEATURES

    tracks = pd.DataFrame([r[:4] for r in rows], columns=["track_id", "track_name", "artist_name", "isrc"])
    for column in AUDIO_FEATURES[:audio_columns]:  # one shared value per row: its fingerprint
        tracks[column] = [r[4] for r in rows]
    assert list(song_keys(tracks)) == _song_keys_reference(tracks)
