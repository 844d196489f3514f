"""Stand-in Spotify Web API and ReccoBeats servers for the collector's tests and benchmark.

One Starlette app serves, on 127.0.0.1 and a free port:

- ``POST /api/token`` (Client Credentials), ``GET /v1/search``, ``GET /v1/artists``,
  ``GET /v1/artists/{id}``, ``GET /v1/audio-features``, ``GET /v1/playlists/{id}/items``
  shaped as in ``shared/spotify/spotify-web-api-openapi.yml``, in *development* mode
  (search limit <= 10, no batches, no popularity, 403 on audio features) or *extended* mode;
- ``GET /rb/v1/audio-features`` shaped as ReccoBeats answers (<= 40 ids, unknown ids left
  out, answer order unrelated to the request: match on ``href``).

Faults are queued per route with :meth:`StandIn.inject` and consumed by the next requests:
an HTTP status (with ``Retry-After`` and a Spotify error body), a delay, a malformed body,
a page shorter than promised. A :class:`RateLimitPattern` answers a steady share of all
API requests with 429 (e.g. one in seven with ``Retry-After: 1``), as a busy service does.
Every request and every JSON body served is logged.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TAGS = {
    "pop": ["pop", "dance pop", "electropop"],
    "rock": ["rock", "modern rock", "alternative rock"],
    "hip hop": ["hip hop", "rap", "trap"],
    "jazz": ["jazz", "contemporary jazz"],
    "edm": ["edm", "house", "electro house"],
    "country": ["country", "contemporary country"],
    "latin": ["latin", "reggaeton"],
    "r&b": ["r&b", "urban contemporary"],
}


def spotify_id(key: str) -> str:
    """A deterministic 22-character base62 id."""
    n = int.from_bytes(hashlib.sha1(key.encode()).digest(), "big")
    out = []
    for _ in range(22):
        n, r = divmod(n, 62)
        out.append(ALPHABET[r])
    return "".join(out)


@dataclass
class Fault:
    """One injected misbehaviour, consumed by one request of its route."""

    status: int = 200
    retry_after: str | None = None
    reason: str | None = None
    message: str = "error"
    delay: float = 0.0
    malformed: bool = False
    short: int | None = None  # serve only this many items of the page (total unchanged)
    expire_tokens: bool = False  # forget every token first: the request gets a 401
    match: dict[str, str] = field(default_factory=dict)  # only requests with these query params


@dataclass(frozen=True)
class RateLimitPattern:
    """Answer ``run`` of every ``every`` API requests (counted over all routes but the token
    endpoint, in arrival order) with 429 and ``Retry-After: retry_after``.

    ``RateLimitPattern(7)`` limits the 1st, 8th, 15th, ... request (one in seven, never two
    in a row); ``RateLimitPattern(42, run=6)`` limits the same share in runs of six (the 1st
    to 6th, the 43rd to 48th, ...), as a rolling window that has run out does. ``routes``
    restricts it to some routes (default: all API routes, ReccoBeats included).
    """

    every: int = 7
    run: int = 1
    retry_after: str = "1"
    routes: frozenset[str] | None = None

    def limits(self, n: int) -> bool:
        """Whether request number ``n`` (0-based) is answered 429."""
        return n % self.every < self.run


@dataclass
class Catalogue:
    """Deterministic tracks per (genre, year), artists with genre tags, audio features."""

    tracks: dict[str, dict] = field(default_factory=dict)
    by_query: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    artists: dict[str, dict] = field(default_factory=dict)
    features: dict[str, dict] = field(default_factory=dict)
    playlists: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        genres: list[str],
        years: list[int],
        per_query: int,
        *,
        seed: int = 7,
        artists_per_genre: int = 12,
    ) -> Catalogue:
        rng = random.Random(seed)
        cat = cls()
        pools: dict[str, list[str]] = {}
        for g in genres:
            pool = []
            for i in range(artists_per_genre):
                aid = spotify_id(f"artist:{g}:{i}")
                tags = TAGS.get(g, [g])
                chosen = tags[: 1 + (i % len(tags))]
                if i % 5 == 4:
                    chosen = []  # some artists have no tags
                cat.artists[aid] = {
                    "external_urls": {"spotify": f"https://open.spotify.com/artist/{aid}"},
                    "followers": {"href": None, "total": rng.randint(10, 10**6)},
                    "genres": chosen,
                    "href": f"https://api.spotify.com/v1/artists/{aid}",
                    "id": aid,
                    "images": [],
                    "name": f"{g.title()} Artist {i}",
                    "popularity": rng.randint(0, 100),
                    "type": "artist",
                    "uri": f"spotify:artist:{aid}",
                }
                pool.append(aid)
            pools[g] = pool
        shared: list[str] = []
        for g in genres:
            for y in years:
                ids = []
                for i in range(per_query):
                    # every 7th track is shared with the previous query: de-duplication matters
                    if i % 7 == 6 and shared:
                        tid = shared[(i // 7) % len(shared)]
                        ids.append(tid)
                        continue
                    tid = spotify_id(f"track:{g}:{y}:{i}")
                    n_art = 2 if i % 4 == 0 else 1
                    arts = [pools[g][(i * 7 + k) % len(pools[g])] for k in range(n_art)]
                    cat.tracks[tid] = _track(tid, f"{g} song {y}-{i}", [cat.artists[a] for a in arts], y, rng)
                    cat.features[tid] = _features(tid, rng)
                    ids.append(tid)
                shared = ids[:3]
                cat.by_query[(g, y)] = ids
        return cat


def _track(tid: str, name: str, artists: list[dict], year: int, rng: random.Random) -> dict:
    album_id = spotify_id(f"album:{tid}")
    simple = [{k: a[k] for k in ("external_urls", "href", "id", "name", "type", "uri")} for a in artists]
    month = rng.randint(1, 12)
    precision = "day" if rng.random() < 0.8 else "year"
    return {
        "album": {
            "album_type": "album",
            "total_tracks": 10,
            "available_markets": ["DE", "US"],
            "external_urls": {"spotify": f"https://open.spotify.com/album/{album_id}"},
            "href": f"https://api.spotify.com/v1/albums/{album_id}",
            "id": album_id,
            "images": [{"url": "https://i.scdn.co/image/x", "height": 640, "width": 640}],
            "name": f"Album of {name}",
            "release_date": f"{year}-{month:02d}-15" if precision == "day" else str(year),
            "release_date_precision": precision,
            "type": "album",
            "uri": f"spotify:album:{album_id}",
            "artists": simple,
        },
        "artists": simple,
        "available_markets": ["DE", "US"],
        "disc_number": 1,
        "duration_ms": rng.randint(120_000, 360_000),
        "explicit": rng.random() < 0.2,
        "external_ids": {"isrc": f"US{rng.randint(10**9, 10**10 - 1)}"},
        "external_urls": {"spotify": f"https://open.spotify.com/track/{tid}"},
        "href": f"https://api.spotify.com/v1/tracks/{tid}",
        "id": tid,
        "is_local": False,
        "name": name,
        "popularity": rng.randint(0, 100),
        "preview_url": None,
        "track_number": rng.randint(1, 10),
        "type": "track",
        "uri": f"spotify:track:{tid}",
    }


def _features(tid: str, rng: random.Random) -> dict:
    return {
        "acousticness": round(rng.random(), 4),
        "analysis_url": f"https://api.spotify.com/v1/audio-analysis/{tid}",
        "danceability": round(rng.random(), 4),
        "duration_ms": rng.randint(120_000, 360_000),
        "energy": round(rng.random(), 4),
        "id": tid,
        "instrumentalness": round(rng.random(), 4),
        "key": rng.randint(-1, 11),
        "liveness": round(rng.random(), 4),
        "loudness": round(rng.uniform(-30, 0), 3),
        "mode": rng.randint(0, 1),
        "speechiness": round(rng.random(), 4),
        "tempo": round(rng.uniform(60, 200), 3),
        "time_signature": rng.choice([3, 4, 4, 4, 5]),
        "track_href": f"https://api.spotify.com/v1/tracks/{tid}",
        "type": "audio_features",
        "uri": f"spotify:track:{tid}",
        "valence": round(rng.random(), 4),
    }


RB_FEATURES = (
    "acousticness",
    "danceability",
    "energy",
    "instrumentalness",
    "key",
    "liveness",
    "loudness",
    "mode",
    "speechiness",
    "tempo",
    "valence",
)


class StandIn:
    """The stand-in services and their controls (thread-safe enough for the tests)."""

    def __init__(
        self,
        catalogue: Catalogue,
        *,
        mode: str = "development",
        client_id: str = "test-client-id",
        client_secret: str = "test-client-secret-d41d8cd98f",
        latency: float = 0.0,
        artist_genres: bool = True,
        rate_limit: RateLimitPattern | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.mode = mode
        self.client_id = client_id
        self.client_secret = client_secret
        self.latency = latency
        self.artist_genres = artist_genres
        self.rate_limit = rate_limit
        self._n_limited_route = 0  # requests seen by the rate-limit pattern
        self.rb_omit: set[str] = set()
        self.faults: dict[str, deque[Fault]] = {}
        self.tokens: set[str] = set()
        self.grants = 0
        self.log: list[dict[str, Any]] = []
        self.served: list[tuple[str, int, Any]] = []  # (route, status, JSON body)
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/api/token", self.token, methods=["POST"]),
                Route("/v1/search", self.search),
                Route("/v1/artists", self.artists),
                Route("/v1/artists/{id}", self.artist),
                Route("/v1/audio-features", self.audio_features),
                Route("/v1/playlists/{id}/items", self.playlist_items),
                Route("/rb/v1/audio-features", self.reccobeats),
            ]
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # ------------------------------------------------------------------ control
    @property
    def extended(self) -> bool:
        return self.mode == "extended"

    def inject(self, route: str, *faults: Fault) -> None:
        with self._lock:
            self.faults.setdefault(route, deque()).extend(faults)

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def env(self) -> dict[str, str]:
        base = f"http://127.0.0.1:{self.port}"
        return {
            "HITLAB_SPOTIFY_API_URL": f"{base}/v1",
            "HITLAB_SPOTIFY_TOKEN_URL": f"{base}/api/token",
            "HITLAB_RECCOBEATS_URL": f"{base}/rb/v1",
            "HITLAB_SPOTIFY_CLIENT_ID": self.client_id,
            "HITLAB_SPOTIFY_CLIENT_SECRET": self.client_secret,
        }

    def requests(self, route: str) -> list[dict[str, Any]]:
        return [r for r in self.log if r["route"] == route]

    def start(self) -> StandIn:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="error", lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("stand-in server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ plumbing
    async def _begin(self, request: Request, route: str) -> tuple[Fault | None, Response | None, dict]:
        params = dict(request.query_params)
        with self._lock:
            queue = self.faults.get(route) or deque()
            fault = next((f for f in queue if all(params.get(k) == v for k, v in f.match.items())), None)
            if fault is not None:
                queue.remove(fault)
                if fault.expire_tokens:
                    self.tokens.clear()
            entry = {"route": route, "params": params, "path": request.url.path, "t": time.monotonic()}
            self.log.append(entry)
            limited = False
            pattern = self.rate_limit
            if (
                fault is None
                and pattern is not None
                and route != "token"
                and (pattern.routes is None or route in pattern.routes)
            ):
                limited = pattern.limits(self._n_limited_route)
                self._n_limited_route += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        if limited:
            assert pattern is not None
            entry["status"] = 429
            headers = {"Retry-After": pattern.retry_after}
            return None, self._error(route, 429, "API rate limit exceeded", headers=headers), entry
        if fault and fault.delay:
            await asyncio.sleep(fault.delay)
        if route != "token" and not route.startswith("rb"):
            auth = request.headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
                entry["status"] = 401
                return fault, self._error(route, 401, "The access token expired"), entry
        if fault is None:
            return None, None, entry
        if fault.malformed:
            entry["status"] = 200
            return (
                fault,
                Response("<html><body>502 Bad Gateway</body></html>", 200, media_type="text/html"),
                entry,
            )
        if fault.status != 200:
            entry["status"] = fault.status
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return fault, self._error(route, fault.status, fault.message, fault.reason, headers), entry
        return fault, None, entry

    def _error(
        self,
        route: str,
        status: int,
        message: str,
        reason: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> JSONResponse:
        body: dict[str, Any] = {"error": {"status": status, "message": message}}
        if reason:
            body["error"]["reason"] = reason
        self.served.append((route, status, body))
        return JSONResponse(body, status, headers=headers)

    def _ok(self, route: str, body: Any, entry: dict) -> JSONResponse:
        self.served.append((route, 200, body))
        entry.setdefault("status", 200)
        return JSONResponse(body)

    def _public_track(self, tid: str) -> dict:
        t = json.loads(json.dumps(self.catalogue.tracks[tid]))
        if not self.extended:
            for k in ("popularity", "available_markets"):
                t.pop(k, None)
        return t

    def _public_artist(self, aid: str) -> dict:
        a = dict(self.catalogue.artists[aid])
        if not self.extended:
            a.pop("popularity", None)
            a.pop("followers", None)
        if not self.artist_genres:
            a.pop("genres", None)
        return a

    def _paging(
        self, request: Request, ids: list[str], limit: int, offset: int, wrap: bool, fault: Fault | None
    ) -> dict:
        page_ids = ids[offset : offset + limit]
        if fault and fault.short is not None:
            page_ids = page_ids[: fault.short]
        items = [self._public_track(t) for t in page_ids]
        if wrap:
            items = [
                {
                    "added_at": "2024-01-01T00:00:00Z",
                    "added_by": {
                        "external_urls": {"spotify": "https://open.spotify.com/user/standin"},
                        "href": "https://api.spotify.com/v1/users/standin",
                        "id": "standin",
                        "type": "user",
                        "uri": "spotify:user:standin",
                    },
                    "is_local": False,
                    "item": t,
                }
                for t in items
            ]
        base = str(request.url.remove_query_params(["offset", "limit"]))
        sep = "&" if "?" in base else "?"
        nxt = f"{base}{sep}offset={offset + limit}&limit={limit}" if offset + limit < len(ids) else None
        prev = f"{base}{sep}offset={max(0, offset - limit)}&limit={limit}" if offset > 0 else None
        return {
            "href": str(request.url),
            "items": items,
            "limit": limit,
            "next": nxt,
            "offset": offset,
            "previous": prev,
            "total": len(ids),
        }

    # ------------------------------------------------------------------ Spotify
    async def token(self, request: Request) -> Response:
        _fault, early, entry = await self._begin(request, "token")
        if early is not None:
            return early
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if form.get("grant_type") != "client_credentials" or request.headers.get("authorization") != expected:
            entry["status"] = 400
            return JSONResponse({"error": "invalid_client", "error_description": "Invalid client"}, 400)
        token = "tok-" + spotify_id(f"token:{time.monotonic_ns()}")
        with self._lock:
            self.tokens.add(token)
            self.grants += 1
        entry["status"] = 200
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    async def search(self, request: Request) -> Response:
        fault, early, entry = await self._begin(request, "search")
        if early is not None:
            return early
        p = request.query_params
        try:
            limit, offset = int(p.get("limit", "5")), int(p.get("offset", "0"))
        except ValueError:
            return self._error("search", 400, "Invalid limit")
        max_limit = 50 if self.extended else 10
        if not 1 <= limit <= max_limit:
            entry["status"] = 400
            return self._error("search", 400, "Invalid limit")
        if not 0 <= offset <= 1000:
            entry["status"] = 400
            return self._error("search", 400, "Invalid offset")
        q = p.get("q", "")
        m_genre = re.search(r'genre:(?:"([^"]+)"|(\S+))', q)
        m_year = re.search(r"year:(\d{4})", q)
        genre = (m_genre.group(1) or m_genre.group(2)) if m_genre else None
        year = int(m_year.group(1)) if m_year else None
        ids = self.catalogue.by_query.get((genre, year), []) if genre and year else []
        if genre and year is None:
            ids = [t for (g, _), tids in self.catalogue.by_query.items() if g == genre for t in tids]
        return self._ok("search", {"tracks": self._paging(request, ids, limit, offset, False, fault)}, entry)

    async def artists(self, request: Request) -> Response:
        _fault, early, entry = await self._begin(request, "artists")
        if early is not None:
            return early
        if not self.extended:
            entry["status"] = 404
            return self._error("artists", 404, "Service not found")
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        if len(ids) > 50:
            return self._error("artists", 400, "Too many ids requested")
        body = {"artists": [self._public_artist(a) if a in self.catalogue.artists else None for a in ids]}
        return self._ok("artists", body, entry)

    async def artist(self, request: Request) -> Response:
        _fault, early, entry = await self._begin(request, "artist")
        if early is not None:
            return early
        aid = request.path_params["id"]
        if aid not in self.catalogue.artists:
            entry["status"] = 404
            return self._error("artist", 404, "Resource not found")
        return self._ok("artist", self._public_artist(aid), entry)

    async def audio_features(self, request: Request) -> Response:
        _fault, early, entry = await self._begin(request, "audio-features")
        if early is not None:
            return early
        if not self.extended:
            entry["status"] = 403
            return self._error("audio-features", 403, "Forbidden")
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        if len(ids) > 100:
            return self._error("audio-features", 400, "Too many ids requested")
        return self._ok(
            "audio-features", {"audio_features": [self.catalogue.features.get(t) for t in ids]}, entry
        )

    async def playlist_items(self, request: Request) -> Response:
        fault, early, entry = await self._begin(request, "playlist")
        if early is not None:
            return early
        pid = request.path_params["id"]
        if pid not in self.catalogue.playlists:
            entry["status"] = 404
            return self._error("playlist", 404, "Resource not found")
        p = request.query_params
        limit, offset = int(p.get("limit", "20")), int(p.get("offset", "0"))
        if not 1 <= limit <= 50:
            return self._error("playlist", 400, "Invalid limit")
        return self._ok(
            "playlist",
            self._paging(request, self.catalogue.playlists[pid], limit, offset, True, fault),
            entry,
        )

    # ------------------------------------------------------------------ ReccoBeats
    async def reccobeats(self, request: Request) -> Response:
        _fault, early, entry = await self._begin(request, "rb")
        if early is not None:
            return early
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        if len(ids) > 40:
            entry["status"] = 400
            return JSONResponse({"error": "at most 40 ids"}, 400)
        content = []
        for tid in reversed(ids):  # not the request's order: clients must match on href
            f = self.catalogue.features.get(tid)
            if f is None or tid in self.rb_omit:
                continue
            entry = {
                "id": f"rb-{spotify_id('rb:' + tid)[:8]}",
                "href": f"https://open.spotify.com/track/{tid}",
                "isrc": self.catalogue.tracks[tid]["external_ids"]["isrc"],
            }
            entry.update({k: f[k] for k in RB_FEATURES})
            content.append(entry)
        self.served.append(("rb", 200, {"content": content}))
        entry["status"] = 200
        return JSONResponse({"content": content})
