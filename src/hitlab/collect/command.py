"""``hitlab collect``: a thin layer over :func:`hitlab.collect.collect`.

Parses options, reads credentials and service URLs (never printing the secret), shows a
Rich progress bar per phase (rate and ETA) and a countdown while a rate limit is waited
out, and turns a :class:`~hitlab.errors.HitlabError` into one line and a non-zero exit:

- 0: done (``tracks.parquet`` written);
- 1: an error (bad option, credentials refused, ...);
- 75: a ``Retry-After`` longer than ``--max-wait``: progress is saved, run the same command
  again after the time printed. Shorter ``Retry-After`` waits never end a run.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from hitlab.collect.client import RetryPolicy, load_credentials, service_urls
from hitlab.collect.collector import STORE_NAME, CollectConfig, collect
from hitlab.collect.plan import parse_list, parse_years
from hitlab.collect.store import Store
from hitlab.errors import HitlabError, RateLimitedError

__all__ = ["EXIT_RATE_LIMITED", "collect_command", "render_status"]

EXIT_RATE_LIMITED = 75  # EX_TEMPFAIL: try again later


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:6.1f}/s" if speed else "     -/s", style="progress.data.speed")


class RichProgress:
    """The collector's :class:`~hitlab.collect.collector.Progress` drawn with Rich."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bars = Progress(
            TextColumn("{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID | None = None
        self._total: int | None = None
        self._done = 0
        self._lock = threading.Lock()

    def __enter__(self) -> RichProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self._finish()
        self.bars.stop()

    def phase(self, name: str, total: int | None) -> None:
        with self._lock:
            self._finish()
            self._task = self.bars.add_task(name, total=total)
            self._total, self._done = total, 0

    def _finish(self) -> None:
        if self._task is not None:
            end = self._total if self._total is not None else max(self._done, 1)
            self.bars.update(self._task, total=end, completed=end)
            self.bars.stop_task(self._task)

    def advance(self, n: int = 1) -> None:
        if self._task is not None and n:
            with self._lock:
                self._done += n
            self.bars.advance(self._task, n)

    def resize(self, total: int) -> None:
        with self._lock:
            if self._task is not None:
                self._total = total
                self.bars.update(self._task, total=total)

    def note(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def sleep(self, seconds: float, why: str) -> None:
        """Sleep, showing a countdown for waits of a second or more."""
        if seconds < 1.0:
            time.sleep(max(0.0, seconds))
            return
        end = time.monotonic() + seconds
        task = self.bars.add_task(f"waiting: {why}"[:28], total=seconds)
        try:
            while (left := end - time.monotonic()) > 0:
                self.bars.update(
                    task, completed=seconds - left, description=f"waiting {left:4.0f} s: {why}"[:28]
                )
                time.sleep(min(0.25, left))
        finally:
            self.bars.remove_task(task)


def render_status(store: Store) -> list[str]:
    """The lines of ``--status``: one per query (done / pending / failed), then totals."""
    lines = []
    statuses = store.query_status()
    for q in statuses:
        total = "?" if q.total is None else str(q.total)
        extra = f"  error: {q.error}" if q.error else (f"  note: {q.note}" if q.note else "")
        lines.append(f"{q.status:<8} {q.query_id:<40} {q.n_items:>5} of {total:>5} items{extra}")
    counts: dict[str, int] = {}
    for q in statuses:
        counts[q.status] = counts.get(q.status, 0) + 1
    lines.append("queries: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("done", "pending", "failed")))
    for table, by_status in store.counts().items():
        if table != "queries" and by_status:
            lines.append(f"{table}: " + ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())))
    mode = store.get_meta("mode")
    if mode:
        lines.append(f"app mode: {mode}; audio features from: {store.get_meta('feature_source') or 'none'}")
    return lines


def _setup_log(path: Path | None) -> logging.Handler | None:
    if path is None:
        return None
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("hitlab", "httpx", "httpcore"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    return handler


def collect_command(
    genres: Annotated[
        str | None, typer.Option("--genres", help="Comma-separated genres, e.g. 'pop,rock,hip hop'.")
    ] = None,
    years: Annotated[
        str | None, typer.Option("--years", help="Years to search: 2010-2021, or 2015,2017.")
    ] = None,
    playlists: Annotated[
        str | None, typer.Option("--playlists", help="Comma-separated playlist ids, URIs or URLs.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder (store, tracks.parquet, report).")] = Path(
        "collected"
    ),
    status: Annotated[
        bool, typer.Option("--status", help="Show done / pending / failed per query in --out and exit.")
    ] = False,
    max_wait: Annotated[
        float,
        typer.Option(
            "--max-wait",
            help="Longest single Retry-After (seconds) to wait out; shorter ones are always waited, "
            "however often they come. A longer one saves progress and exits (code 75).",
        ),
    ] = 120.0,
    max_per_query: Annotated[
        int, typer.Option("--max-per-query", help="Results per query (<= 1000).")
    ] = 1000,
    features: Annotated[
        str, typer.Option("--features", help="Audio features source: auto, spotify, reccobeats, none.")
    ] = "auto",
    rate: Annotated[int, typer.Option("--rate", help="Requests per rolling 30 s (0: no pacing).")] = 120,
    workers: Annotated[int, typer.Option("--workers", help="Concurrent one-id requests.")] = 4,
    timeout: Annotated[float, typer.Option("--timeout", help="Timeout of one request, seconds.")] = 20.0,
    deadline: Annotated[
        float,
        typer.Option(
            "--deadline", help="Patience of one call, seconds: its retries and waits (429s too) included."
        ),
    ] = 600.0,
    log: Annotated[Path | None, typer.Option("--log", help="Write a debug log to this file.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Collect tracks from the Spotify Web API into a canonical track table (resumable)."""
    console = Console(stderr=True, quiet=quiet)
    handler = _setup_log(log)
    try:
        if status:
            with Store.open_existing(out / STORE_NAME) as store:
                for line in render_status(store):
                    typer.echo(line)
            return
        config = CollectConfig(
            out=out,
            genres=tuple(parse_list(genres)),
            years=tuple(parse_years(years)) if years else (),
            playlists=tuple(parse_list(playlists)),
            max_per_query=max_per_query,
            features=features,
            workers=workers,
        )
        config.plan()  # option errors before any request
        policy = RetryPolicy(max_wait=max_wait, timeout=timeout, deadline=deadline)
        credentials = load_credentials()
        with RichProgress(console) as progress:
            result = collect(
                config,
                credentials,
                service_urls(os.environ),
                policy=policy,
                rate=rate or None,
                sleep=progress.sleep,
                progress=progress,
            )
        for line in result.capabilities.lines():
            console.print(line, markup=False, highlight=False)
        missing = result.report["missing"]
        typer.echo(
            f"wrote {result.report['tracks']} tracks to {result.path} "
            f"(features from {result.report['feature_source'] or 'nowhere'}; missing: "
            f"popularity {missing['popularity']}, audio features {missing['audio_features']}, "
            f"artist genres {missing['artist_genres']}; failed queries {result.report['queries']['failed']})"
        )
    except RateLimitedError as exc:
        when = dt.datetime.fromtimestamp(exc.resume_at, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        typer.echo(
            f"error: {exc}, longer than --max-wait {max_wait:g} s. Progress is saved in {out}; "
            f"run the same command again after {when}.",
            err=True,
        )
        raise typer.Exit(EXIT_RATE_LIMITED) from None
    except HitlabError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        if handler is not None:
            for name in ("hitlab", "httpx", "httpcore"):
                logging.getLogger(name).removeHandler(handler)
            handler.close()


if __name__ == "__main__":  # python -m hitlab.collect.command (used by the kill -9 test)
    typer.run(collect_command)
