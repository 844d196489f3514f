"""hitlab's exception family.

Every error the library raises on purpose derives from :class:`HitlabError`;
the CLI catches that family at its edge, prints one message and exits non-zero.

::

    HitlabError
    ├── DataError                 bad input data: names the file, column and rows
    │   ├── SchemaError           one or more schema problems, collected and raised once
    │   └── ConflictError         the same track id with conflicting audio features
    ├── MappingError              unknown preset, bad mapping file
    ├── FetchError                a download failed or its checksum did not match
    ├── ModelFileError            a saved model is missing, tampered with or mismatched
    ├── ConfigError               an invalid option or config file
    ├── RunFolderError            a run folder cannot be written: --out unusable, or the name is in use
    └── CollectError              the collector could not fetch something (hitlab.collect)
        ├── AuthError             credentials missing or refused: re-authorise
        ├── NetworkError          connect/read errors or timeouts, retries exhausted
        │   └── DeadlineExceeded  the per-call deadline (retries and sleeps included) ran out
        └── SpotifyHTTPError      an HTTP error, kept whole: status, Retry-After, reason, endpoint
            ├── RateLimitedError  429: Retry-After longer than the cap, or retries exhausted
            ├── EndpointUnavailable  403/404 on an endpoint the app may not use: switched off
            └── BadResponseError  a 200 whose body is not the JSON promised
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


class HitlabError(Exception):
    """Base class of every error hitlab raises on purpose."""


class ConfigError(HitlabError):
    """An option or config file value is invalid."""


class RunFolderError(HitlabError):
    """A run folder cannot be written: ``--out`` is unusable, or another run holds the name."""


class MappingError(HitlabError):
    """A column mapping (preset name or TOML file) is unknown or invalid."""


class FetchError(HitlabError):
    """A dataset download failed, was interrupted or did not match its checksum."""


class ModelFileError(HitlabError):
    """A saved model file is missing, modified, or does not match its manifest."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a table: which column, which rows, what is wrong."""

    column: str | None
    message: str
    rows: Sequence[int] = field(default_factory=tuple)
    n_rows: int = 0

    def describe(self) -> str:
        where = f"column '{self.column}'" if self.column else "table"
        text = f"{where}: {self.message}"
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows)
            more = f" (and {self.n_rows - len(self.rows)} more)" if self.n_rows > len(self.rows) else ""
            text += f" at row{'s' if self.n_rows > 1 else ''} {shown}{more}"
        return text


class DataError(HitlabError):
    """Bad input data. ``source`` names the file (or ``<DataFrame>``)."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + message)


class SchemaError(DataError):
    """A table does not satisfy the canonical track schema.

    All problems are collected and raised once. Row numbers are 1-based data rows
    of the source file (the header is not counted).
    """

    def __init__(self, problems: Sequence[Problem], *, source: str | None = None) -> None:
        self.problems = list(problems)
        lines = [p.describe() for p in self.problems]
        if len(lines) == 1:
            message = lines[0]
        else:
            message = f"{len(lines)} problems:\n" + "\n".join(f"  - {line}" for line in lines)
        super().__init__(message, source=source)


class ConflictError(DataError):
    """The same track id carries different audio features in different rows."""


class CollectError(HitlabError):
    """The collector could not fetch something; the store keeps what was done so far."""


class AuthError(CollectError):
    """Credentials are missing, or the token grant was refused: re-authorise."""


class NetworkError(CollectError):
    """Connect or read errors (or timeouts) on every attempt of one call."""

    def __init__(self, message: str, *, endpoint: str | None = None) -> None:
        self.endpoint = endpoint
        super().__init__(message)


class DeadlineExceeded(NetworkError):
    """The overall deadline of one call, covering its retries and sleeps, ran out."""


class SpotifyHTTPError(CollectError):
    """An HTTP error answer, with everything the server said about it.

    Parameters
    ----------
    status
        The HTTP status code (200 for :class:`BadResponseError`).
    endpoint
        The endpoint name, e.g. ``"GET /search"`` (never a full URL with credentials).
    reason
        The ``error.reason`` (or ``error.message``) of the JSON body, when there is one.
    retry_after
        The ``Retry-After`` header in seconds, when the server sent one.
    """

    def __init__(
        self,
        status: int,
        *,
        endpoint: str,
        reason: str | None = None,
        retry_after: float | None = None,
        message: str | None = None,
    ) -> None:
        self.status = status
        self.endpoint = endpoint
        self.reason = reason
        self.retry_after = retry_after
        text = message or f"{endpoint} answered HTTP {status}"
        if reason:
            text += f" ({reason})"
        if retry_after is not None:
            text += f"; Retry-After {retry_after:g} s"
        super().__init__(text)


class RateLimitedError(SpotifyHTTPError):
    """HTTP 429 that hitlab will not wait out: Retry-After above the cap, or retries spent.

    ``resume_at`` is the UNIX time after which the same command can be run again.
    """

    def __init__(
        self, *, endpoint: str, reason: str | None, retry_after: float | None, resume_at: float
    ) -> None:
        self.resume_at = resume_at
        super().__init__(
            429,
            endpoint=endpoint,
            reason=reason,
            retry_after=retry_after,
            message=f"{endpoint} is rate limited (HTTP 429)",
        )


class EndpointUnavailable(SpotifyHTTPError):
    """HTTP 403 or 404 on an endpoint this app may not use (removed or restricted); never retried."""


class BadResponseError(SpotifyHTTPError):
    """A 200 answer whose body is not JSON (or not the shape promised): an error, never an empty result."""
