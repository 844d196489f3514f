"""Unit tests of the HTTP client: pacing, caps, retries, typed errors, tokens, credentials.

The transport is an ``httpx.MockTransport`` handler; waits go to a recorder, not to sleep.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import threading

import httpx
import pytest
from collect_helpers import FAST, Waits

from hitlab.collect.client import (
    ApiClient,
    Credentials,
    Pacer,
    RetryPolicy,
    TokenProvider,
    load_credentials,
    parse_retry_after,
    service_urls,
)
from hitlab.errors import (
    AuthError,
    BadResponseError,
    ConfigError,
    DeadlineExceeded,
    EndpointUnavailable,
    NetworkError,
    RateLimitedError,
    SpotifyHTTPError,
)

SECRET = "s3cr3t-value-never-shown"


def script(*answers: object) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport answering with ``answers`` in turn (a Response, an exception, or a callable)."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/token":
            return httpx.Response(200, json={"access_token": f"tok{len(seen)}", "expires_in": 3600})
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer  # type: ignore[return-value]

    return httpx.MockTransport(handler), seen


def make_client(
    transport: httpx.MockTransport, waits: Waits, policy: RetryPolicy = FAST, auth: bool = True
) -> ApiClient:
    http = httpx.Client(transport=transport)
    tokens = (
        TokenProvider(
            Credentials("id", SECRET),
            "https://auth.test/api/token",
            http,
            policy,
            sleep=waits,
            clock=waits.clock,
        )
        if auth
        else None
    )
    return ApiClient(
        "https://api.test/v1",
        tokens=tokens,
        policy=policy,
        pacer=Pacer(None, clock=waits.clock, rng=random.Random(1)),
        http=http,
        sleep=waits,
        clock=waits.clock,
        rng=random.Random(0),
    )


def quota_429(retry_after: str) -> httpx.Response:
    body = {"error": {"status": 429, "message": "Too many requests", "reason": "QUOTA_EXCEEDED"}}
    return httpx.Response(429, json=body, headers={"Retry-After": retry_after})


def api_calls(seen: list[httpx.Request]) -> list[httpx.Request]:
    return [r for r in seen if r.url.path != "/api/token"]


def test_long_retry_after_raises_at_once_with_everything_kept() -> None:
    transport, seen = script(quota_429("86400"))
    waits = Waits()
    with pytest.raises(RateLimitedError, match="rate limited") as info:
        make_client(transport, waits).get("/search", endpoint="GET /search")
    exc = info.value
    assert (exc.status, exc.retry_after, exc.reason) == (429, 86400.0, "QUOTA_EXCEEDED")
    assert exc.resume_at > 86000 + __import__("time").time()
    assert waits.calls == []  # the 86,400 s were not slept
    assert len(api_calls(seen)) == 1


def test_short_retry_after_is_waited_then_retried() -> None:
    transport, seen = script(quota_429("0.2"), httpx.Response(200, json={"ok": 1}))
    waits = Waits()
    assert make_client(transport, waits).get("/search") == {"ok": 1}
    assert len(waits.retry_waits) == 1
    assert 0.2 <= waits.retry_waits[0] <= 0.2 * 1.1 + 1e-9
    assert len(api_calls(seen)) == 2


def test_retry_after_zero_is_never_an_immediate_retry() -> None:
    transport, _ = script(quota_429("0"), httpx.Response(200, json={}))
    waits = Waits()
    make_client(transport, waits).get("/x")
    assert waits.retry_waits and waits.retry_waits[0] >= FAST.min_retry_wait


def test_429s_with_short_retry_after_use_up_no_attempts() -> None:
    # ten 429s in a row (more than FAST.attempts = 4) are all waited out: patience is time
    transport, seen = script(*[quota_429("0.2")] * 10, httpx.Response(200, json={"ok": 1}))
    waits = Waits()
    client = make_client(transport, waits)
    assert client.get("/search") == {"ok": 1}
    assert len(api_calls(seen)) == 11
    rate_waits = [s for s, why in waits.calls if "rate limited" in why]
    assert len(rate_waits) == 10 and all(0.2 <= s <= 0.2 * (1 + FAST.jitter) + 1e-9 for s in rate_waits)
    assert client.stats.by_status == {429: 10, 200: 1}


def test_429_on_every_request_ends_at_the_deadline_keeping_the_reason() -> None:
    policy = dataclasses.replace(FAST, max_wait=2.0, deadline=5.0)
    transport, seen = script(quota_429("1"))
    waits = Waits()
    with pytest.raises(DeadlineExceeded, match=r"deadline of 5 s ran out while rate limited.*QUOTA_EXCEEDED"):
        make_client(transport, waits, policy).get("/search")
    assert 4 <= len(api_calls(seen)) <= 5  # one per second of the deadline, never more
    assert waits.slept <= policy.deadline


def test_429_without_retry_after_backs_off_and_never_retries_at_once() -> None:
    transport, _ = script(
        httpx.Response(429), httpx.Response(429), httpx.Response(429), httpx.Response(200, json={})
    )
    waits = Waits()
    make_client(transport, waits).get("/x")
    rate_waits = [s for s, why in waits.calls if "rate limited" in why]
    assert len(rate_waits) == 3 and all(s >= FAST.min_retry_wait for s in rate_waits)
    assert rate_waits == sorted(rate_waits)  # growing backoff


def test_network_errors_are_bounded_by_the_deadline_too() -> None:
    policy = RetryPolicy(max_wait=5, attempts=50, backoff=1.0, backoff_max=1.0, deadline=3.0, timeout=0.5)
    transport, seen = script(httpx.ConnectError("refused"))
    waits = Waits()
    with pytest.raises(DeadlineExceeded, match=r"deadline of 3 s ran out.*ConnectError"):
        make_client(transport, waits, policy).get("/x")
    assert len(api_calls(seen)) <= 3 and waits.slept <= policy.deadline


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_wait", -1.0, r"max_wait \(--max-wait\) must be a number >= 0, got -1.0"),
        ("deadline", 0.0, r"deadline \(--deadline\) must be a number > 0, got 0.0"),
        ("timeout", float("nan"), r"timeout \(--timeout\) must be a number > 0, got nan"),
        ("attempts", 0, "attempts must be a whole number >= 1, got 0"),
    ],
)
def test_retry_policy_refuses_bad_values(field: str, value: float, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RetryPolicy(**{field: value})


@pytest.mark.parametrize("status", [500, 502, 503])
def test_exhausted_5xx_keeps_its_own_status(status: int) -> None:
    body = {"error": {"status": status, "message": "Service unavailable"}}
    transport, seen = script(httpx.Response(status, json=body))
    with pytest.raises(SpotifyHTTPError, match=f"HTTP {status} on all 4 attempts") as info:
        make_client(transport, Waits()).get("/search")
    assert not isinstance(info.value, RateLimitedError)
    assert info.value.status == status and info.value.reason == "Service unavailable"
    assert len(api_calls(seen)) == FAST.attempts


def test_read_timeout_is_retried_with_growing_backoff() -> None:
    transport, seen = script(
        httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), httpx.Response(200, json=[1])
    )
    waits = Waits()
    assert make_client(transport, waits).get("/x") == [1]
    assert len(api_calls(seen)) == 3
    first, second = waits.retry_waits
    assert 0 < first < second <= FAST.backoff_max * (1 + FAST.jitter)


def test_network_errors_on_every_attempt_raise_network_error() -> None:
    transport, _ = script(httpx.ReadTimeout("slow"))
    with pytest.raises(NetworkError, match="timed out on all 4 attempts"):
        make_client(transport, Waits()).get("/x")


def test_deadline_covers_retries_and_sleeps() -> None:
    policy = RetryPolicy(max_wait=5, attempts=10, backoff=2.0, min_retry_wait=2.0, deadline=1.0, timeout=0.5)
    transport, seen = script(httpx.Response(503))
    with pytest.raises(DeadlineExceeded, match="deadline of 1 s ran out"):
        make_client(transport, Waits(), policy).get("/x")
    assert len(api_calls(seen)) == 1  # the first backoff (2 s) would pass the deadline


def test_401_refreshes_the_token_once() -> None:
    transport, seen = script(
        httpx.Response(401, json={"error": {"status": 401, "message": "expired"}}),
        httpx.Response(200, json={"a": 1}),
    )
    client = make_client(transport, Waits())
    assert client.get("/x") == {"a": 1}
    assert client.tokens is not None and client.tokens.grants == 2
    auth = [r.headers["authorization"] for r in api_calls(seen)]
    assert auth[0] != auth[1]


def test_401_with_a_fresh_token_says_reauthorise() -> None:
    transport, seen = script(httpx.Response(401, json={"error": {"status": 401, "message": "bad token"}}))
    with pytest.raises(AuthError, match="re-authorise"):
        make_client(transport, Waits()).get("/x")
    assert len(api_calls(seen)) == 2


def test_refused_grant_says_reauthorise_and_hides_the_secret() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "invalid_client", "error_description": "Invalid client"})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    tokens = TokenProvider(
        Credentials("id", SECRET), "https://auth.test/api/token", http, FAST, sleep=Waits()
    )
    with pytest.raises(AuthError, match=r"refused.*Invalid client.*re-authorise") as info:
        tokens.token()
    assert SECRET not in str(info.value)


def test_token_request_has_a_timeout_and_is_retried() -> None:
    calls: list[float | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.extensions["timeout"]["read"])
        if len(calls) == 1:
            raise httpx.ReadTimeout("slow token")
        return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    tokens = TokenProvider(
        Credentials("id", SECRET), "https://auth.test/api/token", http, FAST, sleep=Waits()
    )
    assert tokens.token() == "t"
    assert calls == [FAST.timeout, FAST.timeout]


def test_token_endpoint_429s_are_waited_out_too() -> None:
    answers = [quota_429("0.2")] * 6 + [httpx.Response(200, json={"access_token": "t", "expires_in": 3600})]
    http = httpx.Client(transport=httpx.MockTransport(lambda request: answers.pop(0)))
    waits = Waits()
    tokens = TokenProvider(
        Credentials("id", SECRET), "https://auth.test/api/token", http, FAST, sleep=waits, clock=waits.clock
    )
    assert tokens.token() == "t"  # six 429s, more than FAST.attempts, did not end it
    assert len(waits.calls) == 6 and all(s >= 0.2 for s, _ in waits.calls)


@pytest.mark.parametrize("status", [403, 404])
def test_403_and_404_are_not_retried(status: int) -> None:
    transport, seen = script(
        httpx.Response(status, json={"error": {"status": status, "message": "Forbidden"}})
    )
    with pytest.raises(EndpointUnavailable, match=f"HTTP {status}") as info:
        make_client(transport, Waits()).get("/audio-features", endpoint="GET /audio-features")
    assert info.value.endpoint == "Spotify GET /audio-features" and info.value.reason == "Forbidden"
    assert len(api_calls(seen)) == 1


def test_400_is_not_retried_and_keeps_the_message() -> None:
    transport, seen = script(httpx.Response(400, json={"error": {"status": 400, "message": "Invalid limit"}}))
    with pytest.raises(SpotifyHTTPError, match="HTTP 400 \\(Invalid limit\\)"):
        make_client(transport, Waits()).get("/search")
    assert len(api_calls(seen)) == 1


def test_200_with_a_body_that_is_not_json_is_an_error() -> None:
    transport, seen = script(
        httpx.Response(200, text="<html>proxy error</html>", headers={"content-type": "text/html"})
    )
    with pytest.raises(BadResponseError, match="not JSON \\(text/html"):
        make_client(transport, Waits()).get("/search")
    assert len(api_calls(seen)) == FAST.attempts


def test_malformed_then_good_body_is_retried() -> None:
    transport, _ = script(httpx.Response(200, text="{truncated"), httpx.Response(200, json={"x": 1}))
    assert make_client(transport, Waits()).get("/x") == {"x": 1}


# ----------------------------------------------------------------------------- pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_pacer_spreads_requests_over_the_window_with_jitter() -> None:
    clock = FakeClock()
    pacer = Pacer(3, 30.0, jitter=0.1, clock=clock, rng=random.Random(1))
    delays = [pacer.reserve() for _ in range(4)]
    assert delays[0] == 0
    assert all(9.0 <= b - a <= 11.0 for a, b in itertools.pairwise(delays[:-1]))
    assert delays[3] >= 30.0  # never more than 3 in any 30 s
    assert len({round(d, 6) for d in delays}) == 4


def test_pacer_hold_applies_to_everyone() -> None:
    clock = FakeClock()
    pacer = Pacer(None, clock=clock)
    assert pacer.reserve() == 0
    pacer.hold(5.0)
    assert pacer.reserve() == pytest.approx(5.0)
    clock.now += 5.0
    assert pacer.reserve() == 0  # the hold is over: nothing slowed down


def test_threads_held_by_a_429_resume_spread_out_not_all_at_once() -> None:
    clock = FakeClock()
    pacer = Pacer(None, jitter=0.1, release_gap=0.1, clock=clock, rng=random.Random(3))
    pacer.hold(1.0)
    delays = sorted(pacer.reserve() for _ in range(6))  # six threads waiting for the hold to end
    assert delays[0] == pytest.approx(1.0)
    gaps = [b - a for a, b in itertools.pairwise(delays)]
    assert all(0.09 <= g <= 0.11 for g in gaps)  # one after another, with jitter
    assert len({round(g, 9) for g in gaps}) == len(gaps)
    clock.now += 1.0  # the hold is over: requests that come now are not held back
    assert pacer.reserve() == 0 and pacer.reserve() == 0


def test_pacer_is_shared_fairly_by_threads() -> None:
    clock = FakeClock()
    pacer = Pacer(10, 30.0, clock=clock, rng=random.Random(2))
    slots: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            d = pacer.reserve()
            with lock:
                slots.append(clock.now + d)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slots.sort()
    assert len(slots) == 40
    for i in range(len(slots) - 10):
        assert slots[i + 10] - slots[i] >= 30.0 - 1e-9  # at most 10 per rolling 30 s
    assert min(b - a for a, b in itertools.pairwise(slots)) > 0  # no burst


# ----------------------------------------------------------------------------- settings


def test_credentials_come_from_the_environment_first(tmp_path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[spotify]\nclient_id = "file-id"\nclient_secret = "file-secret"\n')
    env = {
        "HITLAB_SPOTIFY_CLIENT_ID": "env-id",
        "HITLAB_SPOTIFY_CLIENT_SECRET": SECRET,
        "HITLAB_CONFIG": str(cfg),
    }
    assert load_credentials(env).client_id == "env-id"
    assert load_credentials({"SPOTIPY_CLIENT_ID": "sp", "SPOTIPY_CLIENT_SECRET": "x"}, cfg).client_id == "sp"
    assert load_credentials({"HITLAB_CONFIG": str(cfg)}).client_secret == "file-secret"
    assert SECRET not in repr(load_credentials(env))


def test_missing_credentials_name_where_to_put_them(tmp_path) -> None:
    with pytest.raises(AuthError, match=r"HITLAB_SPOTIFY_CLIENT_ID.*nothere\.toml"):
        load_credentials({"HITLAB_CONFIG": str(tmp_path / "nothere.toml")})
    half = tmp_path / "half.toml"
    half.write_text('[spotify]\nclient_id = "x"\n')
    with pytest.raises(AuthError, match="client_id and client_secret"):
        load_credentials({}, half)


def test_service_urls_default_to_the_real_services() -> None:
    urls = service_urls({})
    assert urls.spotify_api == "https://api.spotify.com/v1"
    assert urls.spotify_token == "https://accounts.spotify.com/api/token"
    assert urls.reccobeats == "https://api.reccobeats.com/v1"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("-5", 0.0),
        (None, None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected
