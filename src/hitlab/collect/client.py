"""An HTTP client for rate-limited JSON APIs (Spotify, ReccoBeats) on httpx.

What it promises, and what the popular Python client does not:

1. patience is measured in time, not in attempts: a 429 whose ``Retry-After`` is at most
   ``RetryPolicy.max_wait`` (120 s by default) is always waited out, however often it comes,
   within the call's deadline; a longer ``Retry-After`` raises
   :class:`~hitlab.errors.RateLimitedError` at once, with the time to resume, so the caller
   can checkpoint and exit instead of hanging for a day;
2. one shared :class:`Pacer` spaces every request (all threads) to a budget counted over a
   rolling 30-second window, with jitter; a 429 holds the pacer for everyone, the held
   threads resume one after another (spread with jitter), not all at once, and no retry is
   ever sent immediately;
3. errors are typed and keep the status, ``Retry-After`` and the body's ``reason``: an
   exhausted 503 is reported as a 503, never as a 429;
4. one overall deadline per call covers its retries and sleeps
   (:class:`~hitlab.errors.DeadlineExceeded`); token requests have timeouts and retries too;
5. connect and read errors (timeouts included), 5xx and bodies that are not JSON are retried
   with bounded exponential backoff, a bounded number of times and within the deadline;
6. a 401 fetches a fresh token once and retries; a refused grant stops with "re-authorise";
7. a 403/404 raises :class:`~hitlab.errors.EndpointUnavailable` with no retry, so the caller
   switches that path off and records why;
8. a 200 whose body is not JSON raises :class:`~hitlab.errors.BadResponseError`.

The transport is a parameter (``transport=``), so tests drive the client with
``httpx.MockTransport`` or a local server; nothing here reads the environment except
:func:`load_credentials` and :func:`service_urls`, which are called by the CLI.
"""

from __future__ import annotations

import base64
import email.utils
import logging
import math
import os
import random
import threading
import time
import tomllib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

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

__all__ = [
    "ApiClient",
    "Credentials",
    "Pacer",
    "RetryPolicy",
    "ServiceURLs",
    "TokenProvider",
    "load_credentials",
    "service_urls",
]

SPOTIFY_API_URL = "https://api.spotify.com/v1"
SPOTIFY_TOKEN_URL = "https://accounts.spotify.com/api/token"
RECCOBEATS_URL = "https://api.reccobeats.com/v1"
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
log = logging.getLogger("hitlab.collect")

#: ``wait(seconds, why)``: sleep, possibly showing a countdown. ``why`` is one short phrase.
Sleeper = Callable[[float, str], None]


def _plain_sleep(seconds: float, why: str) -> None:
    if seconds > 0:
        time.sleep(seconds)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Credentials:
    """Spotify Client Credentials. The secret never appears in ``repr`` or ``str``."""

    client_id: str
    client_secret: str = field(repr=False)
    source: str = "environment"

    def basic_auth(self) -> str:
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$HITLAB_CONFIG``, else ``~/.config/hitlab/credentials.toml``."""
    env = os.environ if environ is None else environ
    if env.get("HITLAB_CONFIG"):
        return Path(env["HITLAB_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hitlab" / "credentials.toml"


def load_credentials(
    environ: Mapping[str, str] | None = None, config_path: str | Path | None = None
) -> Credentials:
    """Client Credentials from the environment, else from the config file.

    Looked up in this order: ``HITLAB_SPOTIFY_CLIENT_ID`` / ``HITLAB_SPOTIFY_CLIENT_SECRET``,
    then ``SPOTIPY_CLIENT_ID`` / ``SPOTIPY_CLIENT_SECRET``, then the ``[spotify]`` table
    (``client_id``, ``client_secret``) of the config file (``$HITLAB_CONFIG`` or
    ``~/.config/hitlab/credentials.toml``).

    Raises
    ------
    AuthError
        No complete pair was found; the message names the places looked at, never a value.
    """
    env = os.environ if environ is None else environ
    for prefix in ("HITLAB_SPOTIFY_", "SPOTIPY_"):
        cid, secret = env.get(prefix + "CLIENT_ID"), env.get(prefix + "CLIENT_SECRET")
        if cid and secret:
            return Credentials(cid.strip(), secret.strip(), source=f"environment ({prefix}CLIENT_ID)")
    path = Path(config_path) if config_path is not None else default_config_path(env)
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not a valid TOML file ({type(exc).__name__})") from None
        table = data.get("spotify", {})
        cid, secret = table.get("client_id"), table.get("client_secret")
        if isinstance(cid, str) and isinstance(secret, str) and cid and secret:
            return Credentials(cid.strip(), secret.strip(), source=str(path))
        raise AuthError(f"{path}: a [spotify] table with client_id and client_secret is needed")
    raise AuthError(
        "no Spotify credentials: set HITLAB_SPOTIFY_CLIENT_ID and HITLAB_SPOTIFY_CLIENT_SECRET, "
        f"or write them to {path} as [spotify] client_id = ..., client_secret = ..."
    )


@dataclass(frozen=True)
class ServiceURLs:
    """Where the services live; point them at a stand-in server or a proxy."""

    spotify_api: str = SPOTIFY_API_URL
    spotify_token: str = SPOTIFY_TOKEN_URL
    reccobeats: str = RECCOBEATS_URL


def service_urls(environ: Mapping[str, str] | None = None) -> ServiceURLs:
    """Service URLs from ``HITLAB_SPOTIFY_API_URL``, ``HITLAB_SPOTIFY_TOKEN_URL``,
    ``HITLAB_RECCOBEATS_URL``, defaulting to the real services.

    >>> service_urls({"HITLAB_SPOTIFY_API_URL": "http://127.0.0.1:9/v1/"}).spotify_api
    'http://127.0.0.1:9/v1'
    """
    env = os.environ if environ is None else environ
    return ServiceURLs(
        spotify_api=env.get("HITLAB_SPOTIFY_API_URL", SPOTIFY_API_URL).rstrip("/"),
        spotify_token=env.get("HITLAB_SPOTIFY_TOKEN_URL", SPOTIFY_TOKEN_URL),
        reccobeats=env.get("HITLAB_RECCOBEATS_URL", RECCOBEATS_URL).rstrip("/"),
    )


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to wait and retry.

    Parameters
    ----------
    max_wait
        The longest single ``Retry-After`` (seconds) the client honours, and the cap on any
        single wait. A 429 asking for more is not waited out: the call raises
        :class:`RateLimitedError` at once so the collector checkpoints and exits. A 429
        asking for less is always waited out, however many times it comes (within
        ``deadline``): 429s use up no attempts.
    attempts
        Tries per call (the first included) for 5xx, timeouts, connection errors and bodies
        that are not JSON (never for 429).
    backoff
        First backoff in seconds; doubles each retry, up to ``backoff_max``, with jitter.
    min_retry_wait
        Floor of every retry wait (also when ``Retry-After: 0``): never an immediate retry.
    deadline
        Overall budget of one call in seconds, covering its attempts and sleeps; when the
        next wait would pass it, the call raises :class:`DeadlineExceeded`.
    timeout
        Connect/read timeout of one request in seconds (token requests too).
    jitter
        Share of a wait added at random (a 429's ``Retry-After`` of 1 s is waited 1 to
        1.1 s), so threads that were told to wait together do not come back together.

    Raises
    ------
    ConfigError
        A value that is negative, zero where it must not be, or not a number.

    >>> RetryPolicy(max_wait=-1)
    Traceback (most recent call last):
    ...
    hitlab.errors.ConfigError: max_wait (--max-wait) must be a number >= 0, got -1
    """

    max_wait: float = 120.0
    attempts: int = 6
    backoff: float = 1.0
    backoff_max: float = 30.0
    min_retry_wait: float = 0.5
    deadline: float = 600.0
    timeout: float = 20.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        checks = [
            ("max_wait", "--max-wait", self.max_wait, 0.0, True),
            ("deadline", "--deadline", self.deadline, 0.0, False),
            ("timeout", "--timeout", self.timeout, 0.0, False),
            ("backoff", None, self.backoff, 0.0, True),
            ("backoff_max", None, self.backoff_max, 0.0, True),
            ("min_retry_wait", None, self.min_retry_wait, 0.0, True),
            ("jitter", None, self.jitter, 0.0, True),
        ]
        for name, option, value, low, inclusive in checks:
            ok = isinstance(value, (int, float)) and math.isfinite(value)
            ok = ok and (value >= low if inclusive else value > low)
            if not ok:
                label = f"{name} ({option})" if option else name
                bound = f">= {low:g}" if inclusive else f"> {low:g}"
                raise ConfigError(f"{label} must be a number {bound}, got {value!r}")
        if not isinstance(self.attempts, int) or self.attempts < 1:
            raise ConfigError(f"attempts must be a whole number >= 1, got {self.attempts!r}")

    def backoff_for(self, attempt: int, rng: random.Random) -> float:
        """Bounded exponential backoff with jitter for retry number ``attempt`` (1-based)."""
        base = min(self.backoff_max, self.backoff * 2 ** (attempt - 1))
        return max(self.min_retry_wait, base) * (1 + self.jitter * rng.random())


# --------------------------------------------------------------------------- pacer


class Pacer:
    """One request budget shared by every thread: at most ``limit`` requests per rolling
    ``window`` seconds, spread out evenly with jitter, and held for everyone after a 429.

    Each :meth:`reserve` reserves the next free slot under a lock and the caller sleeps
    outside it, so concurrent workers queue fairly instead of bursting. Slots are at least
    ``window / limit`` apart (times ``1 ± jitter``) and no more than ``limit`` fall in any
    ``window``; :meth:`hold` pushes every slot past a time (a 429's ``Retry-After``). When a
    hold ends, the requests it held resume one after another, never all at once: with pacing
    on, ``window / limit`` apart; with pacing off, ``release_gap`` apart (both ``± jitter``).
    Requests that come after the hold has ended are not slowed down.

    Parameters
    ----------
    limit
        Requests allowed per window; ``None`` or 0 turns pacing off (holds still apply).
    window
        Window length in seconds (Spotify counts over a rolling 30 s).
    release_gap
        Spacing in seconds of the requests released by a hold when pacing is off.
    """

    def __init__(
        self,
        limit: int | None = 120,
        window: float = 30.0,
        *,
        jitter: float = 0.1,
        release_gap: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.limit = limit
        self.window = window
        self.jitter = jitter
        self.release_gap = release_gap
        self.clock = clock
        self.rng = rng or random.Random()
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()
        self._next = -math.inf
        self._held_until = -math.inf
        self._release_next = -math.inf  # the next slot for a request held by a hold (pacing off)

    def reserve(self) -> float:
        """Reserve the next slot; return how long the caller must sleep before sending."""
        with self._lock:
            now = self.clock()
            at = max(now, self._held_until)
            if self.limit:
                at = max(at, self._next)
                while self._sent and self._sent[0] <= at - self.window:
                    self._sent.popleft()
                if len(self._sent) >= self.limit:
                    at = max(at, self._sent[-self.limit] + self.window)
                spacing = self.window / self.limit
                self._next = at + spacing * (1 + self.jitter * (2 * self.rng.random() - 1))
                self._sent.append(at)
            elif at > now:  # held: released one after another, not all at once
                at = max(at, self._release_next)
                self._release_next = at + self.release_gap * (1 + self.jitter * (2 * self.rng.random() - 1))
            return max(0.0, at - now)

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` from now (all threads)."""
        with self._lock:
            self._held_until = max(self._held_until, self.clock() + seconds)
            self._release_next = max(self._release_next, self._held_until)


# --------------------------------------------------------------------------- token


class TokenProvider:
    """Client Credentials tokens: fetched lazily, cached until a minute before expiry.

    Token requests have the policy's timeout and are retried on network errors and 5xx;
    a 400/401 from the token endpoint (``invalid_client``) raises :class:`AuthError`.
    """

    def __init__(
        self,
        credentials: Credentials,
        token_url: str,
        http: httpx.Client,
        policy: RetryPolicy,
        *,
        sleep: Sleeper = _plain_sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        self.token_url = token_url
        self.http = http
        self.policy = policy
        self.sleep = sleep
        self.clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0
        self.grants = 0

    def token(self, *, refresh: bool = False, stale: str | None = None) -> str:
        """A valid access token. ``refresh`` forces a new one unless another thread already
        replaced ``stale`` (the token that was refused)."""
        with self._lock:
            fresh_enough = self._token is not None and self.clock() < self._expires
            if fresh_enough and not (refresh and self._token == stale):
                return self._token  # type: ignore[return-value]
            self._token, lifetime = self._grant()
            self._expires = self.clock() + max(0.0, lifetime - 60.0)
            return self._token

    def _grant(self) -> tuple[str, float]:
        """One token grant. Network errors and 5xx use up attempts; a 429 with a
        ``Retry-After`` up to ``max_wait`` is waited out without using one; all within the
        policy's deadline."""
        rng = random.Random()
        last: str = ""
        deadline = self.clock() + self.policy.deadline
        failures = 0
        while True:
            wait: float | None = None
            try:
                response = self.http.post(
                    self.token_url,
                    data={"grant_type": "client_credentials"},
                    headers={"Authorization": self.credentials.basic_auth()},
                    timeout=self.policy.timeout,
                )
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}"
            else:
                if response.status_code == 200:
                    try:
                        body = response.json()
                        self.grants += 1
                        return str(body["access_token"]), float(body.get("expires_in", 3600))
                    except (ValueError, KeyError, TypeError):
                        raise AuthError("the token endpoint answered 200 without an access token") from None
                if response.status_code in (400, 401, 403):
                    reason = _error_reason(response)
                    raise AuthError(
                        f"the token request was refused (HTTP {response.status_code}"
                        f"{', ' + reason if reason else ''}): check the client id and secret and "
                        "re-authorise"
                    )
                last = f"HTTP {response.status_code}"
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                if response.status_code == 429 and retry_after is not None:
                    if retry_after > self.policy.max_wait:
                        raise RateLimitedError(
                            endpoint="Spotify POST /api/token",
                            reason=_error_reason(response),
                            retry_after=retry_after,
                            resume_at=time.time() + retry_after,
                        )
                    wait = max(retry_after, self.policy.min_retry_wait) * (
                        1 + self.policy.jitter * rng.random()
                    )
            if wait is None:
                failures += 1
                if failures >= self.policy.attempts:
                    break
                wait = self.policy.backoff_for(failures, rng)
            wait = min(wait, self.policy.max_wait)
            if self.clock() + wait > deadline:
                break
            self.sleep(wait, "token retry")
        raise AuthError(f"could not get a token from the token endpoint ({last}); try again later")


# --------------------------------------------------------------------------- client


def _error_reason(response: httpx.Response) -> str | None:
    """``error.reason`` (or ``error.message`` / ``error_description``) of a JSON error body."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, dict):
        value = err.get("reason") or err.get("message")
        return str(value) if value else None
    if isinstance(err, str):
        return str(body.get("error_description") or err)
    return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date).

    >>> parse_retry_after("86400")
    86400.0
    >>> parse_retry_after("nonsense") is None
    True
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


@dataclass
class CallStats:
    """Counters kept by one :class:`ApiClient` (read them for reports and benchmarks)."""

    requests: int = 0
    retries: int = 0
    waited: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)


class ApiClient:
    """GET JSON from one service with pacing, retries, typed errors and deadlines.

    Parameters
    ----------
    base_url
        Service root, e.g. ``https://api.spotify.com/v1``.
    tokens
        A :class:`TokenProvider` for bearer auth, or None for a keyless service.
    policy, pacer
        Waiting rules and the shared request budget.
    transport
        An ``httpx`` transport (``httpx.MockTransport`` in tests); None for the network.
    sleep
        ``sleep(seconds, why)``; the CLI passes one that shows a countdown.
    name
        Service name used in error messages (``"Spotify"``).
    """

    def __init__(
        self,
        base_url: str,
        *,
        tokens: TokenProvider | None = None,
        policy: RetryPolicy | None = None,
        pacer: Pacer | None = None,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Sleeper = _plain_sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        name: str = "Spotify",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.policy = policy or RetryPolicy()
        self.pacer = pacer or Pacer()
        self.http = http or httpx.Client(transport=transport, timeout=self.policy.timeout)
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()
        self.name = name
        self.stats = CallStats()
        self._stats_lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers
    def _deadline_error(self, endpoint: str, last: str, waiting: str) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"{self.name} {endpoint}: the call's deadline of {self.policy.deadline:g} s ran out "
            f"{waiting} (last: {last}); raise --deadline to wait longer",
            endpoint=endpoint,
        )

    def _wait(self, seconds: float, why: str, deadline: float, endpoint: str, last: str) -> None:
        if self.clock() + seconds > deadline:
            raise self._deadline_error(endpoint, last, "before the next retry")
        with self._stats_lock:
            self.stats.retries += 1
            self.stats.waited += seconds
        log.info("%s %s: waiting %.2f s before retrying (%s)", self.name, endpoint, seconds, last)
        self.sleep(seconds, why)

    def _wait_paced(self, delay: float, deadline: float, endpoint: str, last: str) -> None:
        if self.clock() + delay > deadline:
            raise self._deadline_error(endpoint, last, "waiting for the pacer")
        self.sleep(delay, "pacing")

    def _count(self, status: int) -> None:
        with self._stats_lock:
            self.stats.requests += 1
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1

    def _retry_or_raise(
        self,
        failures: int,
        error: Exception,
        why: str,
        deadline: float,
        endpoint: str,
        last: str,
        *,
        retry_after: float | None = None,
    ) -> None:
        """After the ``failures``-th retryable failure (5xx, network, bad body): raise ``error``
        when the attempts are spent, else wait the backoff (at least ``retry_after``)."""
        if failures >= self.policy.attempts:
            raise error from None
        wait = self.policy.backoff_for(failures, self.rng)
        if retry_after is not None:
            wait = max(wait, retry_after)
        self._wait(min(wait, self.policy.max_wait), why, deadline, endpoint, last)

    def _rate_limited(
        self, n_limited: int, retry_after: float | None, reason: str | None, deadline: float, endpoint: str
    ) -> None:
        """Wait out the ``n_limited``-th 429 of this call, or raise if it asks for too long.

        A ``Retry-After`` up to ``max_wait`` is honoured (plus jitter, never less than asked),
        however many 429s came before: patience is the call's deadline, not a count. Without
        ``Retry-After``, the wait backs off exponentially. Every thread is held for the same
        time through the pacer, which releases them spread out.
        """
        last = f"HTTP 429{' ' + reason if reason else ''}"
        if retry_after is not None and retry_after > self.policy.max_wait:
            raise RateLimitedError(
                endpoint=f"{self.name} {endpoint}",
                reason=reason,
                retry_after=retry_after,
                resume_at=time.time() + retry_after,
            )
        if retry_after is None:
            asked = min(self.policy.backoff_for(n_limited, self.rng), self.policy.max_wait)
        else:
            asked = max(retry_after, self.policy.min_retry_wait)
        wait = min(asked * (1 + self.policy.jitter * self.rng.random()), max(asked, self.policy.max_wait))
        if self.clock() + asked > deadline:
            raise self._deadline_error(endpoint, last, f"while rate limited ({n_limited} x HTTP 429)")
        self.pacer.hold(asked)
        self._wait(
            min(wait, max(asked, deadline - self.clock())),
            f"rate limited by {self.name} ({reason or 'HTTP 429'})",
            deadline,
            endpoint,
            last,
        )

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, endpoint: str | None = None) -> Any:
        """GET ``base_url + path`` and return the decoded JSON body.

        Parameters
        ----------
        path
            Path under the base URL, e.g. ``/search``.
        params
            Query parameters.
        endpoint
            The endpoint's name for errors and capability records (default ``GET <path>``).

        Raises
        ------
        RateLimitedError
            429 with a ``Retry-After`` above ``max_wait`` (at once). Shorter ones are waited
            out as often as they come; they use up no attempts.
        EndpointUnavailable
            403 or 404 (never retried).
        SpotifyHTTPError
            Any other 4xx (never retried), or a 5xx on every attempt (with its own status).
        BadResponseError
            A 200 whose body is not JSON, on every attempt.
        NetworkError
            Connection errors or timeouts on every attempt.
        DeadlineExceeded
            The next wait (a retry's backoff, a 429's ``Retry-After``, the pacer) would end
            after the call's deadline.
        AuthError
            The token grant failed, or a fresh token was refused too.
        """
        endpoint = endpoint or f"GET {path}"
        url = self.base_url + path
        deadline = self.clock() + self.policy.deadline
        refreshed = False
        last = "nothing sent"
        sent = failures = n_limited = 0
        while True:
            delay = self.pacer.reserve()
            if delay > 0:
                self._wait_paced(delay, deadline, endpoint, last)
            headers = {}
            token = None
            if self.tokens is not None:
                token = self.tokens.token()
                headers["Authorization"] = f"Bearer {token}"
            remaining = max(0.05, deadline - self.clock())
            timeout = min(self.policy.timeout, remaining)
            sent += 1
            try:
                response = self.http.get(url, params=params, headers=headers, timeout=timeout)
            except httpx.TransportError as exc:
                last = "timed out" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
                self._count(0)
                failures += 1
                error = NetworkError(
                    f"{self.name} {endpoint}: {last} on all {failures} attempts", endpoint=endpoint
                )
                self._retry_or_raise(failures, error, "network retry", deadline, endpoint, last)
                continue
            status = response.status_code
            self._count(status)
            log.debug("%s %s -> %s (request %d)", self.name, endpoint, status, sent)
            if status == 200:
                try:
                    return response.json()
                except ValueError:
                    last = "200 with a body that is not JSON"
                    failures += 1
                    kind = response.headers.get("content-type", "no content type")
                    error = BadResponseError(
                        200,
                        endpoint=f"{self.name} {endpoint}",
                        message=f"{self.name} {endpoint} answered 200 with a body that is not JSON "
                        f"({kind}, {len(response.content)} bytes)",
                    )
                    self._retry_or_raise(failures, error, "bad body retry", deadline, endpoint, last)
                    continue
            reason = _error_reason(response)
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if status == 401 and self.tokens is not None:
                if refreshed:
                    raise AuthError(
                        f"{self.name} {endpoint} refused a freshly granted token (HTTP 401"
                        f"{', ' + reason if reason else ''}): re-authorise"
                    )
                refreshed = True
                self.tokens.token(refresh=True, stale=token)
                continue  # a refreshed token is not a retry
            if status == 429:
                n_limited += 1
                last = f"HTTP 429{' ' + reason if reason else ''}"
                self._rate_limited(n_limited, retry_after, reason, deadline, endpoint)
                continue
            if status in (403, 404):
                raise EndpointUnavailable(
                    status, endpoint=f"{self.name} {endpoint}", reason=reason, retry_after=retry_after
                )
            if status in RETRYABLE_STATUS:
                last = f"HTTP {status}"
                failures += 1
                error = SpotifyHTTPError(
                    status,
                    endpoint=f"{self.name} {endpoint}",
                    reason=reason,
                    retry_after=retry_after,
                    message=f"{self.name} {endpoint} answered HTTP {status} on all {failures} attempts",
                )
                self._retry_or_raise(
                    failures,
                    error,
                    f"{self.name} HTTP {status}",
                    deadline,
                    endpoint,
                    last,
                    retry_after=retry_after,
                )
                continue
            raise SpotifyHTTPError(
                status, endpoint=f"{self.name} {endpoint}", reason=reason, retry_after=retry_after
            )
