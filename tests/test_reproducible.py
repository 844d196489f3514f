"""The same inputs and seed give the same numbers when tuning is bounded by trials."""

from __future__ import annotations

import pandas as pd

from hitlab.config import RunConfig
from hitlab.pipeline import run

TIMING = ["fit_s", "predict_rows_per_s", "tune_s", "trials"]


def test_two_runs_with_a_trial_count_give_identical_numbers(tmp_path):
    folders = [
        run(
            RunConfig(out=str(tmp_path), name=name, quick=True, trials=1, stages=["popularity", "genre"])
        ).folder
        for name in ("first", "second")
    ]
    for table in (
        "popularity/leaderboard.csv",
        "genre/leaderboard.csv",
        "genre/strategy_summary.csv",
        "popularity/test_predictions.csv",
        "models/popularity_holdout.csv",
        "models/genre_holdout.csv",
    ):
        a, b = (pd.read_csv(f / table) for f in folders)
        a, b = (t.drop(columns=[c for c in t.columns if c in TIMING]) for t in (a, b))
        pd.testing.assert_frame_equal(a, b, obj=table)
    trials = pd.read_csv(folders[0] / "popularity" / "leaderboard.csv")["trials"]
    assert trials.max() == 1
