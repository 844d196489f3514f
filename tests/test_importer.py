"""Import of user files: mappings, presets, messy input, and every kind of bad input."""

from __future__ import annotations

import pandas as pd
import pytest

from hitlab import clean, read_tracks
from hitlab.datasets import list_presets, load_mapping, read_artists
from hitlab.errors import ConflictError, DataError, MappingError, SchemaError
from hitlab.schema import AUDIO_FEATURES

FEATURES = list(AUDIO_FEATURES)


@pytest.fixture
def tidy_csv(raw_tidytuesday, write_csv):
    """The first 200 built-in rows written as the TidyTuesday CSV."""
    return write_csv(raw_tidytuesday.head(200), "spotify_songs.csv")


def test_tidytuesday_csv_is_detected_and_mapped(tidy_csv):
    tracks = read_tracks(tidy_csv)
    assert tracks.attrs["mapping"] == "tidytuesday"
    assert len(tracks) == 200
    assert tracks["popularity"].between(0, 100).all()
    assert tracks["genres"].map(len).eq(1).all()
    # columns the mapping does not use are kept, not dropped
    assert {"playlist_name", "playlist_subgenre", "track_album_name"} <= set(tracks.attrs["extra_columns"])
    assert "playlist_subgenre" in tracks.columns


def test_kaggle_114k_preset_reads_semicolon_artists(raw_tidytuesday, write_csv):
    src = raw_tidytuesday.head(50)
    kaggle = pd.DataFrame(
        {
            "Unnamed: 0": range(50),
            "track_id": src.track_id,
            "artists": src.track_artist + ";Guest",
            "album_name": src.track_album_name,
            "track_name": src.track_name,
            "popularity": src.track_popularity,
            "explicit": "False",
            **{c: src[c] for c in FEATURES},
            "time_signature": 4,
            "track_genre": src.playlist_genre,
        }
    )
    tracks = read_tracks(write_csv(kaggle), "kaggle-114k")
    assert tracks["artist_name"].iloc[0] == src.track_artist.iloc[0] + ", Guest"
    assert tracks["time_signature"].eq(4).all()
    assert "explicit" in tracks.attrs["extra_columns"]


def test_kaggle_600k_list_literals_become_display_strings(raw_tidytuesday, write_csv):
    src = raw_tidytuesday.head(20)
    frame = pd.DataFrame(
        {
            "id": src.track_id,
            "name": src.track_name,
            "popularity": src.track_popularity,
            "explicit": 0,
            "artists": "['" + src.track_artist + "', 'B']",
            "id_artists": "['a1', 'b2']",
            "release_date": src.track_album_release_date,
            **{c: src[c] for c in FEATURES},
            "time_signature": 4,
        }
    )
    tracks = read_tracks(write_csv(frame), "kaggle-600k")
    assert tracks["artist_id"].iloc[0] == "a1, b2"
    assert tracks["artist_name"].iloc[0].endswith(", B")


def test_file_without_ids_gets_stable_derived_ids_and_merges(raw_tidytuesday, write_csv):
    src = raw_tidytuesday.head(5)
    frame = pd.DataFrame(
        {"artist_name": src.track_artist, "track_name": src.track_name, **{c: src[c] for c in FEATURES}}
    )
    frame = pd.concat([frame, frame.iloc[[0]].assign(artist_name=lambda d: "  " + d.artist_name.str.upper())])
    tracks = read_tracks(write_csv(frame))
    assert tracks["track_id"].str.match(r"^hl:[0-9a-f]{16}$").all()
    assert tracks["track_id"].iloc[0] == tracks["track_id"].iloc[-1]  # same artist + title, case aside
    again = read_tracks(write_csv(frame, "again.csv"))
    assert again["track_id"].tolist() == tracks["track_id"].tolist()
    assert len(clean(tracks).tracks) == 5


def test_messy_genres_dates_and_missing_targets(raw_tidytuesday, write_csv):
    src = raw_tidytuesday.head(3).reset_index(drop=True)
    frame = pd.DataFrame({"track_id": src.track_id, **{c: src[c] for c in FEATURES}})
    frame["genres"] = ["rock, pop", "['edm', 'latin']", ""]
    frame["release_date"] = ["2019-05-01", "2019-05", "1999"]
    frame["my_note"] = ["a", "b", "c"]
    tracks = read_tracks(write_csv(frame))
    assert tracks["genres"].tolist() == [("rock", "pop"), ("edm", "latin"), ()]
    assert tracks["year"].tolist() == [2019, 2019, 1999]
    assert tracks["popularity"].isna().all()
    assert tracks.attrs["extra_columns"] == ["my_note"]


def test_mapping_from_toml_file(raw_tidytuesday, write_csv, tmp_path):
    src = raw_tidytuesday.head(10).rename(columns={"tempo": "BPM", "track_id": "spotify"})
    mapping = tmp_path / "m.toml"
    cols = "\n".join(f'{c} = "{c}"' for c in FEATURES if c != "tempo")
    mapping.write_text(f'[columns]\ntrack_id = "spotify"\ntempo = "BPM"\n{cols}\n')
    tracks = read_tracks(write_csv(src), mapping)
    assert tracks["tempo"].tolist() == src["BPM"].tolist()


def test_presets_all_load():
    presets = list_presets()
    assert {"tidytuesday", "kaggle-114k", "kaggle-600k", "kaggle-1.2m", "kaggle-600k-artists"} <= set(presets)


def test_artists_table_from_shared_data(artists_file):
    artists = read_artists(artists_file)
    assert len(artists) == 27_621
    assert (artists["artist_genres"].map(len) > 0).sum() == 18_091


# ---- bad input: one test each, clear message naming file, column and rows ----


def test_missing_required_column(raw_tidytuesday, write_csv):
    path = write_csv(raw_tidytuesday.head(5).drop(columns="tempo"))
    with pytest.raises(SchemaError, match=r"tracks.csv: .*needs column\(s\) 'tempo' \(for tempo\)"):
        read_tracks(path, "tidytuesday")


def test_wrong_type(raw_tidytuesday, write_csv):
    frame = raw_tidytuesday.head(5).astype({"tempo": object})
    frame.loc[3, "tempo"] = "abc"
    with pytest.raises(
        SchemaError, match=r"tracks.csv: column 'tempo': expected a number, got 'abc' at row 4"
    ):
        read_tracks(write_csv(frame))


def test_out_of_range(raw_tidytuesday, write_csv):
    frame = raw_tidytuesday.head(5).copy()
    frame.loc[1, "danceability"] = 1.7
    with pytest.raises(SchemaError, match=r"column 'danceability': value\(s\) 1.7 outside .* at row 2"):
        read_tracks(write_csv(frame))


def test_empty_file(write_csv):
    with pytest.raises(SchemaError, match=r"empty.csv: .*empty \(0 bytes\)"):
        read_tracks(write_csv("", "empty.csv"))


def test_header_only(raw_tidytuesday, write_csv):
    with pytest.raises(SchemaError, match=r"header but no data rows"):
        read_tracks(write_csv(raw_tidytuesday.head(0)))


def test_non_utf8_csv_is_read_with_a_stated_fallback(raw_tidytuesday, write_csv):
    text = raw_tidytuesday.head(3).to_csv(index=False).replace("Ed Sheeran", "Beyoncé")
    tracks = read_tracks(write_csv(text.encode("cp1252"), "cp1252.csv"))
    assert "Beyoncé" in set(tracks["artist_name"])
    assert any("not valid UTF-8 (byte 0xe9" in n and "cp1252" in n for n in tracks.attrs["read_notes"])


def test_wrong_explicit_encoding_is_an_error(raw_tidytuesday, write_csv):
    text = raw_tidytuesday.head(3).to_csv(index=False).replace("Ed Sheeran", "Beyoncé")
    with pytest.raises(DataError, match=r"latin1.csv: not valid utf-8 \(byte 0xe9"):
        read_tracks(write_csv(text.encode("latin-1"), "latin1.csv"), encoding="utf-8")


def test_corrupt_parquet(raw_tidytuesday, write_csv):
    good = write_csv(raw_tidytuesday.head(50), "good.parquet").read_bytes()
    path = write_csv(good[: len(good) // 2], "broken.parquet")
    with pytest.raises(DataError, match=r"broken.parquet: could not read as Parquet"):
        read_tracks(path)


def test_unknown_mapping_preset(raw_tidytuesday, write_csv):
    with pytest.raises(MappingError, match=r"unknown mapping preset 'spotfy'; presets: .*tidytuesday"):
        read_tracks(write_csv(raw_tidytuesday.head(3)), "spotfy")


def test_undetectable_columns(write_csv):
    with pytest.raises(MappingError, match="match no preset"):
        read_tracks(write_csv(pd.DataFrame({"a": [1], "b": [2]})))


def test_same_track_with_conflicting_features(raw_tidytuesday, write_csv):
    frame = pd.concat([raw_tidytuesday.head(4), raw_tidytuesday.head(1)], ignore_index=True)
    frame.loc[4, "energy"] = 0.1
    frame.loc[4, "playlist_genre"] = "rock"
    tracks = read_tracks(write_csv(frame))
    with pytest.raises(
        ConflictError,
        match=r"track_id '.+' has conflicting audio features in column\(s\) "
        r"energy at rows 1, 5",
    ):
        clean(tracks, strict=True)
    # without strict: the first row's features are kept, and the conflict is counted
    result = clean(tracks)
    assert len(result.tracks) == 4
    first = result.tracks.set_index("track_id").loc[frame.loc[0, "track_id"]]
    assert first["energy"] == frame.loc[0, "energy"]
    assert first["genres"] == (frame.loc[0, "playlist_genre"], "rock")
    step = next(s for s in result.report.steps if s.step == "conflicting audio features")
    assert step.rows == 1 and "first row's features were kept" in step.reason


def test_load_mapping_missing_file():
    with pytest.raises(MappingError, match="mapping file not found"):
        load_mapping("nowhere.toml")


def test_missing_column_without_mapping_names_the_closest_preset(raw_tidytuesday, write_csv):
    path = write_csv(raw_tidytuesday.head(5).drop(columns="tempo"))
    with pytest.raises(SchemaError, match=r"mapping 'tidytuesday' needs column\(s\) 'tempo'"):
        read_tracks(path)
