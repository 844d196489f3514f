"""Default runs repeat exactly: trials, not the clock, end tuning; a busy machine changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from hitlab import pipeline
from hitlab.config import RunConfig
from hitlab.datasets import load_tidytuesday
from hitlab.modeling.persist import sha256_file
from hitlab.popularity import QUICK_TRIALS

#: What identifies a saved model's content. (The .skops bytes themselves differ between
#: identical fits: skops names arrays by object id, and scikit-learn's tree node arrays carry
#: uninitialised padding bytes; the reload checks show the models predict identically.)
MODEL_IDENTITY = ("model", "strategy", "params", "features", "training_data_sha256", "classes")

#: Files that must be byte-identical between runs of the same inputs, options and seed.
SAME = (
    "popularity/leaderboard.csv",
    "popularity/test_predictions.csv",
    "genre/leaderboard.csv",
    "genre/strategy_summary.csv",
    "models/popularity_test_predictions.csv",
    "models/popularity_reload_check.csv",
    "models/genre_test_predictions.csv",
    "models/genre_reload_check.csv",
)


@contextmanager
def cpu_hog(processes: int = 2) -> Iterator[None]:
    """Busy loops on every core while the block runs (ended by their own process ids)."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


@pytest.mark.slow
def test_default_quick_runs_repeat_exactly_even_on_a_busy_machine(tmp_path: Path, monkeypatch) -> None:
    sample = load_tidytuesday().sample(n=1500, random_state=5)
    monkeypatch.setattr(pipeline, "load_tidytuesday", lambda: sample)

    def one(name: str) -> Path:
        config = RunConfig(out=str(tmp_path), name=name, quick=True, stages=["popularity", "genre"])
        return pipeline.run(config).folder

    first, second = one("first"), one("second")
    with cpu_hog():
        busy = one("busy")
    for relative in SAME:
        digests = {sha256_file(folder / relative) for folder in (first, second, busy)}
        assert len(digests) == 1, relative
    for task in ("popularity", "genre"):
        manifests = [json.loads((f / "models" / f"{task}.json").read_text()) for f in (first, second, busy)]
        identities = [json.dumps({k: m.get(k) for k in MODEL_IDENTITY}, sort_keys=True) for m in manifests]
        assert len(set(identities)) == 1, task
    for task in ("popularity", "genre"):
        board = pd.read_csv(first / task / "leaderboard.csv")
        assert not board["clock_capped"].any() and (board["trials"] == board["planned_trials"]).all()
        assert {"fit_s", "tune_s", "predict_rows_per_s"} <= set(pd.read_csv(first / task / "timings.csv"))
    popularity = pd.read_csv(first / "popularity" / "leaderboard.csv").set_index("model")
    assert popularity.loc["lightgbm", "trials"] == QUICK_TRIALS  # a count, not the clock


@pytest.mark.slow
def test_analyses_in_two_processes_write_what_one_after_another_writes(tmp_path: Path, monkeypatch) -> None:
    """``workers=2`` (the default: the genre analysis in a worker process) and ``workers=1``: every
    table, section and the report text agree."""
    sample = load_tidytuesday().sample(n=1500, random_state=7)
    monkeypatch.setattr(pipeline, "load_tidytuesday", lambda: sample)
    folders = [
        pipeline.run(RunConfig(out=str(tmp_path), name=f"w{workers}", quick=True, workers=workers)).folder
        for workers in (1, 2)
    ]
    where = [json.loads((f / "manifest.json").read_text())["computed_in"] for f in folders]
    assert set(where[0].values()) == {"run"} and where[1]["genre"].startswith("worker ")
    files = sorted(p.relative_to(folders[0]).as_posix() for p in folders[0].rglob("*.csv"))
    assert len(files) > 15 and files == sorted(
        p.relative_to(folders[1]).as_posix() for p in folders[1].rglob("*.csv"))
    for relative in files:
        if relative.endswith("timings.csv"):
            continue
        assert (folders[0] / relative).read_bytes() == (folders[1] / relative).read_bytes(), relative
    for name in ("popularity", "genre"):
        readings = [json.loads((f / name / "section.json").read_text())["reading"] for f in folders]
        assert readings[0] == readings[1], name
