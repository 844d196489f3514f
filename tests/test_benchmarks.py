"""The benchmark scripts' own helpers (benchmarks/scaling.py): fast checks on small sizes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

import hitlab

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_tracks_are_distinct_tracks_and_songs(tmp_path):
    scaling = _load("scaling")
    full, bare = scaling.generate(600, tmp_path)
    tracks = hitlab.read_tracks(full)
    cleaned = hitlab.clean(tracks).tracks
    assert len(cleaned) == 600  # nothing dropped as a duplicate
    assert cleaned["track_id"].is_unique
    assert cleaned["song_id"].nunique() == 600  # resampled copies of one real row stay apart
    base = hitlab.load_tidytuesday()
    assert cleaned["danceability"].between(0, 1).all()
    assert not cleaned["danceability"].isin(base["danceability"]).all()  # jittered
    new = pd.read_parquet(bare)
    assert len(new) == 600 and not {"popularity", "genres"} & set(new.columns)


@pytest.mark.parametrize(("text", "n"), [("10k", 10_000), ("1M", 1_000_000), ("2.5m", 2_500_000),
                                         ("500", 500)])
def test_sizes_are_read_with_k_and_m(text, n):
    assert _load("scaling").parse_size(text) == n
