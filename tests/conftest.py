"""Shared fixtures.

The shared real data lives in ``../shared/data`` beside the project root; set
``HITLAB_SHARED_DATA`` to point elsewhere. Tests that need it are skipped with the
reason when it is absent. The built-in TidyTuesday data ships in the package and is
always there.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    return Path(os.environ.get("HITLAB_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder, or skip with the reason."""
    path = shared_data_dir()
    if not (path / "tidytuesday-2020" / "spotify_songs.parquet").exists():
        pytest.skip(f"shared data not found at {path} (set HITLAB_SHARED_DATA to its folder)")
    return path


@pytest.fixture(scope="session")
def artists_file(shared_data: Path) -> Path:
    path = shared_data / "spotify-160k-artist-genres" / "data_w_genres.parquet"
    if not path.exists():
        pytest.skip(f"artist tags table not found at {path}")
    return path


@pytest.fixture(scope="session")
def raw_tidytuesday() -> pd.DataFrame:
    """The built-in table with its own column names."""
    from hitlab.datasets import load_tidytuesday

    return load_tidytuesday(raw=True)


@pytest.fixture(scope="session")
def clean_tracks() -> pd.DataFrame:
    """The built-in data, cleaned and labelled with playlist genres (28,354 tracks)."""
    from hitlab import clean
    from hitlab.datasets import load_tidytuesday
    from hitlab.labels import label_tracks

    tracks, _ = label_tracks(clean(load_tidytuesday()).tracks, "playlist")
    return tracks


@pytest.fixture(scope="session")
def tracks_slice(clean_tracks: pd.DataFrame) -> pd.DataFrame:
    """A reproducible 4,000-track slice of the clean built-in data, for quick model tests."""
    return clean_tracks.sample(n=4000, random_state=0)


@pytest.fixture
def write_csv(tmp_path: Path):
    """Write a DataFrame (or raw text/bytes) to a file in tmp_path and return its path."""

    def _write(content: pd.DataFrame | str | bytes, name: str = "tracks.csv") -> Path:
        path = tmp_path / name
        if isinstance(content, pd.DataFrame):
            if name.endswith(".parquet"):
                content.to_parquet(path, index=False)
            else:
                content.to_csv(path, index=False)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return _write


def _tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (and a marker for every folder), by relative path."""
    return {
        p.relative_to(root).as_posix(): "<dir>" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(Path(root).rglob("*"))
    }


@pytest.fixture
def tree_hashes():
    """``tree_hashes(root)``: every file's sha256 under ``root``; compare before/after a data-loss case."""
    return _tree_hashes
