"""ReccoBeats: a free, keyless second source of audio features, for apps Spotify refuses.

``GET {base}/audio-features?ids=<spotify ids>`` (at most 40 per request) answers
``{"content": [{"id", "href": "https://open.spotify.com/track/<spotify id>", "isrc",
"acousticness", ...}]}``. ``id`` is ReccoBeats' own id; the Spotify id is the last part of
``href``, so answers are matched on ``href``, never on order. Unknown tracks are silently
left out: they are returned as missing. There is no ``time_signature`` or ``duration_ms``.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlparse

from hitlab.collect.client import ApiClient
from hitlab.errors import BadResponseError

__all__ = ["BATCH", "FEATURES", "ReccoBeats", "spotify_id_from_href"]

BATCH = 40
FEATURES = (
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


def spotify_id_from_href(href: object) -> str | None:
    """The Spotify track id in an ``open.spotify.com/track/<id>`` link.

    >>> spotify_id_from_href("https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC?si=x")
    '4uLU6hMCjMI75M1A2tKUQC'
    >>> spotify_id_from_href("https://example.org/") is None
    True
    """
    if not isinstance(href, str):
        return None
    parts = [p for p in urlparse(href).path.split("/") if p]
    if len(parts) >= 2 and parts[-2] == "track":
        return parts[-1]
    return None


class ReccoBeats:
    """ReccoBeats audio features over an :class:`ApiClient` (no token)."""

    source = "reccobeats"

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def audio_features(self, ids: Sequence[str]) -> tuple[dict[str, dict], list[str]]:
        """Features for up to 40 Spotify ids: ``(found by Spotify id, ids left out)``."""
        if len(ids) > BATCH:
            raise ValueError(f"ReccoBeats takes at most {BATCH} ids per request, got {len(ids)}")
        body = self.client.get("/audio-features", {"ids": ",".join(ids)}, endpoint="GET /audio-features")
        if not isinstance(body, dict) or not isinstance(body.get("content"), list):
            raise BadResponseError(
                200,
                endpoint="ReccoBeats GET /audio-features",
                message="ReccoBeats answered without a 'content' list",
            )
        wanted = set(ids)
        found: dict[str, dict] = {}
        for entry in body["content"]:
            sid = spotify_id_from_href(entry.get("href")) if isinstance(entry, dict) else None
            if sid in wanted:
                found[sid] = {k: entry.get(k) for k in (*FEATURES, "isrc", "id", "href")}
        return found, [i for i in ids if i not in found]
