"""Fixtures: stand-in servers on 127.0.0.1 (started per test, stopped at teardown)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from collect_helpers import GENRES, PER_QUERY, YEARS
from standin import Catalogue, StandIn


@pytest.fixture
def catalogue() -> Catalogue:
    cat = Catalogue.build(GENRES, YEARS, PER_QUERY)
    cat.playlists["PL1"] = list(cat.tracks)[:15]
    return cat


def _server(catalogue: Catalogue, mode: str) -> Iterator[StandIn]:
    server = StandIn(catalogue, mode=mode).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dev(catalogue: Catalogue) -> Iterator[StandIn]:
    """A development-mode app (2026 rules)."""
    yield from _server(catalogue, "development")


@pytest.fixture
def ext(catalogue: Catalogue) -> Iterator[StandIn]:
    """An extended-quota app (old behaviour)."""
    yield from _server(catalogue, "extended")
