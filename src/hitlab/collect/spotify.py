"""Spotify Web API endpoints the collector uses, and the capability probe.

In 2026 what an app may call depends on its quota mode (see ``docs/collect.md``):
development-mode apps get search pages of at most 10, no batch ``/tracks`` or ``/artists``,
no track popularity and 403 on ``/audio-features``; extended-quota apps keep search pages
of 50 and the batches. :func:`probe_search` and :func:`probe_rest` find out with one
request per capability and record what they saw (endpoint, status, reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hitlab.collect.client import ApiClient
from hitlab.errors import BadResponseError, CollectError, EndpointUnavailable, SpotifyHTTPError

__all__ = ["Capabilities", "Capability", "SpotifyAPI", "probe_rest", "probe_search"]

EXTENDED_SEARCH_LIMIT = 50
DEV_SEARCH_LIMIT = 10
ARTIST_BATCH = 50
FEATURES_BATCH = 100


@dataclass(frozen=True)
class Capability:
    """What one probe request found."""

    name: str
    available: bool
    detail: str
    endpoint: str | None = None
    status: int | None = None
    reason: str | None = None

    def describe(self) -> str:
        mark = "yes" if self.available else "no "
        seen = (
            f" [{self.endpoint} -> {self.status}{', ' + self.reason if self.reason else ''}]"
            if (self.endpoint and self.status is not None)
            else ""
        )
        return f"{mark}  {self.name}: {self.detail}{seen}"


@dataclass
class Capabilities:
    """The probe's findings, as flags the collector reads and lines the CLI prints."""

    search_limit: int = DEV_SEARCH_LIMIT
    popularity: bool = False
    artists_batch: bool = False
    artist_single: bool = False
    artist_genres: bool = False
    audio_features: bool = False
    reccobeats: bool = False
    items: list[Capability] = field(default_factory=list)
    #: what the probe requests answered, so the collector keeps them instead of asking again
    samples: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def mode(self) -> str:
        return "extended quota" if self.search_limit > DEV_SEARCH_LIMIT else "development mode"

    def add(self, cap: Capability) -> None:
        self.items = [c for c in self.items if c.name != cap.name] + [cap]

    def lines(self) -> list[str]:
        return [c.describe() for c in self.items]


def _track_items(page: dict, *, key: str | None) -> tuple[list[dict], int, int | None, bool]:
    """Track objects of a paging object: ``(tracks, n_raw_items, total, has_next)``."""
    paging = (page.get(key) if isinstance(page, dict) else None) if key else page
    if not isinstance(paging, dict) or not isinstance(paging.get("items"), list):
        raise BadResponseError(
            200, endpoint=key or "paging", message=f"a page without '{key or 'items'}.items'"
        )
    out = []
    for entry in paging["items"]:
        track = entry
        if key is None and isinstance(entry, dict):  # playlist entries wrap the track
            track = entry.get("item") or entry.get("track")
        if isinstance(track, dict) and track.get("id") and track.get("type", "track") == "track":
            out.append(track)
    total = paging.get("total")
    return out, len(paging["items"]), total if isinstance(total, int) else None, bool(paging.get("next"))


class SpotifyAPI:
    """The endpoints, over an :class:`ApiClient` pointed at the Web API root."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def search(self, q: str, *, limit: int, offset: int) -> tuple[list[dict], int, int | None, bool]:
        page = self.client.get(
            "/search", {"q": q, "type": "track", "limit": limit, "offset": offset}, endpoint="GET /search"
        )
        return _track_items(page, key="tracks")

    def playlist_items(
        self, playlist_id: str, *, limit: int, offset: int
    ) -> tuple[list[dict], int, int | None, bool]:
        page = self.client.get(
            f"/playlists/{playlist_id}/items",
            {"limit": limit, "offset": offset},
            endpoint="GET /playlists/{id}/items",
        )
        return _track_items(page, key=None)

    def artists(self, ids: Sequence[str]) -> list[dict | None]:
        body = self.client.get("/artists", {"ids": ",".join(ids)}, endpoint="GET /artists")
        return _list_of(body, "artists")

    def artist(self, artist_id: str) -> dict:
        body = self.client.get(f"/artists/{artist_id}", endpoint="GET /artists/{id}")
        if not isinstance(body, dict):
            raise BadResponseError(
                200, endpoint="GET /artists/{id}", message="an artist that is not an object"
            )
        return body

    def audio_features(self, ids: Sequence[str]) -> list[dict | None]:
        body = self.client.get("/audio-features", {"ids": ",".join(ids)}, endpoint="GET /audio-features")
        return _list_of(body, "audio_features")


def _list_of(body: Any, key: str) -> list[dict | None]:
    if not isinstance(body, dict) or not isinstance(body.get(key), list):
        raise BadResponseError(200, endpoint=f"GET /{key}", message=f"an answer without a '{key}' list")
    return [x if isinstance(x, dict) else None for x in body[key]]


def _unavailable(name: str, exc: SpotifyHTTPError, detail: str) -> Capability:
    return Capability(name, False, detail, endpoint=exc.endpoint, status=exc.status, reason=exc.reason)


def probe_search(api: SpotifyAPI, q: str, caps: Capabilities | None = None) -> Capabilities:
    """Search with ``limit=50``: 200 means extended quota, 400 ("Invalid limit") development mode.

    Also tells whether track objects still carry ``popularity``.
    """
    caps = caps or Capabilities()
    try:
        page = api.search(q, limit=EXTENDED_SEARCH_LIMIT, offset=0)
        caps.search_limit = EXTENDED_SEARCH_LIMIT
        caps.add(
            Capability(
                "search pages of 50",
                True,
                "extended quota: 50 results per search request",
                "Spotify GET /search",
                200,
            )
        )
    except SpotifyHTTPError as exc:
        if exc.status != 400:
            raise
        caps.search_limit = DEV_SEARCH_LIMIT
        caps.add(_unavailable("search pages of 50", exc, "development mode: search pages of 10 instead"))
        page = api.search(q, limit=DEV_SEARCH_LIMIT, offset=0)
    caps.samples["search"] = page
    items = page[0]
    if items:
        caps.popularity = any("popularity" in t for t in items)
        caps.add(
            Capability(
                "track popularity",
                caps.popularity,
                "track objects carry popularity"
                if caps.popularity
                else "removed from track objects for this app: the popularity column stays empty",
            )
        )
    return caps


def probe_rest(
    api: SpotifyAPI,
    caps: Capabilities,
    *,
    sample_tracks: Sequence[str],
    sample_artists: Sequence[str],
    reccobeats: Any | None = None,
    want_features: bool = True,
) -> Capabilities:
    """Probe artist and audio-feature endpoints with ids already collected (one request each).

    ``reccobeats`` (a :class:`~hitlab.collect.reccobeats.ReccoBeats`) is probed only when
    Spotify's audio features are refused.
    """
    if sample_artists:
        try:
            caps.samples["artists"] = api.artists(list(sample_artists[:2]))
            caps.artists_batch = True
            caps.add(
                Capability(
                    "artists in batches of 50", True, "GET /artists?ids= works", "Spotify GET /artists", 200
                )
            )
        except (EndpointUnavailable, BadResponseError) as exc:
            caps.artists_batch = False
            caps.add(
                _unavailable("artists in batches of 50", exc, "batch endpoint gone: one request per artist")
            )
        try:
            artist = caps.samples["artist"] = api.artist(sample_artists[0])
            caps.artist_single = True
            caps.artist_genres = "genres" in artist
            caps.add(
                Capability(
                    "artist genre tags",
                    caps.artist_genres,
                    "artist objects carry genres"
                    if caps.artist_genres
                    else "artist objects carry no genres: artist_genres stays empty",
                    "Spotify GET /artists/{id}",
                    200,
                )
            )
        except (EndpointUnavailable, BadResponseError) as exc:
            caps.artist_single = caps.artist_genres = False
            caps.add(
                _unavailable("artist genre tags", exc, "artist endpoint refused: artist_genres stays empty")
            )
    if want_features and sample_tracks:
        try:
            caps.samples["audio_features"] = api.audio_features(list(sample_tracks[:2]))
            caps.audio_features = True
            caps.add(
                Capability(
                    "Spotify audio features",
                    True,
                    "GET /audio-features works (batches of 100)",
                    "Spotify GET /audio-features",
                    200,
                )
            )
        except (EndpointUnavailable, BadResponseError) as exc:
            caps.audio_features = False
            caps.add(_unavailable("Spotify audio features", exc, "refused for this app"))
        if not caps.audio_features and reccobeats is not None:
            try:
                caps.samples["reccobeats"] = reccobeats.audio_features(list(sample_tracks[:2]))
                caps.reccobeats = True
                caps.add(
                    Capability(
                        "ReccoBeats audio features",
                        True,
                        "second source: no time_signature; duration from Spotify's track",
                        "ReccoBeats GET /audio-features",
                        200,
                    )
                )
            except CollectError as exc:
                if isinstance(exc, SpotifyHTTPError) and exc.status == 429:
                    raise
                caps.reccobeats = False
                status = getattr(exc, "status", None)
                caps.add(
                    Capability(
                        "ReccoBeats audio features",
                        False,
                        f"unavailable ({exc})",
                        "ReccoBeats GET /audio-features",
                        status,
                        getattr(exc, "reason", None),
                    )
                )
    return caps
