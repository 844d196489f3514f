"""The collector's durable store: every finished request, recorded atomically.

Why SQLite in WAL mode (and not DuckDB)
---------------------------------------
The collector writes many *small* transactions (one per answered request: a page of ten
search hits, one artist, forty audio features) and must survive ``kill -9`` between any
two of them. SQLite is in the standard library (no new dependency), commits each small
transaction atomically and durably (``synchronous=FULL``: a commit is on disk before the
next request is sent), and in WAL mode lets ``hitlab collect --status`` read from another
process while a collection is writing. DuckDB is a columnar engine built for bulk
analytics: single-row transactions are its slow path, and its file lock keeps a second
process from even reading a database another process has open for writing. The final
table is a Parquet file built from the store at the end of each run.

Layout: ``queries`` (one row per planned query, with its paging cursor and status),
``hits`` (which track each query returned, by position), ``tracks`` / ``artists`` /
``features`` (the raw JSON objects the services answered, keyed by Spotify id; features
also by source), ``capabilities`` (the last probe) and ``meta``. A page, its hits and its
cursor move are written in one transaction, so a resumed run neither loses nor repeats one.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitlab.collect.plan import Query
from hitlab.errors import CollectError

__all__ = ["QueryStatus", "Store"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queries (
    query_id TEXT PRIMARY KEY, kind TEXT NOT NULL, q TEXT NOT NULL, genre TEXT, year INTEGER,
    playlist_id TEXT, status TEXT NOT NULL DEFAULT 'pending', next_offset INTEGER NOT NULL DEFAULT 0,
    total INTEGER, n_items INTEGER NOT NULL DEFAULT 0, n_pages INTEGER NOT NULL DEFAULT 0,
    short_pages INTEGER NOT NULL DEFAULT 0, note TEXT, error TEXT, updated REAL
);
CREATE TABLE IF NOT EXISTS hits (
    query_id TEXT NOT NULL, position INTEGER NOT NULL, track_id TEXT NOT NULL,
    PRIMARY KEY (query_id, position)
);
CREATE TABLE IF NOT EXISTS tracks (track_id TEXT PRIMARY KEY, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS artists (
    artist_id TEXT PRIMARY KEY, status TEXT NOT NULL, payload TEXT, error TEXT
);
CREATE TABLE IF NOT EXISTS features (
    track_id TEXT NOT NULL, source TEXT NOT NULL, status TEXT NOT NULL, payload TEXT, error TEXT,
    PRIMARY KEY (track_id, source)
);
CREATE TABLE IF NOT EXISTS capabilities (
    name TEXT PRIMARY KEY, available INTEGER NOT NULL, detail TEXT NOT NULL, endpoint TEXT,
    status INTEGER, reason TEXT
);
"""


@dataclass(frozen=True)
class QueryStatus:
    """One line of ``hitlab collect --status``."""

    query_id: str
    kind: str
    status: str  # pending, done, failed
    n_items: int
    total: int | None
    next_offset: int
    short_pages: int
    note: str | None
    error: str | None


class Store:
    """A collection's SQLite database (``collect.sqlite`` in the output folder).

    Thread-safe: one connection, every transaction under a lock.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        if readonly:  # for --status while a collection may be writing: never takes a write lock
            self._db = sqlite3.connect(
                f"file:{self.path}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
                timeout=30,
            )
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        with self.transaction() as db:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    @classmethod
    def open_existing(cls, path: str | Path) -> Store:
        """Open a store that must exist already, read-only (for ``--status``)."""
        if not Path(path).is_file():
            raise CollectError(f"no collection found at {path}: run 'hitlab collect' with this --out first")
        return cls(path, readonly=True)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` under the lock; rolled back on any error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- meta and capabilities
    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def record_capabilities(self, capabilities: Iterable[Any]) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM capabilities")
            for c in capabilities:
                db.execute(
                    "INSERT INTO capabilities VALUES (?, ?, ?, ?, ?, ?)",
                    (c.name, int(c.available), c.detail, c.endpoint, c.status, c.reason),
                )

    def capabilities(self) -> list[tuple]:
        return self._rows("SELECT name, available, detail, endpoint, status, reason FROM capabilities")

    # -- queries and pages
    def add_queries(self, queries: Iterable[Query]) -> None:
        """Add planned queries; ones already known (from an earlier run) keep their progress."""
        with self.transaction() as db:
            for q in queries:
                db.execute(
                    "INSERT OR IGNORE INTO queries (query_id, kind, q, genre, year, playlist_id) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (q.query_id, q.kind, q.q, q.genre, q.year, q.playlist_id),
                )

    def open_queries(self, ids: Iterable[str]) -> list[tuple[str, int]]:
        """``(query_id, next_offset)`` of the given queries that are not done, in plan order."""
        wanted = list(ids)
        rows = dict(self._rows("SELECT query_id, next_offset FROM queries WHERE status != 'done'"))
        return [(qid, rows[qid]) for qid in wanted if qid in rows]

    def record_page(
        self,
        query_id: str,
        offset: int,
        items: Sequence[dict],
        *,
        total: int | None,
        next_offset: int,
        done: bool,
        short: bool = False,
        note: str | None = None,
    ) -> None:
        """One answered page: its tracks, its hits and the cursor move, in one transaction."""
        with self.transaction() as db:
            for i, item in enumerate(items):
                db.execute(
                    "INSERT OR REPLACE INTO tracks VALUES (?, ?)",
                    (item["id"], json.dumps(item, sort_keys=True)),
                )
                db.execute("INSERT OR REPLACE INTO hits VALUES (?, ?, ?)", (query_id, offset + i, item["id"]))
            db.execute(
                "UPDATE queries SET next_offset = ?, total = ?, n_items = n_items + ?, "
                "n_pages = n_pages + 1, "
                "short_pages = short_pages + ?, status = ?, note = COALESCE(?, note), error = NULL, "
                "updated = ? WHERE query_id = ?",
                (
                    next_offset,
                    total,
                    len(items),
                    int(short),
                    "done" if done else "pending",
                    note,
                    time.time(),
                    query_id,
                ),
            )

    def record_query_failed(self, query_id: str, error: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE queries SET status = 'failed', error = ?, updated = ? WHERE query_id = ?",
                (error, time.time(), query_id),
            )

    def query_status(self) -> list[QueryStatus]:
        rows = self._rows(
            "SELECT query_id, kind, status, n_items, total, next_offset, short_pages, note, error "
            "FROM queries ORDER BY rowid"
        )
        return [QueryStatus(*row) for row in rows]

    def hits(self, query_ids: Iterable[str] | None = None) -> list[tuple[str, int, str]]:
        rows = self._rows("SELECT query_id, position, track_id FROM hits ORDER BY query_id, position")
        if query_ids is None:
            return rows
        wanted = set(query_ids)
        return [r for r in rows if r[0] in wanted]

    def queries(self) -> dict[str, Query]:
        rows = self._rows("SELECT query_id, kind, q, genre, year, playlist_id FROM queries")
        return {r[0]: Query(*r) for r in rows}

    # -- tracks, artists, features
    def tracks(self) -> dict[str, dict]:
        return {tid: json.loads(p) for tid, p in self._rows("SELECT track_id, payload FROM tracks")}

    def record_artists(self, found: dict[str, dict], *, failed: dict[str, str] | None = None) -> None:
        with self.transaction() as db:
            for aid, payload in found.items():
                db.execute(
                    "INSERT OR REPLACE INTO artists VALUES (?, 'done', ?, NULL)",
                    (aid, json.dumps(payload, sort_keys=True)),
                )
            for aid, error in (failed or {}).items():
                db.execute("INSERT OR REPLACE INTO artists VALUES (?, 'failed', NULL, ?)", (aid, error))

    def artists(self) -> dict[str, tuple[str, dict | None, str | None]]:
        """``artist_id -> (status, payload, error)``."""
        rows = self._rows("SELECT artist_id, status, payload, error FROM artists")
        return {a: (s, json.loads(p) if p else None, e) for a, s, p, e in rows}

    def record_features(
        self,
        source: str,
        found: dict[str, dict],
        *,
        missing: Iterable[str] = (),
        failed: dict[str, str] | None = None,
    ) -> None:
        """Audio features from one answer: found ones, ids the source left out, ids that failed."""
        with self.transaction() as db:
            for tid, payload in found.items():
                db.execute(
                    "INSERT OR REPLACE INTO features VALUES (?, ?, 'done', ?, NULL)",
                    (tid, source, json.dumps(payload, sort_keys=True)),
                )
            for tid in missing:
                db.execute(
                    "INSERT OR REPLACE INTO features VALUES (?, ?, 'missing', NULL, NULL)", (tid, source)
                )
            for tid, error in (failed or {}).items():
                db.execute(
                    "INSERT OR REPLACE INTO features VALUES (?, ?, 'failed', NULL, ?)", (tid, source, error)
                )

    def features(self) -> dict[tuple[str, str], tuple[str, dict | None]]:
        """``(track_id, source) -> (status, payload)``."""
        rows = self._rows("SELECT track_id, source, status, payload FROM features")
        return {(t, s): (st, json.loads(p) if p else None) for t, s, st, p in rows}

    def counts(self) -> dict[str, dict[str, int]]:
        """Status counts per table, for ``--status``."""
        out: dict[str, dict[str, int]] = {}
        for table in ("queries", "artists"):
            out[table] = dict(self._rows(f"SELECT status, COUNT(*) FROM {table} GROUP BY status"))
        for source, status, n in self._rows("SELECT source, status, COUNT(*) FROM features GROUP BY 1, 2"):
            out.setdefault(f"features ({source})", {})[status] = n
        out["tracks"] = {"stored": self._rows("SELECT COUNT(*) FROM tracks")[0][0]}
        return out
