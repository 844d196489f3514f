"""The stand-in's answers follow ``shared/spotify/spotify-web-api-openapi.yml``.

Every JSON body the stand-in served during a development-mode and an extended-quota
collection (errors included) is validated against the response schema the spec gives for
its endpoint; ReccoBeats answers against the shape stated in the issue.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from collect_helpers import FAST, GENRES, YEARS, Waits, creds, urls
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from standin import Fault, StandIn

from hitlab.collect import CollectConfig, collect

SPEC = Path(
    os.environ.get(
        "HITLAB_SPOTIFY_SPEC",
        Path(__file__).resolve().parents[3] / "shared" / "spotify" / "spotify-web-api-openapi.yml",
    )
)
RESPONSES = {
    "search": "SearchItems",
    "artists": "ManyArtists",
    "artist": "OneArtist",
    "audio-features": "ManyAudioFeatures",
    "playlist": "PagingPlaylistTrackObject",
}
ERRORS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 429: "TooManyRequests"}
RECCOBEATS = {
    "type": "object",
    "required": ["content"],
    "properties": {
        "content": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "id",
                    "href",
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
                ],
                "properties": {
                    "href": {
                        "type": "string",
                        "pattern": "^https://open\\.spotify\\.com/track/[0-9A-Za-z]+$",
                    },
                    "key": {"type": "integer"},
                    "mode": {"type": "integer"},
                },
                "not": {"anyOf": [{"required": ["time_signature"]}, {"required": ["duration_ms"]}]},
            },
        }
    },
}


def _openapi_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` -> JSON Schema ``null`` alternative; the rest unchanged."""
    if isinstance(node, list):
        return [_openapi_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi_to_jsonschema(v) for k, v in node.items() if k not in ("nullable", "discriminator")}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.fixture(scope="module")
def validator_for() -> Any:
    if not SPEC.is_file():
        pytest.skip(f"OpenAPI description not found at {SPEC} (set HITLAB_SPOTIFY_SPEC)")
    spec = _openapi_to_jsonschema(yaml.safe_load(SPEC.read_text("utf-8")))
    registry = Registry().with_resource("urn:spotify", Resource.from_contents(spec, DRAFT202012))

    def make(response: str) -> jsonschema.Draft202012Validator:
        ref = f"urn:spotify#/components/responses/{response}/content/application~1json/schema"
        return jsonschema.Draft202012Validator({"$ref": ref}, registry=registry)

    return make


def _validate_served(server: StandIn, validator_for: Any) -> set[str]:
    seen = set()
    for route, status, body in server.served:
        if route == "rb":
            jsonschema.validate(body, RECCOBEATS)
            seen.add("rb")
            continue
        name = RESPONSES[route] if status == 200 else ERRORS[status]
        validator_for(name).validate(body)
        seen.add(f"{route} {status}")
    return seen


@pytest.mark.parametrize("mode", ["development", "extended"])
def test_every_served_body_follows_the_spec(catalogue, tmp_path: Path, validator_for: Any, mode: str) -> None:
    with StandIn(catalogue, mode=mode) as server:
        server.inject(
            "search", Fault(429, retry_after="0", reason="QUOTA_EXCEEDED", match={"q": "genre:pop year:2020"})
        )
        config = CollectConfig(out=tmp_path, genres=tuple(GENRES), years=tuple(YEARS), playlists=("PL1",))
        collect(config, creds(server), urls(server), policy=FAST, rate=None, sleep=Waits())
        seen = _validate_served(server, validator_for)
    expected = {"search 200", "search 429", "artist 200", "playlist 200"}
    if mode == "development":
        expected |= {"search 400", "artists 404", "audio-features 403", "rb"}
    else:
        expected |= {"artists 200", "audio-features 200"}
    assert seen == expected


@pytest.mark.parametrize(
    ("response", "body"),
    [
        ("SearchItems", {"tracks": {"items": [], "limit": 10, "offset": 0}}),  # paging without total, next...
        ("OneArtist", {"id": "x", "popularity": "high"}),
        ("ManyAudioFeatures", {"audio_features": [{"key": 12}]}),
        ("TooManyRequests", {"error": {"status": 429}}),  # no message
    ],
)
def test_the_spec_check_rejects_bad_bodies(validator_for: Any, response: str, body: dict) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validator_for(response).validate(body)
