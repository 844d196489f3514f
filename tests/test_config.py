"""The run configuration: one typed schema for CLI options and TOML keys (issue 12).

Every bad value is refused with one line naming its key and where it came from, before
anything is written.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hitlab.cli import app
from hitlab.config import GROUP_BY, STAGE_NAMES, RunConfig, check_run_name, load_config
from hitlab.errors import ConfigError

runner = CliRunner()


def _refused(tree_hashes, tmp_path: Path, *args: str, config: str | None = None) -> str:
    """Run ``hitlab run`` with bad settings: exit non-zero, one error line, nothing written."""
    argv = ["run", "--out", str(tmp_path / "runs"), *args]
    if "stages" not in (config or "") and "--stages" not in args:
        argv += ["--stages", "eda"]
    if config is not None:
        path = tmp_path / "run.toml"
        path.write_text(config)
        argv += ["--config", str(path)]
    before = tree_hashes(tmp_path)
    result = runner.invoke(app, argv)
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert tree_hashes(tmp_path) == before
    return " ".join(result.output.split())


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (["--seed", "-1"], None, "option --seed: expected a whole number >= 0, got -1"),
        ([], 'seed = "abc"\n', "key 'seed': expected a whole number >= 0, got 'abc'"),
        ([], 'budget = "fast"\n', "key 'budget': expected a number of seconds > 0, got 'fast'"),
        (["--budget", "nan"], None, "option --budget: expected a number of seconds > 0, got nan"),
        (["--budget", "inf"], None, "option --budget: expected a number of seconds > 0, got inf"),
        (["--budget", "0"], None, "option --budget: expected a number of seconds > 0, got 0.0"),
        ([], 'quick = "no"\n', "key 'quick': expected true or false, got 'no'"),
        ([], "quick = 1\n", "key 'quick': expected true or false, got 1"),
        (["--trials", "0"], None, "option --trials: expected a whole number >= 1, got 0"),
        ([], "top-n = 0\n", "key 'top-n': expected a whole number >= 1, got 0"),
        (["--group-by", "album"], None, "--group-by: expected 'song', 'track' or 'artist', got 'album'"),
        (["--labels", "moods"], None, "option --labels: expected 'playlist', 'tags' or 'words', got 'moods'"),
        (["--stages", "eda,populartiy"], None, "option --stages: unknown stage(s) 'populartiy'"),
        ([], 'stages = ["report", "nope"]\n', "key 'stages': unknown stage(s) 'nope'; the stages are eda"),
        (["--features", "danceability,nope"], None, "option --features: unknown feature 'nope'"),
        ([], "min_duration_ms = 5000000\n", "key 'min_duration_ms': must be below max_duration_ms (1.8e+06)"),
        (["--labels", "tags"], None, "option --labels: labels='tags' needs artist genre tags"),
        ([], 'encoding = "no-such-codec"\n', "key 'encoding': unknown text encoding 'no-such-codec'"),
        ([], 'colour = "red"\n', "unknown key 'colour'"),
        ([], "seed = [1\n", "not valid TOML"),
    ],
)
def test_bad_setting_is_named_with_key_and_source(tree_hashes, tmp_path, args, config, message):
    text = _refused(tree_hashes, tmp_path, *args, config=config)
    assert message in text
    if config is not None and "TOML" not in message:
        assert f"config file {tmp_path / 'run.toml'}: " in text


def test_several_bad_values_are_all_named_at_once(tree_hashes, tmp_path):
    text = _refused(tree_hashes, tmp_path, "--seed", "-1", config='budget = "fast"\nquick = "no"\n')
    assert "option --seed" in text and "key 'budget'" in text and "key 'quick'" in text


def test_cli_option_wins_over_the_file_and_names_itself(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('seed = "abc"\nbudget = 5\n')
    cfg = load_config(config, seed=3)
    assert (cfg.seed, cfg.budget) == (3, 5.0)
    with pytest.raises(ConfigError, match=r"^option --seed: expected a whole number >= 0, got -2$"):
        load_config(config, seed=-2)


def test_python_api_is_kept():
    cfg = RunConfig(out="runs", quick=True)
    assert cfg.quick and cfg.out == "runs" and cfg.group_by == "song"
    assert cfg.run_name == "tidytuesday-playlist"
    assert RunConfig(data=Path("x/My Songs.csv")).run_name == "My Songs-playlist"
    changed = cfg.replace(seed=7, stages="eda,report")
    assert (changed.seed, changed.stages, cfg.seed) == (7, ["eda", "report"], 42)
    as_dict = cfg.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert as_dict["strict"] is False and as_dict["encoding"] is None
    assert set(GROUP_BY) == {"song", "track", "artist"}
    for group_by in GROUP_BY:
        assert RunConfig(group_by=group_by).group_by == group_by
    with pytest.raises(ConfigError, match=r"RunConfig field 'budget': expected a number of seconds > 0"):
        cfg.replace(budget=math.nan)
    with pytest.raises(ConfigError, match="RunConfig field 'bogus': unknown setting"):
        RunConfig(bogus=1)
    with pytest.raises(ConfigError, match="RunConfig field 'name': a run name must be a plain folder name"):
        cfg.name = ".."
    assert cfg.name is None


def test_stage_names_in_errors_and_help():
    with pytest.raises(ConfigError, match="the stages are " + ", ".join(STAGE_NAMES)):
        RunConfig(stages=["eda", "popularty"])


@pytest.mark.parametrize(
    "name",
    ["..", ".", "", " ", "a/b", "a\\b", ".x", "x.", "a:b", "a*b", "a\nb", "CON", "lpt1.txt", "x" * 201],
)
def test_run_name_must_be_plain(name):
    with pytest.raises(ValueError, match="a run name must be a plain folder name"):
        check_run_name(name)
    with pytest.raises(ConfigError, match="RunConfig field 'name': a run name must be a plain folder name"):
        RunConfig(name=name)


@pytest.mark.parametrize("name", ["run", "tidytuesday-playlist", "2026-11-27_a.b", "Mes chansons", "ロック"])
def test_plain_run_names_are_accepted(name):
    assert RunConfig(name=name).run_name == name
