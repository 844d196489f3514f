"""Bad and odd input files, as a user meets them through the command line: one clear line or a
counted change, never a traceback and never a silent wrong result (issues 11 and 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from hitlab import clean
from hitlab.cli import app
from hitlab.datasets import read_tracks
from hitlab.errors import DataError, MappingError, SchemaError
from hitlab.schema import AUDIO_FEATURES

runner = CliRunner()


def _run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def _canonical(raw_tidytuesday: pd.DataFrame, n: int = 40) -> pd.DataFrame:
    tracks = read_tracks_frame(raw_tidytuesday.head(n))
    keep = ["track_id", "track_name", "artist_name", "release_date", "popularity", *AUDIO_FEATURES]
    out = tracks[keep].copy()
    out["genres"] = tracks["genres"].map(lambda t: t[0])
    return out


def read_tracks_frame(raw: pd.DataFrame) -> pd.DataFrame:
    from hitlab.datasets.importer import apply_mapping, load_mapping
    from hitlab.schema import coerce

    return coerce(apply_mapping(raw, load_mapping("tidytuesday"), source="x"))


def _fails_cleanly(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())
    for fragment in fragments:
        assert fragment in text, (fragment, text)


def test_canonical_file_missing_tempo_reads_without_tempo(raw_tidytuesday, write_csv):
    # was: "mapping 'kaggle-114k' needs 'artists', 'track_genre' ..." for a canonical file
    path = write_csv(_canonical(raw_tidytuesday).drop(columns="tempo"), "canonical.csv")
    tracks = read_tracks(path)
    assert tracks.attrs["mapping"] == "canonical"
    assert "tempo" in tracks.attrs["absent_columns"] and tracks["tempo"].isna().all()
    report = clean(tracks).report
    assert any("the data has no tempo" in s.reason for s in report.steps)


def test_undetectable_file_names_the_file_and_columns(write_csv):
    path = write_csv(pd.DataFrame({"song": ["a"], "who": ["b"], "loud": [1]}), "odd.csv")
    with pytest.raises(
        MappingError, match=r"odd.csv: could not tell how to read this file.*Columns: loud, song"
    ):
        read_tracks(path)


def test_semicolon_csv_is_read(raw_tidytuesday, tmp_path):
    path = tmp_path / "semi.csv"
    raw_tidytuesday.head(20).to_csv(path, sep=";", index=False)
    tracks = read_tracks(path)
    assert len(tracks) == 20 and tracks.attrs["mapping"] == "tidytuesday"
    assert "delimiter ';' detected" in tracks.attrs["read_notes"]


def test_broken_json_line_is_reported_by_line(raw_tidytuesday, tmp_path):
    lines = raw_tidytuesday.head(5).to_json(orient="records", lines=True).splitlines()
    lines[3] = lines[3][:40]
    path = tmp_path / "tracks.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"tracks.jsonl: line 4 is not valid JSON"):
        read_tracks(path)


def test_duplicate_column_is_refused(raw_tidytuesday, tmp_path):
    frame = raw_tidytuesday.head(5)
    text = frame.to_csv(index=False).splitlines()
    text = [f"{line},{line.split(',')[frame.columns.get_loc('tempo')]}" for line in text]  # tempo twice
    path = tmp_path / "dup.csv"
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(SchemaError, match=r"dup.csv: table: column name\(s\) 'tempo' appear more than once"):
        read_tracks(path)


def test_huge_year_is_reported_as_written(raw_tidytuesday, write_csv):
    frame = raw_tidytuesday.head(5).copy()
    frame["track_album_release_date"] = frame["track_album_release_date"].astype(object)
    path = write_csv(frame.assign(year="2000").astype({"year": object}), "y.csv")
    text = path.read_text().splitlines()
    text[2] = text[2].rsplit(",", 1)[0] + ",99999999999999999999999"
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(SchemaError, match=r"column 'year': value\(s\) 1e\+23 are not plausible at row 2"):
        read_tracks(path)


def test_drop_invalid_drops_every_out_of_range_column(raw_tidytuesday, write_csv, tmp_path):
    frame = raw_tidytuesday.head(200).copy().astype({"track_popularity": object})
    frame.loc[0, "track_popularity"] = 150
    frame.loc[1, "track_popularity"] = 1e22
    frame.loc[2, "track_album_release_date"] = "3000-01-01"
    frame["time_signature"] = 4
    frame.loc[3, "time_signature"] = 12
    frame.loc[4, "danceability"] = 1.7
    path = write_csv(frame, "bad.csv")
    result = _run("run", "--data", str(path), "--drop-invalid", "--out", str(tmp_path / "runs"), "--name",
         "bad", "--stages", "eda", "--group-by", "track")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "runs" / "bad" / "cleaning_report.json").read_text())
    dropped = {s["step"]: s["rows"] for s in report["steps"] if s["action"] == "dropped"}
    assert dropped["out-of-range popularity"] == 2
    assert dropped["out-of-range year"] == 1
    assert dropped["out-of-range time_signature"] == 1
    assert dropped["out-of-range danceability"] == 1
    tracks = pd.read_parquet(tmp_path / "runs" / "bad" / "tracks.parquet")
    assert tracks["popularity"].between(0, 100).all() and tracks["year"].le(2100).all()


@pytest.mark.parametrize("rows", [2, 12])
def test_tiny_table_skips_the_models_with_a_message(raw_tidytuesday, write_csv, tmp_path, rows):
    path = write_csv(raw_tidytuesday.drop_duplicates("track_id").head(rows), "tiny.csv")
    result = _run("run", "--data", str(path), "--quick", "--out", str(tmp_path / "runs"), "--group-by",
         "track")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Skipped popularity: too few tracks with a popularity" in text
    assert "small table" in text
    assert "cross-validation folds" not in text


def test_single_genre_table_keeps_the_popularity_results(raw_tidytuesday, write_csv, tmp_path):
    rock = raw_tidytuesday[raw_tidytuesday["playlist_genre"] == "rock"].drop_duplicates("track_id").head(300)
    path = write_csv(rock, "rock.csv")
    result = _run("run", "--data", str(path), "--quick", "--trials", "1", "--out", str(tmp_path / "runs"),
         "--name", "rock", "--group-by", "track")
    assert result.exit_code == 0, result.output
    assert "Skipped genre: only one genre (rock" in " ".join(result.output.split())
    assert (tmp_path / "runs" / "rock" / "models" / "popularity.skops").exists()


def test_rare_genres_leave_the_genre_task_counted(raw_tidytuesday, write_csv, tmp_path):
    rows = raw_tidytuesday.drop_duplicates("track_id").sample(n=600, random_state=2).copy()
    rows.iloc[:2, rows.columns.get_loc("playlist_genre")] = "polka"  # a genre with 2 tracks
    path = write_csv(rows, "rare.csv")
    result = _run("run", "--data", str(path), "--quick", "--trials", "1", "--out", str(tmp_path / "runs"),
         "--name", "rare", "--group-by", "track", "--stages", "genre")
    assert result.exit_code == 0, result.output
    assert "fewer than 20 tracks left out of the genre task (1, 2 tracks): polka 2" in " ".join(
        result.output.split()
    )
    labels = json.loads((tmp_path / "runs" / "rare" / "labels.json").read_text())
    assert labels["labels"]["small_classes"] == {"polka": 2}
    result = _run("run", "--data", str(path), "--quick", "--trials", "1", "--min-class-size", "1", "--out",
         str(tmp_path / "runs"), "--name", "rare1", "--group-by", "track", "--stages", "genre")
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output and "n_samples_fit" not in result.output


def test_words_scheme_reduces_fine_grained_genres(raw_tidytuesday, write_csv):
    from hitlab.labels import label_tracks

    frame = raw_tidytuesday.head(6).copy()
    frame["playlist_genre"] = [
        "album rock",
        "dutch indie",
        "detroit hip hop",
        "adult standards",
        "set()",
        "pop",
    ]
    tracks = clean(read_tracks(write_csv(frame))).tracks
    labelled, report = label_tracks(tracks, "words")
    assert labelled["genre"].tolist()[:3] == ["rock", "indie", "hiphop"]
    assert labelled["genre"].isna().tolist()[3:5] == [True, True]
    assert report.unlabelled == 2


@pytest.fixture(scope="module")
def small_run(raw_tidytuesday, tmp_path_factory) -> Path:
    from hitlab.config import RunConfig
    from hitlab.pipeline import run

    folder = tmp_path_factory.mktemp("small")
    data = folder / "train.csv"
    raw_tidytuesday.drop_duplicates("track_id").sample(n=600, random_state=0).to_csv(data, index=False)
    return run(
        RunConfig(
            data=str(data),
            out=str(folder / "runs"),
            name="r",
            quick=True,
            trials=1,
            group_by="track",
            stages=["popularity", "genre"],
        )
    ).folder


def test_predict_leaves_rows_without_audio_empty_and_says_so(raw_tidytuesday, small_run, tmp_path):
    new = raw_tidytuesday.drop_duplicates("track_id").sample(n=10, random_state=5)
    new = new.drop(columns=["track_popularity"]).copy()
    features = list(AUDIO_FEATURES)
    new = new.astype({c: object for c in features})
    new.iloc[0, [new.columns.get_loc(c) for c in features]] = None
    new.iloc[1, new.columns.get_loc("playlist_genre")] = "polka"
    path = tmp_path / "new.csv"
    new.to_csv(path, index=False)
    out = tmp_path / "p.csv"
    result = _run("predict", "--run", str(small_run), str(path), "-o", str(out))
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out)
    text = " ".join(result.output.split())
    assert pd.isna(got.loc[0, "predicted_popularity"]) and pd.isna(got.loc[0, "genre_1"])
    assert got["predicted_popularity"].iloc[1:].notna().all()
    assert "1 row(s) have no value for any audio feature" in text and "rows 1" in text
    assert "give a genre the models never saw (polka)" in text
    assert got.loc[1, "genre_used_for_popularity"] == "predicted"


def test_predict_reads_a_runs_own_tracks_parquet_with_its_genres(small_run):
    from hitlab.predict import load

    tracks = pd.read_parquet(Path(small_run) / "tracks.parquet").head(50)  # label arrays, not tuples
    result = load(small_run).predict(tracks)
    assert (result["genre_used_for_popularity"] == "given").sum() == 50
