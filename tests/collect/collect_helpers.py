"""Shared helpers of the collector tests: the stand-in's catalogue size and a fast retry policy."""

from __future__ import annotations

import time

from standin import StandIn

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


class Waits:
    """Records every wait instead of sleeping; :meth:`clock` moves on by what was "slept"."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []
        self.slept = 0.0

    def __call__(self, seconds: float, why: str) -> None:
        self.calls.append((seconds, why))
        self.slept += max(0.0, seconds)

    def clock(self) -> float:
        """``time.monotonic()`` plus every recorded wait: pacing and deadlines see the waits."""
        return time.monotonic() + self.slept

    @property
    def retry_waits(self) -> list[float]:
        return [s for s, why in self.calls if why != "pacing"]


def urls(server: StandIn) -> ServiceURLs:
    env = server.env()
    return ServiceURLs(
        env["HITLAB_SPOTIFY_API_URL"], env["HITLAB_SPOTIFY_TOKEN_URL"], env["HITLAB_RECCOBEATS_URL"]
    )


def creds(server: StandIn) -> Credentials:
    return Credentials(server.client_id, server.client_secret)
