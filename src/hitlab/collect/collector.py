"""Orchestration: plan, probe, page, fetch artists and audio features, build the table.

Every answered request is written to the :class:`~hitlab.collect.store.Store` before the
next one is sent, so a run can be killed at any moment and the same call resumes. The
phases, in order:

1. probe search (limit 50 or 10: extended quota or development mode);
2. page through each planned search or playlist (failed queries are retried next run);
3. probe the artist and audio-feature endpoints with ids just collected;
4. artists: batches of 50 where allowed, else one request per new artist id (each id once);
5. audio features: Spotify in batches of 100 where allowed, else ReccoBeats in batches of 40;
6. build the canonical track table from the store and write ``tracks.parquet``.

Fields a service does not give (popularity, genres, features, time signature) stay empty
and are counted in the report; nothing is invented. Each row's ``feature_source`` says
where its audio features came from, and one table never mixes sources.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from hitlab import schema
from hitlab.collect.client import (
    ApiClient,
    Credentials,
    Pacer,
    RetryPolicy,
    ServiceURLs,
    Sleeper,
    TokenProvider,
    _plain_sleep,
)
from hitlab.collect.plan import Query, page_offsets, plan_queries
from hitlab.collect.reccobeats import BATCH as RB_BATCH
from hitlab.collect.reccobeats import ReccoBeats
from hitlab.collect.spotify import (
    ARTIST_BATCH,
    FEATURES_BATCH,
    Capabilities,
    Capability,
    SpotifyAPI,
    probe_rest,
    probe_search,
)
from hitlab.collect.store import Store
from hitlab.errors import (
    AuthError,
    CollectError,
    ConfigError,
    EndpointUnavailable,
    RateLimitedError,
)

__all__ = ["CollectConfig", "CollectResult", "Collector", "Progress", "build_table", "collect"]

STORE_NAME = "collect.sqlite"
TABLE_NAME = "tracks.parquet"
REPORT_NAME = "collect-report.json"
FEATURE_SOURCES = ("auto", "spotify", "reccobeats", "none")
SPOTIFY_FEATURES = (*schema.AUDIO_FEATURES, "time_signature")


class Progress(Protocol):
    """What the collector tells its caller; the CLI renders it with Rich."""

    def phase(self, name: str, total: int | None) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def resize(self, total: int) -> None: ...

    def note(self, text: str) -> None: ...


class _Silent:
    def phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def resize(self, total: int) -> None:
        pass

    def note(self, text: str) -> None:
        pass


@dataclass(frozen=True)
class CollectConfig:
    """What to collect and where.

    Parameters
    ----------
    out
        Output folder: ``collect.sqlite`` (the store), ``tracks.parquet``, ``collect-report.json``.
    genres, years, playlists
        The plan: every genre for every year, then every playlist (id, URI or URL).
    max_per_query
        Results to page through per query (Spotify's search stops at 1,000).
    features
        ``"auto"`` (Spotify, else ReccoBeats), ``"spotify"``, ``"reccobeats"`` or ``"none"``.
    workers
        Concurrent requests for one-id-at-a-time fetches (all share one pacer).
    """

    out: Path
    genres: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    playlists: tuple[str, ...] = ()
    max_per_query: int = 1000
    features: str = "auto"
    workers: int = 4

    def __post_init__(self) -> None:
        if self.features not in FEATURE_SOURCES:
            raise ConfigError(f"features must be one of {', '.join(FEATURE_SOURCES)}, got {self.features!r}")
        if not 1 <= self.max_per_query <= 1000:
            raise ConfigError(f"max_per_query must be 1..1000, got {self.max_per_query}")
        if self.workers < 1:
            raise ConfigError(f"workers must be at least 1, got {self.workers}")

    def plan(self) -> list[Query]:
        return plan_queries(self.genres, self.years, self.playlists)


@dataclass
class CollectResult:
    """What a finished run produced."""

    table: pd.DataFrame
    path: Path
    report: dict[str, Any]
    capabilities: Capabilities = field(default_factory=Capabilities)


class Collector:
    """Run one collection against already-built clients (see :func:`collect` for the usual way)."""

    def __init__(
        self,
        config: CollectConfig,
        *,
        spotify: ApiClient,
        reccobeats: ApiClient | None = None,
        store: Store | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.config = config
        self.api = SpotifyAPI(spotify)
        self.reccobeats = ReccoBeats(reccobeats) if reccobeats is not None else None
        self.store = store or Store(Path(config.out) / STORE_NAME)
        self.progress = progress or _Silent()
        self.caps = Capabilities()
        self._stop = threading.Event()

    # ------------------------------------------------------------------ run
    def run(self) -> CollectResult:
        """Collect what is not in the store yet, then build and write the table.

        Raises
        ------
        RateLimitedError
            Spotify or ReccoBeats asked for a longer wait than the cap: everything done so
            far is in the store; run the same call again after ``exc.resume_at``.
        AuthError
            Credentials refused.
        """
        plan = self.config.plan()
        self.store.add_queries(plan)
        self.store.set_meta("plan", [q.query_id for q in plan])
        self.progress.phase("probe", None)
        open_ids = {qid for qid, _ in self.store.open_queries(q.query_id for q in plan)}
        first = next((q for q in plan if q.kind == "search" and q.query_id in open_ids), None)
        first = first or next((q for q in plan if q.kind == "search"), None)
        self.caps = probe_search(self.api, first.q if first else "genre:pop year:2020")
        self.store.record_capabilities(self.caps.items)
        prefetched = {}
        if first is not None:
            prefetched[(first.query_id, 0)] = self.caps.samples.pop("search")
        self._page_queries(plan, prefetched)
        tracks = self._plan_tracks(plan)
        artist_ids = _unique(aid for t in tracks.values() for aid in _artist_ids(t))
        want = self.config.features != "none"
        self.caps = probe_rest(
            self.api,
            self.caps,
            sample_tracks=list(tracks)[:2],
            sample_artists=artist_ids[:2],
            reccobeats=self.reccobeats if self.config.features in ("auto", "reccobeats") else None,
            want_features=want,
        )
        self._keep_samples(list(tracks)[:2])
        self.store.record_capabilities(self.caps.items)
        self.store.set_meta("mode", self.caps.mode)
        self._fetch_artists(artist_ids)
        source = self.feature_source()
        self.store.set_meta("feature_source", source)
        if source is not None:
            self._fetch_features(list(tracks), source)
        return self.write(plan, source)

    def feature_source(self) -> str | None:
        """The one source of audio features for this run, or None when there is none."""
        choice = self.config.features
        if choice in ("auto", "spotify") and self.caps.audio_features:
            return "spotify"
        if choice in ("auto", "reccobeats") and self.caps.reccobeats:
            return "reccobeats"
        return None

    # ------------------------------------------------------------------ paging
    def _keep_samples(self, sample_tracks: list[str]) -> None:
        """Store what the probe requests answered, so those ids are not asked for again."""
        samples = self.caps.samples
        found = {a["id"]: a for a in samples.pop("artists", None) or [] if a and a.get("id")}
        single = samples.pop("artist", None)
        if isinstance(single, dict) and single.get("id"):
            found[single["id"]] = single
        if found:
            self.store.record_artists(found)
        source = self.feature_source()
        if source == "spotify" and "audio_features" in samples:
            feats = {f["id"]: f for f in samples.pop("audio_features") if f and f.get("id")}
            self.store.record_features("spotify", feats, missing=[t for t in sample_tracks if t not in feats])
        if source == "reccobeats" and "reccobeats" in samples:
            feats, missing = samples.pop("reccobeats")
            self.store.record_features("reccobeats", feats, missing=missing)

    def _page_queries(self, plan: Sequence[Query], prefetched: dict[tuple[str, int], Any]) -> None:
        limit = self.caps.search_limit
        by_id = {q.query_id: q for q in plan}
        open_queries = self.store.open_queries(by_id)
        plans = {
            qid: page_offsets(limit, self.config.max_per_query, start=start) for qid, start in open_queries
        }
        estimate = sum(len(p) for p in plans.values())
        self.progress.phase("search", estimate)
        for qid, _ in open_queries:
            query = by_id[qid]
            remaining = plans[qid]
            done_pages = 0
            try:
                for offset in plans[qid]:
                    if (qid, offset) in prefetched:
                        items, n_raw, total, has_next = prefetched.pop((qid, offset))
                    elif query.kind == "search":
                        items, n_raw, total, has_next = self.api.search(query.q, limit=limit, offset=offset)
                    else:
                        items, n_raw, total, has_next = self.api.playlist_items(
                            query.playlist_id or query.q, limit=limit, offset=offset
                        )
                    cap = min(
                        total if total is not None else self.config.max_per_query, self.config.max_per_query
                    )
                    if done_pages == 0:  # the first answer tells how many pages this query has
                        needed = len([o for o in remaining if o < cap]) or 1
                        estimate -= len(remaining) - needed
                        self.progress.resize(estimate)
                        remaining = remaining[:needed]
                    expected = max(0, min(limit, cap - offset))
                    next_offset = offset + limit
                    done = next_offset >= cap or not has_next or n_raw == 0
                    note = None
                    if n_raw == 0 and expected > 0:
                        note = f"ended early: an empty page at offset {offset}, {total} promised"
                    elif n_raw < expected:
                        note = f"short page at offset {offset}: {n_raw} items, {expected} promised"
                    self.store.record_page(
                        qid,
                        offset,
                        items,
                        total=total,
                        next_offset=next_offset,
                        done=done,
                        short=n_raw < expected,
                        note=note,
                    )
                    done_pages += 1
                    self.progress.advance()
                    if done:
                        break
            except (RateLimitedError, AuthError):
                raise
            except CollectError as exc:
                self.store.record_query_failed(qid, str(exc))
                self.progress.note(f"query {qid} failed: {exc}")
            self.progress.advance(len(remaining) - done_pages)

    def _plan_tracks(self, plan: Sequence[Query]) -> dict[str, dict]:
        """Track objects hit by the plan's queries, in plan order (first hit wins)."""
        stored = self.store.tracks()
        order = {q.query_id: i for i, q in enumerate(plan)}
        hits = sorted((h for h in self.store.hits(order)), key=lambda h: (order[h[0]], h[1]))
        return {tid: stored[tid] for _, _, tid in hits if tid in stored}

    # ------------------------------------------------------------------ artists
    def _fetch_artists(self, artist_ids: Sequence[str]) -> None:
        known = self.store.artists()
        needed = [a for a in artist_ids if known.get(a, ("",))[0] != "done"]
        if not needed or not (self.caps.artists_batch or self.caps.artist_single):
            return
        if self.caps.artists_batch:
            batches = [needed[i : i + ARTIST_BATCH] for i in range(0, len(needed), ARTIST_BATCH)]
            self.progress.phase("artists", len(needed))
            for batch in batches:
                try:
                    answer = self.api.artists(batch)
                except (RateLimitedError, AuthError):
                    raise
                except EndpointUnavailable as exc:
                    self._switch_off("artists in batches of 50", exc)
                    self.store.record_artists({}, failed=dict.fromkeys(batch, str(exc)))
                    return  # the remaining ids stay pending for the next run
                except CollectError as exc:
                    self.store.record_artists({}, failed=dict.fromkeys(batch, str(exc)))
                else:
                    found = {a["id"]: a for a in answer if a and a.get("id") in batch}
                    missing = {a: "not returned by GET /artists" for a in batch if a not in found}
                    self.store.record_artists(found, failed=missing)
                self.progress.advance(len(batch))
            return
        self.progress.phase("artists", len(needed))

        def one(artist_id: str) -> None:
            if self._stop.is_set():
                return
            try:
                payload = self.api.artist(artist_id)
            except EndpointUnavailable as exc:
                if exc.status == 403:  # the path is refused: switch it off for this run
                    self._stop.set()
                    self.caps.artist_single = False
                    self._switch_off("artist genre tags", exc)
                self.store.record_artists({}, failed={artist_id: str(exc)})
            except (RateLimitedError, AuthError):
                self._stop.set()
                raise
            except CollectError as exc:
                self.store.record_artists({}, failed={artist_id: str(exc)})
            else:
                self.store.record_artists({artist_id: payload})
            self.progress.advance()

        self._run_each(one, needed)

    def _switch_off(self, name: str, exc: EndpointUnavailable) -> None:
        """A path answered 403/404 mid-run: stop using it and record why."""
        self.caps.add(Capability(name, False, "switched off mid-run", exc.endpoint, exc.status, exc.reason))
        self.store.record_capabilities(self.caps.items)
        self.progress.note(f"switched off {name}: {exc}")

    def _run_each(self, fn: Callable[[str], None], ids: Sequence[str]) -> None:
        """Call ``fn`` on every id with ``workers`` threads; re-raise the first fatal error."""
        self._stop.clear()
        if self.config.workers == 1:
            for i in ids:
                fn(i)
            return
        with ThreadPoolExecutor(self.config.workers, thread_name_prefix="hitlab-collect") as pool:
            futures = [pool.submit(fn, i) for i in ids]
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for fut in finished:
                if fut.exception() is not None:
                    self._stop.set()
                    for other in futures:
                        other.cancel()
                    raise fut.exception()  # type: ignore[misc]

    # ------------------------------------------------------------------ features
    def _fetch_features(self, track_ids: Sequence[str], source: str) -> None:
        known = self.store.features()
        needed = [t for t in track_ids if known.get((t, source), ("",))[0] not in ("done", "missing")]
        if not needed:
            return
        size = FEATURES_BATCH if source == "spotify" else RB_BATCH
        self.progress.phase(f"audio features ({source})", len(needed))
        for i in range(0, len(needed), size):
            batch = needed[i : i + size]
            try:
                if source == "spotify":
                    answer = self.api.audio_features(batch)
                    found = {f["id"]: f for f in answer if f and f.get("id") in batch}
                    missing = [t for t in batch if t not in found]
                else:
                    assert self.reccobeats is not None
                    found, missing = self.reccobeats.audio_features(batch)
            except (RateLimitedError, AuthError):
                raise
            except EndpointUnavailable as exc:
                name = "Spotify audio features" if source == "spotify" else "ReccoBeats audio features"
                self._switch_off(name, exc)
                self.store.record_features(source, {}, failed=dict.fromkeys(batch, str(exc)))
                return  # no retries on a refused path; the rest stays pending for the next run
            except CollectError as exc:
                self.store.record_features(source, {}, failed=dict.fromkeys(batch, str(exc)))
            else:
                self.store.record_features(source, found, missing=missing)
            self.progress.advance(len(batch))

    # ------------------------------------------------------------------ output
    def write(self, plan: Sequence[Query], source: str | None) -> CollectResult:
        """Build the table from the store, write ``tracks.parquet`` and the report."""
        self.progress.phase("write", None)
        table, report = build_table(self.store, plan, source)
        report["capabilities"] = [asdict(c) for c in self.caps.items]
        report["mode"] = self.caps.mode
        report["requests"] = {"spotify": self.api.client.stats.requests}
        if self.reccobeats is not None:
            report["requests"]["reccobeats"] = self.reccobeats.client.stats.requests
        out = Path(self.config.out)
        path = out / TABLE_NAME
        part = path.with_suffix(".parquet.part")
        table.attrs = {}
        table.to_parquet(part, index=False)
        os.replace(part, path)
        report_part = out / (REPORT_NAME + ".part")
        report_part.write_text(json.dumps(report, indent=2, sort_keys=True), "utf-8")
        os.replace(report_part, out / REPORT_NAME)
        return CollectResult(table=table, path=path, report=report, capabilities=self.caps)


def _artist_ids(track: dict) -> list[str]:
    return [a["id"] for a in track.get("artists") or [] if isinstance(a, dict) and a.get("id")]


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def build_table(
    store: Store, plan: Sequence[Query], source: str | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The canonical track table of the plan's queries, from the store, and its counts.

    One row per track id. ``genres`` holds the genres whose searches found the track, each
    once, in the order the searches found it (the plan's order: ``--genres rock,pop`` puts
    ``rock`` first for a track both found), never sorted; ``artist_genres`` joins the tags of
    the track's artists in artist order.
    """
    stored = store.tracks()
    artists = store.artists()
    features = store.features()
    order = {q.query_id: i for i, q in enumerate(plan)}
    by_id = {q.query_id: q for q in plan}
    hits = sorted(store.hits(order), key=lambda h: (order[h[0]], h[1]))
    found_by: dict[str, list[str]] = {}
    for qid, _, tid in hits:
        found_by.setdefault(tid, [])
        if qid not in found_by[tid]:
            found_by[tid].append(qid)
    counts = {
        "popularity": 0,
        "audio_features": 0,
        "features_omitted": 0,
        "features_failed": 0,
        "artist_genres": 0,
        "artists_failed": 0,
        "time_signature": 0,
        "duration_from_track": 0,
    }
    omitted: list[str] = []
    rows = []
    for tid, qids in found_by.items():
        t = stored.get(tid)
        if t is None:
            continue
        album = t.get("album") or {}
        arts = [a for a in t.get("artists") or [] if isinstance(a, dict)]
        row: dict[str, Any] = {
            "track_id": tid,
            "track_name": t.get("name"),
            "artist_name": ", ".join(str(a.get("name", "")) for a in arts) or None,
            "artist_id": ",".join(a["id"] for a in arts if a.get("id")) or None,
            "album_id": album.get("id"),
            "release_date": album.get("release_date"),
            "popularity": t.get("popularity"),
        }
        if row["popularity"] is None:
            counts["popularity"] += 1
        status, feats = features.get((tid, source), ("none", None)) if source else ("none", None)
        feats = feats or {}
        for name in SPOTIFY_FEATURES:
            row[name] = feats.get(name)
        if not feats:
            counts["audio_features"] += 1
            if status == "missing":
                counts["features_omitted"] += 1
                omitted.append(tid)
            elif status == "failed":
                counts["features_failed"] += 1
        if row["duration_ms"] is None and t.get("duration_ms") is not None:
            row["duration_ms"] = t["duration_ms"]
            counts["duration_from_track"] += 1
        if row["time_signature"] is None:
            counts["time_signature"] += 1
        row["feature_source"] = source if feats else None
        # in the order the searches found the track (the plan's order): the first is its main genre
        row["genres"] = tuple(dict.fromkeys(by_id[q].genre for q in qids if by_id[q].genre))
        tags: dict[str, None] = {}
        statuses = [artists.get(aid, ("none", None, None))[0] for aid in _artist_ids(t)]
        if any(s != "done" for s in statuses):
            counts["artists_failed"] += 1  # tracks with an artist not fetched (failed or switched off)
        for aid in _artist_ids(t):
            _, payload, _ = artists.get(aid, ("none", None, None))
            for tag in (payload or {}).get("genres") or []:
                tags[str(tag)] = None
        row["artist_genres"] = tuple(tags)
        if not tags:
            counts["artist_genres"] += 1
        row["query"] = ";".join(qids)
        row["isrc"] = (t.get("external_ids") or {}).get("isrc")
        rows.append(row)
    frame = pd.DataFrame(
        rows,
        columns=[*(c.name for c in schema.COLUMNS if c.name != "year"), "feature_source", "query", "isrc"],
    )
    if frame.empty:
        table = schema.empty_tracks()
        for extra in ("feature_source", "query", "isrc"):
            table[extra] = pd.Series([], dtype="string")
    else:
        table = schema.coerce(frame, source="collect", check_ranges=False)
        for extra in ("feature_source", "query", "isrc"):
            table[extra] = table[extra].astype("string")
    statuses = store.query_status()
    plan_ids = set(order)
    report = {
        "tracks": len(table),
        "feature_source": source,
        "missing": counts,
        "features_omitted_ids": omitted,
        "queries": {
            s: sum(1 for q in statuses if q.query_id in plan_ids and q.status == s)
            for s in ("done", "pending", "failed")
        },
        "short_pages": sum(q.short_pages for q in statuses if q.query_id in plan_ids),
        "failed_queries": {q.query_id: q.error for q in statuses if q.query_id in plan_ids and q.error},
    }
    return table, report


def collect(
    config: CollectConfig,
    credentials: Credentials,
    urls: ServiceURLs | None = None,
    *,
    policy: RetryPolicy | None = None,
    rate: int | None = 120,
    transport: Any | None = None,
    sleep: Sleeper | None = None,
    progress: Progress | None = None,
    seed: int | None = None,
    clock: Callable[[], float] | None = None,
) -> CollectResult:
    """Collect the plan of ``config`` with Client Credentials and write the table.

    Parameters
    ----------
    config
        The plan and output folder.
    credentials
        From :func:`~hitlab.collect.client.load_credentials`.
    urls
        Service URLs (default: the real services).
    policy
        Caps, retries, deadlines (default :class:`RetryPolicy`).
    rate
        Requests per rolling 30 s shared by Spotify calls (None: no pacing).
    transport
        An httpx transport for both services (tests).
    sleep
        ``sleep(seconds, why)``; the CLI shows a countdown.
    progress
        Receives phases and counts (the CLI draws them).
    seed
        Seed of the jitter (pacing and retry waits).
    clock
        A monotonic clock for pacing and deadlines (default :func:`time.monotonic`); tests
        that record waits instead of sleeping pass one that moves on by each recorded wait.
    """
    import httpx

    urls = urls or ServiceURLs()
    policy = policy or RetryPolicy()
    sleep_fn = sleep or _plain_sleep
    now = clock or time.monotonic
    rng = random.Random(seed)
    http = httpx.Client(transport=transport, timeout=policy.timeout)
    try:
        tokens = TokenProvider(credentials, urls.spotify_token, http, policy, sleep=sleep_fn, clock=now)
        spotify = ApiClient(
            urls.spotify_api,
            tokens=tokens,
            policy=policy,
            pacer=Pacer(rate, 30.0, rng=rng, clock=now),
            http=http,
            sleep=sleep_fn,
            clock=now,
            rng=rng,
            name="Spotify",
        )
        recco = ApiClient(
            urls.reccobeats,
            policy=policy,
            pacer=Pacer(rate, 30.0, rng=rng, clock=now),
            http=http,
            sleep=sleep_fn,
            clock=now,
            rng=rng,
            name="ReccoBeats",
        )
        with Store(Path(config.out) / STORE_NAME) as store:
            collector = Collector(config, spotify=spotify, reccobeats=recco, store=store, progress=progress)
            return collector.run()
    finally:
        http.close()
