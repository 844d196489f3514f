"""Fixtures: stand-in servers on 127.0.0.1 (stopped at teardown) and a fast retry policy."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from standin import Catalogue, StandIn

from hitlab.collect.client import Credentials, RetryPolicy, ServiceURLs

GENRES = ["pop", "rock"]
YEARS = [2019, 2020]
PER_QUERY = 23  # pages of 10: 10, 10, 3


#: Waits capped at 0.5 s, tiny backoffs, short timeouts: the whole suite stays fast.
FAST = RetryPolicy(
    max_wait=0.5,
    attempts=4,
    backoff=0.01,
    backoff_max=0.05,
    min_retry_wait=0.01,
    deadline=10.0,
    timeout=0.5,
    jitter=0.1,
)


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


def urls(server: StandIn) -> ServiceURLs:
    env = server.env()
    return ServiceURLs(
        env["HITLAB_SPOTIFY_API_URL"], env["HITLAB_SPOTIFY_TOKEN_URL"], env["HITLAB_RECCOBEATS_URL"]
    )


def creds(server: StandIn) -> Credentials:
    return Credentials(server.client_id, server.client_secret)
