"""Predict with a run's saved models: round trip, missing targets, bad input, tampering."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import hitlab
from hitlab.cli import app
from hitlab.config import RunConfig
from hitlab.errors import ModelFileError, SchemaError
from hitlab.pipeline import run


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    return run(RunConfig(out=str(out), quick=True, stages=["popularity", "genre"])).folder


@pytest.fixture(scope="module")
def held_out(run_folder) -> pd.DataFrame:
    """The run's held-out tracks, as a user would pass them (canonical table)."""
    tracks = pd.read_parquet(run_folder / "tracks.parquet")
    check = pd.read_csv(run_folder / "models" / "popularity_reload_check.csv")
    return tracks.set_index("track_id").loc[check["track_id"]].reset_index()


def test_round_trip_matches_the_in_run_predictions(run_folder, held_out):
    predictor = hitlab.load(run_folder)
    out = predictor.predict(hitlab.schema.coerce(held_out))
    pop_check = pd.read_csv(run_folder / "models" / "popularity_reload_check.csv")
    assert out["track_id"].tolist() == pop_check["track_id"].tolist()
    np.testing.assert_allclose(out["predicted_popularity"], pop_check["predicted"].clip(0, 100), rtol=1e-7)
    assert (out["genre_used_for_popularity"] == "given").all()
    genre_check = pd.read_csv(run_folder / "models" / "genre_reload_check.csv").set_index("track_id")
    proba = genre_check.loc[out["track_id"]].filter(like="proba_").to_numpy()
    names = np.array([c.removeprefix("proba_") for c in genre_check.filter(like="proba_").columns])
    assert (out["genre_1"].to_numpy() == names[proba.argmax(axis=1)]).all()
    np.testing.assert_allclose(out["genre_1_probability"], proba.max(axis=1), rtol=1e-7)
    assert (out["popularity_used_for_genre"] == "given").all()


def test_new_tracks_without_popularity_or_genre(run_folder, held_out):
    new = held_out.head(200).drop(columns=["popularity", "genres", "genre"], errors="ignore")
    out = hitlab.load(run_folder).predict(hitlab.schema.coerce(new))
    assert out["predicted_popularity"].between(0, 100).all()
    assert (out["popularity_used_for_genre"] == "predicted").all()
    assert (out["genre_used_for_popularity"] == "predicted").all()
    top = out[["genre_1_probability", "genre_2_probability", "genre_3_probability"]].to_numpy()
    assert (np.diff(top, axis=1) <= 1e-12).all()  # most likely first
    assert (out["genre_1"] != out["genre_2"]).all()


def test_the_three_passes_of_a_cold_start_follow_the_documented_chain(run_folder, held_out):
    from hitlab.predict import PROVISIONAL_SHARE

    new = hitlab.schema.coerce(held_out.head(300).drop(columns=["popularity", "genres", "genre"],
                                                      errors="ignore"))
    predictor = hitlab.load(run_folder)
    out = predictor.predict(new)
    work = new.copy()
    provisional = predictor.genre.predict_proba(work, share=PROVISIONAL_SHARE)
    work["genre"] = provisional.idxmax(axis=1).to_numpy()
    popularity = np.clip(predictor.popularity.predict(work), 0, 100)
    np.testing.assert_allclose(out["predicted_popularity"], popularity)
    work["popularity"] = popularity
    final = predictor.genre.predict_proba(work)
    np.testing.assert_allclose(out["genre_1_probability"], final.max(axis=1).to_numpy())
    assert (out["genre_1"].to_numpy() == final.idxmax(axis=1).to_numpy()).all()


def test_predict_cli_round_trip_through_files_and_stdin(run_folder, held_out, tmp_path):
    source = tmp_path / "new.csv"
    held_out.head(50).drop(columns=["popularity", "genres", "artist_genres"]).to_csv(source, index=False)
    runner = CliRunner()
    result = runner.invoke(
        app, ["predict", str(source), "--run", str(run_folder), "-o", str(tmp_path / "p.parquet")]
    )
    assert result.exit_code == 0, result.output
    from_file = pd.read_parquet(tmp_path / "p.parquet")
    assert len(from_file) == 50
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hitlab",
            "predict",
            "-",
            "--run",
            str(run_folder),
            "--output-format",
            "jsonl",
        ],
        input=source.read_bytes(),
        capture_output=True,
        check=True,
    )
    from_stdin = pd.read_json(io.BytesIO(done.stdout), lines=True)
    np.testing.assert_allclose(from_stdin["predicted_popularity"], from_file["predicted_popularity"])
    assert from_stdin["genre_1"].tolist() == from_file["genre_1"].tolist()


def test_bad_input_gets_the_schema_errors(run_folder, held_out, tmp_path):
    bad = held_out.head(5).drop(columns=["genres", "artist_genres"]).astype({"tempo": object})
    bad.loc[2, "tempo"] = "fast"
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(SchemaError, match=r"bad.csv: column 'tempo': expected a number, got 'fast' at row 3"):
        hitlab.load(run_folder).predict(hitlab.read_tracks(path))
    result = CliRunner().invoke(app, ["predict", str(path), "--run", str(run_folder)])
    assert result.exit_code == 1
    assert "column 'tempo': expected a number, got 'fast' at row 3" in " ".join(result.output.split())


def test_a_modified_model_file_is_refused(run_folder, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_folder, copy)
    model = copy / "models" / "genre.skops"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"genre.skops: sha256 .* does not match the manifest"):
        hitlab.load(copy)


def test_a_folder_without_models_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="no saved model"):
        hitlab.load(tmp_path)


@pytest.mark.parametrize("walk", ["compiled walk", "lightgbm blocks"])
def test_cold_predictions_equal_the_pipelines_own_scoring(run_folder, held_out, walk, monkeypatch):
    """The fast paths (the compiled tree walk or blocked LightGBM scoring, only the model's columns
    copied) change no prediction: the same three passes through the saved scikit-learn pipelines
    themselves give the same numbers."""
    from hitlab.modeling import scoring

    monkeypatch.setattr(scoring, "COMPILED_MIN_TREE_ROWS", 0 if walk == "compiled walk" else 10**18)
    from hitlab.features import feature_frame
    from hitlab.predict import PROVISIONAL_SHARE

    new = hitlab.schema.coerce(held_out.head(300).drop(columns=["popularity", "genres", "genre"],
                                                      errors="ignore"))
    predictor = hitlab.load(run_folder)
    out = predictor.predict(new)
    genre, popularity = predictor.genre, predictor.popularity
    classes = np.asarray(genre.classes, dtype=object)
    work = new.copy()
    work["genre"] = pd.array([pd.NA] * len(work), dtype="string")
    booster = genre.estimator.steps[-1][1].booster_
    rounds = int(np.ceil(booster.current_iteration() * PROVISIONAL_SHARE))
    encoded = genre.estimator[:-1].transform(feature_frame(work, genre.features))
    first = genre.estimator.steps[-1][1].predict_proba(encoded, num_iteration=rounds)
    work["genre"] = classes[first.argmax(axis=1)]
    expected_pop = np.clip(popularity.estimator.predict(feature_frame(work, popularity.features)), 0, 100)
    np.testing.assert_allclose(out["predicted_popularity"], expected_pop, rtol=1e-12, atol=1e-12)
    work["popularity"] = expected_pop
    final = genre.estimator.predict_proba(feature_frame(work, genre.features))
    assert (out["genre_1"].to_numpy() == classes[final.argmax(axis=1)]).all()
    np.testing.assert_allclose(out["genre_1_probability"], final.max(axis=1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layout", ["canonical", "the run's own source columns"])
def test_predict_reads_the_file_once(run_folder, held_out, tmp_path, monkeypatch, layout):
    """The header decides how to read the file, and the table already read is used (it used to be read
    twice: once for the header, once for the tracks)."""
    import hitlab.datasets.importer as importer

    new = held_out.head(40).drop(columns=["popularity", "genres", "artist_genres"])
    if layout != "canonical":
        spec = hitlab.load(run_folder).read_spec()
        new = new.rename(columns={c: s for c, s in spec["columns"].items() if c in new.columns})
    path = tmp_path / "new.csv"
    new.to_csv(path, index=False)
    reads = []
    original = importer._read_csv
    monkeypatch.setattr(importer, "_read_csv", lambda *a, **k: reads.append(a[0]) or original(*a, **k))
    result = CliRunner().invoke(app, ["predict", str(path), "--run", str(run_folder),
                                      "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    assert reads == [path]
    assert len(pd.read_csv(tmp_path / "out.csv")) == 40


def test_converted_columns_are_listed_in_one_note(run_folder, held_out, tmp_path):
    new = held_out.head(30).drop(columns=["popularity", "genres", "artist_genres"])
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    new["key"] = [names[int(k)] for k in new["key"]]
    new["mode"] = new["mode"].map({1: "major", 0: "minor"})
    seconds = (new["duration_ms"] // 1000).astype(int)
    new["duration_ms"] = [f"{s // 60}:{s % 60:02d}" for s in seconds]
    path = tmp_path / "converted.csv"
    new.to_csv(path, index=False)
    result = CliRunner().invoke(app, ["predict", str(path), "--run", str(run_folder),
                                      "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note") and "converted" in line]
    assert len(notes) == 1, result.output
    assert "values converted in 3 columns: key as note-name (detected; 30 values), mode as word " \
           "(detected; 30 values), duration_ms as m:ss (detected; 30 values)" in notes[0]


def test_json_lines_output_is_strict_json_with_null_for_missing(tmp_path):
    """A missing value is ``null`` (``NaN`` is not JSON), text stays UTF-8, numbers round-trip."""
    import json

    from hitlab.predict import write_table

    frame = pd.DataFrame({"track_id": ["a", "b"], "track_name": ["Café", np.nan],
                          "predicted_popularity": [41.123456789012345, np.nan]})
    path = tmp_path / "p.jsonl"
    write_table(frame, path)

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    rows = [json.loads(line, parse_constant=refuse) for line in path.read_text("utf-8").splitlines()]
    assert rows[1] == {"track_id": "b", "track_name": None, "predicted_popularity": None}
    assert rows[0]["track_name"] == "Café" and "Café" in path.read_text("utf-8")
    assert rows[0]["predicted_popularity"] == pytest.approx(41.123456789012345, rel=1e-14)


def test_predict_on_a_terminal_says_what_it_is_doing_and_in_a_pipe_nothing_more(run_folder, held_out,
                                                                                 tmp_path):
    """Scoring a large file takes minutes: on a terminal a spinner names the step (reading,
    scoring N tracks); written to a pipe or file, stderr holds only the notes and the summary."""
    import os
    import subprocess
    import sys

    source = tmp_path / "new.csv"
    held_out.head(200).drop(columns=["popularity", "genre"], errors="ignore").to_csv(source, index=False)
    command = [sys.executable, "-m", "hitlab", "predict", str(source), "--run", str(run_folder),
               "-o", str(tmp_path / "out.parquet")]
    leader, follower = os.openpty()
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the child
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert child.wait(timeout=60) == 0
    shown = seen.decode(errors="replace")
    assert "scoring 200 tracks" in shown and "reading" in shown  # (a long path may be cut to the width)
    piped = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "scoring" not in piped.stderr and "200 predictions written" in piped.stderr


def test_a_tags_run_reads_new_tracks_genres_from_its_artist_tags(raw_tidytuesday, artists_file, write_csv,
                                                                 tmp_path):
    """A run labelled by artist tags trains its popularity model on the artists' main genres: predict
    reads them again from the run's artist tags file (not the file's own playlist genres), and when
    that file is gone says how it read the genres instead."""
    import json
    import shutil

    from hitlab.cli import app

    runner = CliRunner()
    artists = tmp_path / "artists.parquet"
    shutil.copyfile(artists_file, artists)
    path = write_csv(raw_tidytuesday.drop_duplicates("track_id").sample(n=1500, random_state=3), "tracks.csv")
    result = runner.invoke(app, ["run", "--data", str(path), "--artists", str(artists),
                                 "--labels", "tags", "--quick", "--out", str(tmp_path / "runs"),
                                 "--name", "tags"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "runs" / "tags"
    labelled = sum(json.loads((folder / "labels.json").read_text())["labels"]["counts"].values())
    out = tmp_path / "predictions.csv"
    result = runner.invoke(app, ["predict", "--run", str(folder), str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "genres read as the run labelled them (--labels tags): the artists' main genres from" in said
    given = pd.read_csv(out)["genre_used_for_popularity"].value_counts()["given"]
    assert given == labelled  # the rows the run labelled, and no row by its playlist genre
    artists.unlink()
    result = runner.invoke(app, ["predict", "--run", str(folder), str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "main genres (--labels tags), but the run's artist tags file" in said
    assert "is gone or has changed" in said
