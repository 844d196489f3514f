"""Predict reads new tracks the way the run read its data (the built-in TidyTuesday format).

A run on a TidyTuesday-format file (3,000 real rows) without a held-out slice of tracks; then
``hitlab predict --run RUN slice.csv`` with no other option, on the slice in the same format
without ``track_popularity`` (and, separately, without ``playlist_genre``), must give exactly
what the saved models give the slice in canonical columns: nothing (year from the release date,
the given genre) may be dropped on the way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from hitlab.cli import app
from hitlab.datasets import read_tracks
from hitlab.predict import load

runner = CliRunner()


@pytest.fixture(scope="module")
def heldout_run(raw_tidytuesday: pd.DataFrame, tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("heldout")
    rows = raw_tidytuesday.sample(n=3000, random_state=11)
    ids = rows["track_id"].drop_duplicates()
    held = set(ids.sample(n=300, random_state=1))
    train, slice_ = rows[~rows["track_id"].isin(held)], rows[rows["track_id"].isin(held)]
    train.to_csv(folder / "spotify_songs.csv", index=False)
    result = runner.invoke(
        app,
        [
            "run",
            "--data",
            str(folder / "spotify_songs.csv"),
            "--quick",
            "--trials",
            "1",
            "--out",
            str(folder / "runs"),
            "--name",
            "tt",
            "--group-by",
            "track",
        ],
    )
    assert result.exit_code == 0, result.output
    return folder / "runs" / "tt", slice_.reset_index(drop=True)


@pytest.mark.parametrize("hidden", ["track_popularity", "playlist_genre"])
def test_predict_on_the_training_format_equals_canonical(heldout_run, hidden, tmp_path):
    run, slice_ = heldout_run
    path = tmp_path / "slice.csv"
    slice_.drop(columns=hidden).to_csv(path, index=False)
    out = tmp_path / "predictions.csv"
    result = runner.invoke(app, ["predict", "--run", str(run), str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out)

    full = tmp_path / "full.csv"
    slice_.to_csv(full, index=False)
    canonical = read_tracks(full, "tidytuesday")
    if hidden == "track_popularity":
        canonical["popularity"] = pd.NA
    else:
        canonical["genres"] = [()] * len(canonical)
    expected = load(run).predict(canonical)
    assert canonical["year"].notna().all()
    np.testing.assert_allclose(got["predicted_popularity"], expected["predicted_popularity"], rtol=1e-9)
    assert got["genre_1"].tolist() == expected["genre_1"].tolist()
    given = "genre_used_for_popularity" if hidden == "track_popularity" else "popularity_used_for_genre"
    assert set(got[given]) == {"given"}
    # the same predictions, so the same MAE on the held-out slice
    if hidden == "track_popularity":
        truth = slice_["track_popularity"].to_numpy(float)
        assert np.mean(np.abs(got["predicted_popularity"] - truth)) == pytest.approx(
            np.mean(np.abs(expected["predicted_popularity"] - truth))
        )


def test_predict_names_a_column_the_models_need(heldout_run, tmp_path):
    run, slice_ = heldout_run
    path = tmp_path / "slice.csv"
    slice_.drop(columns=["danceability"]).to_csv(path, index=False)
    result = runner.invoke(app, ["predict", "--run", str(run), str(path), "-o", str(tmp_path / "p.csv")])
    assert result.exit_code == 1
    assert "slice.csv" in result.output and "danceability" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "p.csv").exists()


def test_predict_warns_about_missing_year_and_unused_columns(heldout_run, tmp_path):
    run, slice_ = heldout_run
    frame = slice_.copy()
    frame.loc[:9, "track_album_release_date"] = ""
    path = tmp_path / "slice.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(app, ["predict", "--run", str(run), str(path), "-o", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    assert "year is missing in 10 of" in result.output and "strong feature" in result.output
    assert "not used by the models" in result.output and "track_album_name" in result.output
