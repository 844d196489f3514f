"""The collector against stand-in Spotify and ReccoBeats servers on 127.0.0.1.

Every test compares the collected table with what the stand-in served (through the
server's own visibility rules: development mode hides popularity, ReccoBeats has no time
signature, omitted ids have no features), never with numbers written into the test.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from collect_helpers import FAST, GENRES, YEARS, Waits, creds, urls
from standin import RB_FEATURES, Fault, RateLimitPattern, StandIn

import hitlab
from hitlab.collect import CollectConfig, CollectResult, Store, collect
from hitlab.collect.client import Credentials, RetryPolicy
from hitlab.collect.collector import STORE_NAME
from hitlab.errors import AuthError, RateLimitedError

COMPARED = (
    "track_name",
    "artist_name",
    "artist_id",
    "album_id",
    "release_date",
    "popularity",
    *RB_FEATURES,
    "duration_ms",
    "time_signature",
    "genres",
    "artist_genres",
    "feature_source",
)
QUOTA = {"reason": "QUOTA_EXCEEDED", "message": "Too many requests"}


def run(
    server: StandIn, out: Path, waits: Waits | None = None, policy: RetryPolicy = FAST, **config: Any
) -> CollectResult:
    config.setdefault("genres", tuple(GENRES))
    config.setdefault("years", tuple(YEARS))
    config.setdefault("workers", 3)
    waits = waits or Waits()
    return collect(
        CollectConfig(out=out, **config),
        creds(server),
        urls(server),
        policy=policy,
        rate=None,
        sleep=waits,
        clock=waits.clock,
    )


def served_table(
    server: StandIn,
    source: str | None,
    *,
    genres=GENRES,
    years=YEARS,
    playlists=(),
    omitted=frozenset(),
    dropped=None,
) -> pd.DataFrame:
    """What the server served, as the rows the collector should produce.

    ``dropped`` maps ``(genre, year)`` to the track ids that query did not return.
    """
    dropped = dropped or {}
    cat = server.catalogue
    found: dict[str, dict[str, None]] = {}  # track -> genres of the searches that found it, in plan order
    for g in genres:
        for y in years:
            for tid in cat.by_query[(g, y)]:
                if tid not in dropped.get((g, y), ()):
                    found.setdefault(tid, {})[g] = None
    for pid in playlists:
        for tid in cat.playlists[pid]:
            found.setdefault(tid, {})
    rows = []
    for tid, gs in found.items():
        t = server._public_track(tid)
        arts = [server._public_artist(a["id"]) for a in t["artists"]]
        f = {} if (tid in omitted or source is None) else cat.features[tid]
        row = {
            "track_id": tid,
            "track_name": t["name"],
            "artist_name": ", ".join(a["name"] for a in arts),
            "artist_id": ",".join(a["id"] for a in arts),
            "album_id": t["album"]["id"],
            "release_date": t["album"]["release_date"],
            "popularity": t.get("popularity"),
            "genres": tuple(gs),
            "artist_genres": tuple(dict.fromkeys(g for a in arts for g in a.get("genres", []))),
            "feature_source": source if f else None,
        }
        for k in RB_FEATURES:
            row[k] = f.get(k)
        row["time_signature"] = f.get("time_signature") if source == "spotify" else None
        row["duration_ms"] = f["duration_ms"] if (source == "spotify" and f) else t["duration_ms"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("track_id")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return value
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def assert_same(table: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same track ids (no duplicates), same values in every compared column."""
    assert table["track_id"].is_unique
    assert sorted(table["track_id"]) == sorted(expected.index)
    got = table.set_index("track_id").loc[expected.index]
    for col in COMPARED:
        a = [_plain(v) for v in got[col].astype(object)]
        b = [_plain(v) for v in expected[col].astype(object)]
        assert a == b, f"column {col} differs"


# ----------------------------------------------------------------------------- modes


def test_development_mode_collects_what_the_2026_api_allows(dev: StandIn, tmp_path: Path) -> None:
    result = run(dev, tmp_path)
    assert_same(result.table, served_table(dev, "reccobeats"))
    # what the table says is missing is really missing, and counted
    assert result.table["popularity"].isna().all() and result.table["time_signature"].isna().all()
    assert result.report["missing"]["popularity"] == len(result.table)
    assert result.report["mode"] == "development mode"
    # limit > 10 asked once (the probe) and refused with 400; every other search at 10
    searches = dev.requests("search")
    assert [r["status"] for r in searches if int(r["params"]["limit"]) > 10] == [400]
    assert {r["params"]["limit"] for r in searches if r["status"] == 200} == {"10"}
    # no page asked twice (the probe's page is kept)
    pages = [(r["params"]["q"], r["params"]["offset"]) for r in searches if r["status"] == 200]
    assert len(pages) == len(set(pages))
    # one request per artist, each artist once; /audio-features asked once and refused
    artist_paths = [r["path"] for r in dev.requests("artist")]
    assert len(artist_paths) == len(set(artist_paths))
    assert len(artist_paths) == len({a for ids in result.table["artist_id"] for a in ids.split(",")})
    assert [r["status"] for r in dev.requests("audio-features")] == [403]
    assert [r["status"] for r in dev.requests("artists")] == [404]
    assert all(len(r["params"]["ids"].split(",")) <= 40 for r in dev.requests("rb"))
    caps = {c["name"]: c for c in result.report["capabilities"]}
    assert caps["Spotify audio features"]["status"] == 403 and not caps["Spotify audio features"]["available"]
    assert caps["search pages of 50"]["reason"] == "Invalid limit"


def test_extended_quota_uses_batches_and_keeps_popularity(ext: StandIn, tmp_path: Path) -> None:
    result = run(ext, tmp_path)
    assert_same(result.table, served_table(ext, "spotify"))
    assert result.table["popularity"].notna().all() and result.table["time_signature"].notna().all()
    assert {r["params"]["limit"] for r in ext.requests("search")} == {"50"}
    assert all(len(r["params"]["ids"].split(",")) <= 50 for r in ext.requests("artists"))
    assert all(len(r["params"]["ids"].split(",")) <= 100 for r in ext.requests("audio-features"))
    assert len(ext.requests("artist")) <= 1  # the probe only
    assert ext.requests("rb") == []  # no second source needed
    # extended mode needs far fewer requests for the same tracks
    assert len(ext.log) < 15


def test_output_is_readable_by_read_tracks(dev: StandIn, tmp_path: Path) -> None:
    result = run(dev, tmp_path)
    back = hitlab.read_tracks(result.path)
    assert back.attrs["mapping"] == "canonical"
    assert_same(back, served_table(dev, "reccobeats"))
    assert back["year"].tolist() == [int(d[:4]) for d in back["release_date"]]


def test_genres_keep_the_order_in_which_the_searches_found_the_track(dev: StandIn, tmp_path: Path) -> None:
    # rock first: tracks of the rock 2019 search that the pop 2020 search finds again train as rock
    result = run(dev, tmp_path, genres=("rock", "pop"))
    assert_same(result.table, served_table(dev, "reccobeats", genres=("rock", "pop")))
    both = result.table[result.table["genres"].map(len) == 2]
    assert len(both) > 0
    assert set(both["genres"]) == {("rock", "pop")}
    rock_2019 = set(dev.catalogue.by_query[("rock", 2019)])
    pop_2020 = set(dev.catalogue.by_query[("pop", 2020)])
    assert set(both["track_id"]) <= rock_2019 & pop_2020


def test_playlists_are_paged_too(dev: StandIn, tmp_path: Path) -> None:
    result = run(dev, tmp_path, genres=(), years=(), playlists=("spotify:playlist:PL1",))
    assert_same(result.table, served_table(dev, "reccobeats", genres=(), playlists=["PL1"]))
    assert all(g == () for g in result.table["genres"])
    assert {r["params"]["limit"] for r in dev.requests("playlist")} == {"10"}


# ----------------------------------------------------------------------------- injections


def test_429_with_short_retry_after_is_waited_out(dev: StandIn, tmp_path: Path) -> None:
    dev.inject("search", Fault(429, retry_after="0.3", **QUOTA, match={"offset": "10"}))
    waits = Waits()
    result = run(dev, tmp_path, waits)
    assert_same(result.table, served_table(dev, "reccobeats"))
    rate_waits = [s for s, why in waits.calls if "rate limited" in why]
    assert len(rate_waits) == 1 and 0.3 <= rate_waits[0] <= FAST.max_wait


@pytest.mark.parametrize(
    "pattern",
    [RateLimitPattern(7, run=1, retry_after="1"), RateLimitPattern(49, run=7, retry_after="1")],
    ids=["one-in-seven", "one-in-seven-in-runs-of-seven"],
)
def test_one_request_in_seven_rate_limited_finishes_in_one_run(
    catalogue, tmp_path: Path, pattern: RateLimitPattern
) -> None:
    """About one request in seven answered 429 Retry-After: 1 never ends the run: every track once."""
    policy = dataclasses.replace(FAST, max_wait=5.0, deadline=60.0)  # waits are recorded, not slept
    waits = Waits()
    with StandIn(catalogue, rate_limit=pattern) as server:
        result = run(server, tmp_path, waits, policy=policy)
        expected = served_table(server, "reccobeats")
        statuses = [r.get("status") for r in server.log if r["route"] != "token"]
        searches = [r for r in server.requests("search") if r.get("status") == 200]
    assert_same(result.table, expected)  # every track exactly once, nothing missing
    assert result.report["queries"] == {"done": 4, "pending": 0, "failed": 0}
    missing = result.report["missing"]
    assert missing["artists_failed"] == 0 and missing["features_failed"] == 0
    n_limited = statuses.count(429)
    # answered 429 as the pattern says: one request in seven over each cycle
    assert n_limited == sum(pattern.limits(n) for n in range(len(statuses))) >= 7
    rate_waits = [s for s, why in waits.calls if "rate limited" in why]
    assert len(rate_waits) == n_limited and all(s >= 1.0 for s in rate_waits)  # each Retry-After honoured
    pages = [(r["params"]["q"], r["params"]["offset"]) for r in searches]
    assert len(pages) == len(set(pages))  # no page fetched twice


def test_429_with_a_day_long_retry_after_checkpoints_and_resumes(dev: StandIn, tmp_path: Path) -> None:
    dev.inject("search", Fault(429, retry_after="86400", **QUOTA, match={"q": "genre:rock year:2019"}))
    waits = Waits()
    with pytest.raises(RateLimitedError) as info:
        run(dev, tmp_path, waits)
    assert (info.value.retry_after, info.value.reason) == (86400.0, "QUOTA_EXCEEDED")
    assert all(s <= FAST.max_wait for s, _ in waits.calls)  # the day was not slept
    with Store(tmp_path / STORE_NAME) as store:
        status = {q.query_id: q.status for q in store.query_status()}
    assert status == {
        "search:pop:2019": "done",
        "search:pop:2020": "done",
        "search:rock:2019": "pending",
        "search:rock:2020": "pending",
    }
    before = len(dev.requests("search"))
    result = run(dev, tmp_path)
    assert_same(result.table, served_table(dev, "reccobeats"))
    pages = [(r["params"]["q"], r["params"]["offset"]) for r in dev.requests("search") if r["status"] == 200]
    assert len(pages) == len(set(pages))  # nothing asked twice across the two runs
    assert len(dev.requests("search")) - before == 2 + 2 + 3  # probe (400, rock 2019 p0), then 2 + 3 pages


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried(dev: StandIn, tmp_path: Path, status: int) -> None:
    dev.inject("search", Fault(status, match={"offset": "10"}), Fault(status, match={"offset": "20"}))
    dev.inject("artist", Fault(status))
    dev.inject("rb", Fault(status))
    result = run(dev, tmp_path)
    assert_same(result.table, served_table(dev, "reccobeats"))


def test_503_on_every_attempt_fails_that_query_only_and_says_503(dev: StandIn, tmp_path: Path) -> None:
    match = {"q": "genre:rock year:2020", "offset": "10"}
    dev.inject("search", *[Fault(503, message="Service unavailable", match=match)] * FAST.attempts)
    result = run(dev, tmp_path)
    assert result.report["queries"] == {"done": 3, "pending": 0, "failed": 1}
    error = result.report["failed_queries"]["search:rock:2020"]
    assert "HTTP 503" in error and "429" not in error
    lost = dev.catalogue.by_query[("rock", 2020)][10:]
    assert_same(result.table, served_table(dev, "reccobeats", dropped={("rock", 2020): lost}))
    again = run(dev, tmp_path)  # the failed query is retried from its cursor
    assert again.report["queries"]["failed"] == 0
    assert_same(again.table, served_table(dev, "reccobeats"))


def test_slow_response_past_the_timeout_is_retried(dev: StandIn, tmp_path: Path) -> None:
    dev.inject("search", Fault(delay=FAST.timeout + 0.3, match={"offset": "10"}))
    dev.inject("rb", Fault(delay=FAST.timeout + 0.3))
    result = run(dev, tmp_path)
    assert_same(result.table, served_table(dev, "reccobeats"))
    assert len([r for r in dev.requests("search") if r["params"]["offset"] == "10"]) == 4 + 1


def test_expired_token_is_refreshed_once(dev: StandIn, tmp_path: Path) -> None:
    dev.inject("search", Fault(expire_tokens=True, match={"offset": "20"}))
    result = run(dev, tmp_path)
    assert_same(result.table, served_table(dev, "reccobeats"))
    assert dev.grants == 2
    assert [r["status"] for r in dev.log if r.get("status") == 401] == [401]


def test_refused_credentials_stop_with_reauthorise(dev: StandIn, tmp_path: Path) -> None:
    config = CollectConfig(out=tmp_path, genres=("pop",), years=(2019,))
    with pytest.raises(AuthError, match="re-authorise"):
        collect(config, Credentials(dev.client_id, "wrong"), urls(dev), policy=FAST, rate=None, sleep=Waits())
    assert [r["route"] for r in dev.log] == ["token"]


def test_403_on_audio_features_leaves_them_empty_if_only_spotify(dev: StandIn, tmp_path: Path) -> None:
    result = run(dev, tmp_path, features="spotify")
    assert_same(result.table, served_table(dev, None))
    assert result.report["feature_source"] is None
    assert result.report["missing"]["audio_features"] == len(result.table)
    assert result.table["danceability"].isna().all() and result.table["feature_source"].isna().all()
    assert dev.requests("rb") == []


def test_missing_popularity_and_artist_genres_stay_empty_and_counted(catalogue, tmp_path: Path) -> None:
    with StandIn(catalogue, artist_genres=False) as server:
        result = run(server, tmp_path)
        assert_same(result.table, served_table(server, "reccobeats"))
    assert all(g == () for g in result.table["artist_genres"])
    assert result.report["missing"]["artist_genres"] == len(result.table)
    assert result.report["missing"]["popularity"] == len(result.table)
    caps = {c["name"]: c for c in result.report["capabilities"]}
    assert not caps["artist genre tags"]["available"]


def test_malformed_json_is_an_error_not_an_empty_page(dev: StandIn, tmp_path: Path) -> None:
    match = {"q": "genre:pop year:2020", "offset": "0"}
    dev.inject("search", *[Fault(malformed=True, match=match)] * FAST.attempts)
    result = run(dev, tmp_path)
    assert "not JSON" in result.report["failed_queries"]["search:pop:2020"]
    with Store(tmp_path / STORE_NAME) as store:
        failed = [q for q in store.query_status() if q.status == "failed"]
    assert [(q.query_id, q.n_items) for q in failed] == [("search:pop:2020", 0)]
    dropped = {("pop", 2020): dev.catalogue.by_query[("pop", 2020)]}
    assert_same(result.table, served_table(dev, "reccobeats", dropped=dropped))


def test_malformed_json_once_is_retried(dev: StandIn, tmp_path: Path) -> None:
    dev.inject("search", Fault(malformed=True, match={"offset": "10"}))
    dev.inject("rb", Fault(malformed=True))
    assert_same(run(dev, tmp_path).table, served_table(dev, "reccobeats"))


def test_a_page_shorter_than_promised_keeps_what_was_served(dev: StandIn, tmp_path: Path) -> None:
    dev.inject("search", Fault(short=4, match={"q": "genre:pop year:2019", "offset": "10"}))
    result = run(dev, tmp_path)
    dropped = {("pop", 2019): dev.catalogue.by_query[("pop", 2019)][14:20]}
    assert_same(result.table, served_table(dev, "reccobeats", dropped=dropped))
    assert result.report["short_pages"] == 1
    assert result.report["queries"]["done"] == 4  # paging went on past the short page


def test_ids_omitted_by_reccobeats_are_listed_as_missing(dev: StandIn, tmp_path: Path) -> None:
    omitted = set(list(dev.catalogue.tracks)[5:9])
    dev.rb_omit = omitted
    result = run(dev, tmp_path)
    assert_same(result.table, served_table(dev, "reccobeats", omitted=frozenset(omitted)))
    assert sorted(result.report["features_omitted_ids"]) == sorted(omitted)
    assert result.report["missing"]["features_omitted"] == len(omitted)


def test_a_second_run_sends_no_request_but_the_probe(dev: StandIn, tmp_path: Path) -> None:
    first = run(dev, tmp_path)
    n = len(dev.log)
    second = run(dev, tmp_path)
    assert_same(second.table, served_table(dev, "reccobeats"))
    routes = [r["route"] for r in dev.log[n:]]
    assert set(routes) <= {"token", "search", "artists", "artist", "audio-features", "rb"}
    assert len(routes) <= 8
    pd.testing.assert_frame_equal(first.table, second.table)


def test_403_mid_run_switches_the_path_off_without_retries(ext: StandIn, tmp_path: Path) -> None:
    ext.inject("audio-features", Fault(), Fault(403, message="Forbidden"))  # the probe passes, the batch not
    result = run(ext, tmp_path)
    assert [r["status"] for r in ext.requests("audio-features")] == [200, 403]
    caps = {c["name"]: c for c in result.report["capabilities"]}
    assert caps["Spotify audio features"] == {
        "name": "Spotify audio features",
        "available": False,
        "detail": "switched off mid-run",
        "endpoint": "Spotify GET /audio-features",
        "status": 403,
        "reason": "Forbidden",
    }
    assert result.report["missing"]["features_failed"] == len(result.table) - 2  # all but the probe's two
    again = run(ext, tmp_path)  # the path is probed again and the rest is fetched
    assert_same(again.table, served_table(ext, "spotify"))


def test_403_on_single_artists_mid_run_stops_asking(dev: StandIn, tmp_path: Path) -> None:
    dev.inject("artist", Fault(), Fault(), Fault(403, message="Forbidden"))
    result = run(dev, tmp_path, workers=1)
    assert [r["status"] for r in dev.requests("artist")] == [200, 200, 403]
    assert result.report["missing"]["artists_failed"] >= 1
    assert not {c["name"]: c for c in result.report["capabilities"]}["artist genre tags"]["available"]


def test_reccobeats_429_is_waited_out_like_spotify(dev: StandIn, tmp_path: Path) -> None:
    dev.inject("rb", Fault(), Fault(429, retry_after="0.2", **QUOTA))  # the probe passes, a batch is limited
    waits = Waits()
    result = run(dev, tmp_path, waits)
    assert_same(result.table, served_table(dev, "reccobeats"))
    rb_waits = [s for s, why in waits.calls if "rate limited by ReccoBeats" in why]
    assert len(rb_waits) == 1 and rb_waits[0] >= 0.2
