"""Benchmark: the collector against the stand-in server with 20 ms latency per request.

Development mode (search pages of 10, one request per artist, ReccoBeats in batches of 40)
versus extended quota (pages of 50, artists in batches of 50, audio features in batches of
100), on about 1,000 tracks (4 genres x 3 years x 100 results, some shared between queries;
about 0.3 artists per track). Pacing is off here, so the numbers measure the protocol and
the client; against the real service the pacer (default 120 requests per rolling 30 s)
bounds the rate, shown in the last column as the time 1,000 tracks need at that budget.

The last row is development mode with 4 workers against a busy server: one request in seven
answered 429 with ``Retry-After: --retry-after`` (1 s by default, as in issue 12; really
slept; waits shorter than the client's 0.5 s floor are waited 0.5 s), to show what waiting
out the short rate limits costs; it must finish in one run with every track once.

Run: ``python benchmarks/collect.py [--per-query 100] [--latency 0.02] [--retry-after 1]``.
Takes about three minutes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "collect"))

from collect_helpers import Waits  # noqa: E402
from standin import Catalogue, RateLimitPattern, StandIn  # noqa: E402

from hitlab.collect import CollectConfig, Credentials, RetryPolicy, ServiceURLs, collect  # noqa: E402

GENRES = ["pop", "rock", "hip hop", "edm"]
YEARS = [2018, 2019, 2020]
DEFAULT_RATE = 120  # requests per 30 s, the collector's default pacer budget


def run(
    catalogue: Catalogue, mode: str, workers: int, latency: float, rate_limit: RateLimitPattern | None = None
) -> dict:
    server = StandIn(catalogue, mode=mode, latency=latency, rate_limit=rate_limit)
    with server, tempfile.TemporaryDirectory() as out:
        env = server.env()
        urls = ServiceURLs(
            env["HITLAB_SPOTIFY_API_URL"], env["HITLAB_SPOTIFY_TOKEN_URL"], env["HITLAB_RECCOBEATS_URL"]
        )
        config = CollectConfig(out=Path(out), genres=tuple(GENRES), years=tuple(YEARS), workers=workers)
        start = time.perf_counter()
        result = collect(
            config,
            Credentials(server.client_id, server.client_secret),
            urls,
            policy=RetryPolicy(timeout=10),
            rate=None,
            sleep=None if rate_limit else Waits(),  # 429 waits are really slept
        )
        seconds = time.perf_counter() - start
        requests = len(server.log)
        limited = sum(1 for r in server.log if r.get("status") == 429)
    n = len(result.table)
    if not result.table["track_id"].is_unique:
        raise SystemExit("a track was collected twice")
    per_k = requests / n * 1000
    return {
        "mode": mode,
        "workers": workers,
        "tracks": n,
        "requests": requests,
        "seconds": seconds,
        "tracks_per_s": n / seconds,
        "requests_per_1000": per_k,
        "paced_minutes_per_1000": per_k / (DEFAULT_RATE / 30) / 60,
        "source": result.report["feature_source"],
        "limited": limited,
    }


def limited(row: dict, retry_after: str) -> str:
    return f"{row['limited']} ({retry_after} s)" if row["limited"] else "0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-query", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--retry-after", default="1", help="Retry-After of the 1-in-7 429s, seconds")
    opts = parser.parse_args()
    catalogue = Catalogue.build(GENRES, YEARS, opts.per_query, artists_per_genre=75)
    rows = [
        run(catalogue, "development", 1, opts.latency),
        run(catalogue, "development", 4, opts.latency),
        run(catalogue, "extended", 1, opts.latency),
        run(catalogue, "development", 4, opts.latency, RateLimitPattern(7, retry_after=opts.retry_after)),
    ]
    print(f"stand-in latency {opts.latency * 1000:.0f} ms per request, pacing off\n")
    head = (
        "mode",
        "429s (Retry-After)",
        "workers",
        "tracks",
        "requests",
        "req / 1,000 tracks",
        "seconds",
        "tracks / s",
        "min / 1,000 tracks at 120 req/30 s",
    )
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        print(
            f"| {r['mode']} ({r['source']}) | {limited(r, opts.retry_after)} | {r['workers']} | "
            f"{r['tracks']} | {r['requests']} | "
            f"{r['requests_per_1000']:.0f} | {r['seconds']:.1f} | {r['tracks_per_s']:.0f} | "
            f"{r['paced_minutes_per_1000']:.1f} |"
        )


if __name__ == "__main__":
    main()
