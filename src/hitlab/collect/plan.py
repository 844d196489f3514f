"""Query planning: which searches and playlists to page through.

The original analysis searched ``genre:X year:Y`` for every genre and year; a search
returns at most 1,000 results (``offset`` up to 1000), so one query per (genre, year) keeps
each under that cap. Playlists (``GET /playlists/{id}/items``) are the other common source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hitlab.errors import ConfigError

__all__ = ["Query", "page_offsets", "parse_list", "parse_years", "plan_queries"]

#: Spotify's search refuses offsets above 1000.
MAX_SEARCH_OFFSET = 1000


@dataclass(frozen=True)
class Query:
    """One planned query. ``query_id`` is stable across runs (the store's key)."""

    query_id: str
    kind: str  # "search" or "playlist"
    q: str
    genre: str | None = None
    year: int | None = None
    playlist_id: str | None = None


def parse_years(text: str) -> list[int]:
    """Years from ``"2010-2021"``, ``"2015"`` or ``"2011,2013,2015-2016"``.

    >>> parse_years("2019-2021")
    [2019, 2020, 2021]
    >>> parse_years("2011, 2015-2016")
    [2011, 2015, 2016]
    """
    years: list[int] = []
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        m = re.fullmatch(r"(\d{4})(?:\s*-\s*(\d{4}))?", part)
        if not m:
            raise ConfigError(f"--years: expected YEAR or FIRST-LAST (e.g. 2010-2021), got {part!r}")
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        if last < first:
            raise ConfigError(f"--years: the range {part!r} ends before it starts")
        years.extend(y for y in range(first, last + 1) if y not in years)
    if not years:
        raise ConfigError("--years: no year given")
    return years


def parse_list(text: str | Sequence[str] | None) -> list[str]:
    """Comma-separated names (or a list of them), stripped, duplicates removed.

    >>> parse_list("pop, hip hop,pop")
    ['pop', 'hip hop']
    """
    if text is None:
        return []
    parts = text.split(",") if isinstance(text, str) else [p for t in text for p in str(t).split(",")]
    out: dict[str, None] = {}
    for p in parts:
        if p.strip():
            out[p.strip()] = None
    return list(out)


def search_q(genre: str, year: int) -> str:
    """The search text for one genre and year; multi-word genres are quoted.

    >>> search_q("hip hop", 2015)
    'genre:"hip hop" year:2015'
    """
    g = f'"{genre}"' if " " in genre else genre
    return f"genre:{g} year:{year}"


def _playlist_id(text: str) -> str:
    m = re.search(r"playlist[/:]([A-Za-z0-9]+)", text)
    pid = m.group(1) if m else text.strip()
    if not re.fullmatch(r"[A-Za-z0-9]+", pid):
        raise ConfigError(f"--playlists: expected a playlist id, URI or URL, got {text!r}")
    return pid


def plan_queries(
    genres: Iterable[str] = (), years: Iterable[int] = (), playlists: Iterable[str] = ()
) -> list[Query]:
    """Every (genre, year) search, then every playlist, in a stable order.

    >>> [q.query_id for q in plan_queries(["pop"], [2020, 2021], ["spotify:playlist:37i9"])]
    ['search:pop:2020', 'search:pop:2021', 'playlist:37i9']
    """
    genres, years = list(genres), list(years)
    if genres and not years:
        raise ConfigError("--genres needs --years (e.g. --years 2010-2021)")
    queries = [
        Query(f"search:{g}:{y}", "search", search_q(g, y), genre=g, year=y) for g in genres for y in years
    ]
    for text in playlists:
        pid = _playlist_id(text)
        queries.append(Query(f"playlist:{pid}", "playlist", pid, playlist_id=pid))
    if not queries:
        raise ConfigError("nothing to collect: give --genres with --years, or --playlists")
    return queries


def page_offsets(limit: int, max_items: int, *, start: int = 0) -> list[int]:
    """Offsets to request at ``limit`` per page for up to ``max_items`` results, from ``start``
    (a resumed query keeps its cursor even if the page size changed since).

    >>> page_offsets(50, 1000)[-1], page_offsets(10, 1000)[-1], page_offsets(50, 120, start=20)
    (950, 990, [20, 70])
    """
    return list(range(start, min(max_items, MAX_SEARCH_OFFSET), limit))
