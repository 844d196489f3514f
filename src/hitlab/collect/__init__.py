"""Collect a canonical track table from the Spotify Web API (2026 rules), resumably.

>>> from hitlab.collect import CollectConfig
>>> CollectConfig(out="out", genres=("pop",), years=(2020,)).plan()[0].q
'genre:pop year:2020'

See ``docs/collect.md``. The pieces: :mod:`~hitlab.collect.client` (HTTP, pacing, retries),
:mod:`~hitlab.collect.spotify` (endpoints, capability probe), :mod:`~hitlab.collect.reccobeats`
(second audio-features source), :mod:`~hitlab.collect.store` (SQLite WAL store),
:mod:`~hitlab.collect.plan` and :mod:`~hitlab.collect.collector`.
"""

from hitlab.collect.client import (
    ApiClient,
    Credentials,
    Pacer,
    RetryPolicy,
    ServiceURLs,
    load_credentials,
    service_urls,
)
from hitlab.collect.collector import CollectConfig, Collector, CollectResult, collect
from hitlab.collect.plan import parse_years, plan_queries
from hitlab.collect.store import Store

__all__ = [
    "ApiClient",
    "CollectConfig",
    "CollectResult",
    "Collector",
    "Credentials",
    "Pacer",
    "RetryPolicy",
    "ServiceURLs",
    "Store",
    "collect",
    "load_credentials",
    "parse_years",
    "plan_queries",
    "service_urls",
]
