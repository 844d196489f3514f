"""The command line, run through Typer's runner and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from hitlab.cli import app

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args))


def test_run_builtin_writes_the_run_folder(tmp_path):
    result = _run("run", "--out", str(tmp_path), "--stages", "eda")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "tidytuesday-playlist"
    assert {p.name for p in folder.iterdir()} >= {
        "tracks.parquet",
        "cleaning_report.json",
        "labels.json",
        "figures",
        "manifest.json",
    }
    assert {p.name for p in (folder / "figures").iterdir()} == {
        "eda_distributions.png",
        "eda_correlations.png",
        "eda_popularity_by_genre.png",
        "eda_popularity_by_year.png",
    }
    report = json.loads((folder / "cleaning_report.json").read_text())
    assert report["rows_in"] == 32_833 and report["rows_out"] == 28_354
    assert "28,354 tracks out" in " ".join(result.output.split())
    assert not list(tmp_path.glob(".*partial"))


def test_rerun_gives_the_same_outputs(tmp_path):
    hashes = []
    for name in ("a", "b"):
        assert _run("run", "--out", str(tmp_path), "--name", name, "--stages", "eda").exit_code == 0
        hashes.append(json.loads((tmp_path / name / "manifest.json").read_text())["outputs"])
    assert hashes[0] == hashes[1]
    assert "tracks.parquet" in hashes[0]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: f.drop(columns="tempo"), "needs column(s) 'tempo'"),
        (
            lambda f: f.astype({"tempo": object}).assign(tempo=["abc", *list(f.tempo[1:])]),
            "column 'tempo': expected a number, got 'abc' at row 1",
        ),
        (
            lambda f: f.assign(danceability=[1.7, *list(f.danceability[1:])]),
            "column 'danceability': value(s) 1.7 outside the allowed range 0..1 at row 1",
        ),
        (lambda f: f.head(0), "header but no data rows"),
    ],
)
def test_bad_input_exits_non_zero_with_no_partial_folder(raw_tidytuesday, write_csv, tmp_path, edit, message):
    path = write_csv(edit(raw_tidytuesday.head(20).copy()))
    out = tmp_path / "runs"
    result = _run("run", "--data", str(path), "--out", str(out))
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert f"{path}:" in text.replace("\n", "") or str(path.name) in text
    assert message in text
    assert "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())


def test_unknown_preset_from_the_cli(raw_tidytuesday, write_csv, tmp_path):
    path = write_csv(raw_tidytuesday.head(5))
    result = _run("run", "--data", str(path), "--mapping", "nope", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert "unknown mapping preset 'nope'" in " ".join(result.output.split())


def test_bad_config_value(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('labels = "moods"\n')
    result = _run("run", "--config", str(config), "--out", str(tmp_path))
    assert result.exit_code == 1
    expected = f"config file {config}: key 'labels': expected 'playlist', 'tags' or 'words', got 'moods'"
    assert expected in " ".join(result.output.split())


def test_cli_option_overrides_config_file(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('name = "from-file"\nstages = ["eda"]\n')
    assert _run("run", "--config", str(config), "--out", str(tmp_path), "--name", "from-cli").exit_code == 0
    assert (tmp_path / "from-cli").is_dir() and not (tmp_path / "from-file").exists()


def test_validate_and_presets_commands(raw_tidytuesday, write_csv):
    result = _run("validate", str(write_csv(raw_tidytuesday.head(30))))
    text = " ".join(result.output.split())
    assert result.exit_code == 0 and "30 rows match the canonical schema (mapping tidytuesday)" in text
    assert "kaggle-114k" in _run("presets").output


def test_python_dash_m_entry_point():
    done = subprocess.run(
        [sys.executable, "-m", "hitlab", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("hitlab ")
