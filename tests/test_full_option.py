"""`--full`: the default run fits the models that win in cross-validation; `--full` the whole zoo."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from hitlab import genre, popularity
from hitlab.cli import app
from hitlab.config import RunConfig
from hitlab.errors import ConfigError


def test_quick_and_full_together_are_refused_with_the_reason() -> None:
    with pytest.raises(ConfigError, match="quick and full contradict each other"):
        RunConfig(quick=True, full=True)


def test_the_cli_refuses_quick_and_full_in_one_line(tmp_path) -> None:
    result = CliRunner().invoke(app, ["run", "--quick", "--full", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "quick and full contradict each other" in result.output
    assert "Traceback" not in result.output
    assert not any(tmp_path.iterdir())


def _models(board: pd.DataFrame) -> set[str]:
    return set(board["model"])


def test_popularity_default_fits_the_default_models_and_full_the_whole_zoo(tracks_slice) -> None:
    rows = tracks_slice.head(600)
    default = popularity.fit(rows, max_trials=1, n_boot=0)
    assert _models(default.leaderboard) == {"median", *popularity.DEFAULT_MODELS}
    full = popularity.fit(rows, max_trials=1, n_boot=0, full=True)
    assert {"random_forest", "knn", "mlp", "ridge"} <= _models(full.leaderboard)


def test_genre_default_compares_two_strategies_and_full_all_four(tracks_slice) -> None:
    rows = tracks_slice.head(800)
    default = genre.fit(rows, max_trials=1, n_boot=0)
    board = default.fit.leaderboard()
    assert set(board["strategy"]) == set(genre.DEFAULT_STRATEGIES)
    assert _models(board) == {"majority", "lightgbm", *genre.DEFAULT_ZOO}
    full = genre.fit(rows, max_trials=1, n_boot=0, full=True, models=[])
    assert set(full.fit.leaderboard()["strategy"]) == set(genre.STRATEGY_ORDER)


def test_run_full_through_the_cli_writes_the_whole_zoo_to_the_leaderboard(tmp_path, tracks_slice) -> None:
    data = tmp_path / "tracks.csv"
    tracks_slice.head(500).drop(columns=["genres", "song_id"], errors="ignore").to_csv(data, index=False)
    out = tmp_path / "runs"
    result = CliRunner().invoke(app, ["run", "--data", str(data), "--out", str(out), "--name", "f", "--full",
                                      "--trials", "1", "--stages", "popularity"])
    assert result.exit_code == 0, result.output
    board = pd.read_csv(out / "f" / "popularity" / "leaderboard.csv")
    assert {"random_forest", "gradient_boosting", "knn"} <= _models(board)
