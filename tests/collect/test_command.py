"""``hitlab collect`` end to end: CLI runner, ``--status``, exit codes, the secret scan and
the kill -9 resume test (a real subprocess killed mid-run)."""

from __future__ import annotations

import base64
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import typer
from collect_helpers import GENRES, YEARS
from rich.console import Console
from standin import Catalogue, Fault, RateLimitPattern, StandIn
from typer.testing import CliRunner

import hitlab
from hitlab.collect.collector import REPORT_NAME, STORE_NAME, TABLE_NAME
from hitlab.collect.command import EXIT_RATE_LIMITED, RichProgress, collect_command
from hitlab.collect.store import Store

app = typer.Typer()
app.command()(collect_command)
runner = CliRunner()
FAST_ARGS = ["--rate", "0", "--max-wait", "0.5", "--timeout", "2", "--deadline", "20", "--quiet"]


def args(out: Path, *extra: str) -> list[str]:
    return [
        "--genres",
        ",".join(GENRES),
        "--years",
        f"{YEARS[0]}-{YEARS[-1]}",
        "--out",
        str(out),
        *FAST_ARGS,
        *extra,
    ]


def test_cli_collects_and_summarises(dev: StandIn, tmp_path: Path) -> None:
    result = runner.invoke(app, args(tmp_path), env=dev.env())
    assert result.exit_code == 0, result.output
    table = hitlab.read_tracks(tmp_path / TABLE_NAME)
    assert f"wrote {len(table)} tracks" in result.output
    assert "features from reccobeats" in result.output
    assert (tmp_path / REPORT_NAME).is_file()


def test_cli_long_rate_limit_exits_75_saying_when_to_resume(dev: StandIn, tmp_path: Path) -> None:
    dev.inject("search", Fault(429, retry_after="86400", reason="QUOTA_EXCEEDED", match={"offset": "10"}))
    result = runner.invoke(app, args(tmp_path), env=dev.env())
    assert result.exit_code == EXIT_RATE_LIMITED
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "QUOTA_EXCEEDED" in lines[0] and "Retry-After 86400 s" in lines[0]
    assert "longer than --max-wait 0.5 s" in lines[0]
    assert "run the same command again after" in lines[0] and "UTC" in lines[0]
    status = runner.invoke(app, ["--status", "--out", str(tmp_path)])
    assert status.exit_code == 0
    assert "queries: 0 done, 4 pending, 0 failed" in status.output
    lines = [" ".join(line.split()) for line in status.output.splitlines()]
    assert "pending search:pop:2019 10 of 23 items" in lines
    again = runner.invoke(app, args(tmp_path), env=dev.env())
    assert again.exit_code == 0, again.output
    status = runner.invoke(app, ["--status", "--out", str(tmp_path)])
    assert "queries: 4 done, 0 pending, 0 failed" in status.output


@pytest.mark.parametrize(
    ("pattern", "workers"),
    [(RateLimitPattern(7, retry_after="1"), "4"), (RateLimitPattern(42, run=6, retry_after="1"), "1")],
    ids=["one-in-seven", "one-in-seven-in-runs-of-six"],
)
def test_cli_one_request_in_seven_rate_limited_for_a_real_second_finishes_in_one_run(
    tmp_path: Path, pattern: RateLimitPattern, workers: str
) -> None:
    """The issue's case end to end, really sleeping: about one request in seven answered 429
    ``Retry-After: 1`` (spread out, or six in a row on one call); ``hitlab collect`` with its
    default patience finishes in one run, every track once."""
    genres, years = ["pop", "rock"], [2020]
    catalogue = Catalogue.build(genres, years, 14, artists_per_genre=6)
    with StandIn(catalogue, rate_limit=pattern) as server:
        start = time.monotonic()
        result = runner.invoke(
            app,
            [
                "--genres",
                "pop,rock",
                "--years",
                "2020",
                "--out",
                str(tmp_path),
                "--rate",
                "0",
                "--quiet",
                "--workers",
                workers,
            ],
            env=server.env(),
        )
        elapsed = time.monotonic() - start
        statuses = [r.get("status") for r in server.log if r["route"] != "token"]
        limited = [r for r in server.log if r.get("status") == 429]
    assert result.exit_code == 0, result.output
    table = hitlab.read_tracks(tmp_path / TABLE_NAME)
    expected = {t for g in genres for y in years for t in catalogue.by_query[(g, y)]}
    assert table["track_id"].is_unique and set(table["track_id"]) == expected  # every track once
    assert table["danceability"].notna().all()  # features fetched for every one of them
    # the stand-in answered 429 as the pattern says (one request in seven over each cycle)
    assert len(limited) == sum(pattern.limits(n) for n in range(len(statuses))) >= 3
    assert 1.0 * 2 <= elapsed < 30  # the waits were really slept (overlapping across workers), and bounded
    status = runner.invoke(app, ["--status", "--out", str(tmp_path)])
    assert "queries: 2 done, 0 pending, 0 failed" in status.output


def test_status_shows_failed_queries_with_their_error(dev: StandIn, tmp_path: Path) -> None:
    dev.inject(
        "search", *[Fault(503, message="Service unavailable", match={"q": "genre:rock year:2020"})] * 6
    )
    result = runner.invoke(app, args(tmp_path), env=dev.env())
    assert result.exit_code == 0
    status = runner.invoke(app, ["--status", "--out", str(tmp_path)])
    failed = [line for line in status.output.splitlines() if line.startswith("failed")]
    assert len(failed) == 1 and "search:rock:2020" in failed[0] and "HTTP 503" in failed[0]


@pytest.mark.parametrize(
    ("extra", "env", "message"),
    [
        (["--years", "2021-2010"], {}, "ends before it starts"),
        (["--features", "magic"], {}, "features must be one of"),
        ([], {"HITLAB_SPOTIFY_CLIENT_SECRET": "wrong"}, "re-authorise"),
        (["--max-wait", "-1"], {}, "max_wait (--max-wait) must be a number >= 0, got -1.0"),
        (["--deadline", "0"], {}, "deadline (--deadline) must be a number > 0, got 0.0"),
    ],
)
def test_errors_are_one_line_and_non_zero(dev: StandIn, tmp_path: Path, extra, env, message) -> None:
    result = runner.invoke(app, [*args(tmp_path), *extra], env={**dev.env(), **env})
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and message in result.output


def test_status_without_a_collection(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--status", "--out", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no collection found" in result.output


def _scan(folder: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path.name}: {n!r}" for n in needles if n in data]
    return hits


def test_the_client_secret_is_never_written(dev: StandIn, tmp_path: Path) -> None:
    out, logs = tmp_path / "out", tmp_path / "logs"
    logs.mkdir()
    log = logs / "collect.log"
    secret = dev.client_secret.encode()
    basic = base64.b64encode(f"{dev.client_id}:{dev.client_secret}".encode())
    dev.inject("search", Fault(expire_tokens=True, match={"offset": "10"}))  # a refresh happens too
    result = runner.invoke(app, [*args(out), "--log", str(log)], env=dev.env())
    assert result.exit_code == 0, result.output
    assert dev.grants == 2  # the secret was used, twice
    assert log.stat().st_size > 0 and "GET /search -> 200" in log.read_text()
    assert {p.name for p in out.iterdir()} >= {STORE_NAME, TABLE_NAME, REPORT_NAME}
    assert _scan(out, [secret, basic]) == []
    assert _scan(logs, [secret, basic]) == []
    assert dev.client_secret not in result.output
    # the scan does find a secret where there is one
    (logs / "planted.txt").write_bytes(b"x" + basic + b"y")
    assert _scan(logs, [secret, basic]) == [f"planted.txt: {basic!r}"]


# ----------------------------------------------------------------------------- kill -9


def _progress(db: Path) -> tuple[int, int]:
    """(pages stored, artists stored), read while the collector writes (WAL allows it)."""
    if not db.exists():
        return 0, 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            pages = con.execute("SELECT COALESCE(SUM(n_pages), 0) FROM queries").fetchone()[0]
            artists = con.execute("SELECT COUNT(*) FROM artists").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0, 0
    return pages, artists


def _command(out: Path) -> list[str]:
    return [sys.executable, "-m", "hitlab.collect.command", *args(out), "--workers", "2"]


@pytest.mark.parametrize("phase", ["search", "artists"])
def test_kill_9_mid_run_then_resume_equals_an_uninterrupted_run(
    catalogue, tmp_path: Path, phase: str
) -> None:
    with StandIn(catalogue, latency=0.03) as server:
        env = {**os.environ, **server.env()}
        killed, whole = tmp_path / "killed", tmp_path / "whole"
        proc = subprocess.Popen(_command(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while True:
            pages, artists = _progress(killed / STORE_NAME)
            if (phase == "search" and pages >= 3) or (phase == "artists" and artists >= 3):
                break
            assert proc.poll() is None, f"finished before the kill: {proc.stderr.read()!r}"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
        assert not (killed / TABLE_NAME).exists()
        _, stored_artists = _progress(killed / STORE_NAME)
        n_before = len(server.log)
        resumed = subprocess.run(_command(killed), env=env, capture_output=True, text=True, timeout=60)
        assert resumed.returncode == 0, resumed.stderr
        n_mid = len(server.log)
        full = runner.invoke(app, [*args(whole), "--workers", "2"], env=server.env())  # the same command
        assert full.exit_code == 0, full.output
        resumed_log, full_log = server.log[n_before:n_mid], server.log[n_mid:]
    a = pd.read_parquet(killed / TABLE_NAME)
    b = pd.read_parquet(whole / TABLE_NAME)
    pd.testing.assert_frame_equal(a, b)  # nothing lost, nothing duplicated, same order
    assert a["track_id"].is_unique
    # the resumed run did not redo what was stored: fewer requests than a whole run
    assert len(resumed_log) < len(full_log)
    n_artists = len([r for r in full_log if r["route"] == "artist"])
    resumed_artists = [r for r in resumed_log if r["route"] == "artist"]
    assert len(resumed_artists) <= n_artists - stored_artists + 1  # + the probe's one
    if phase == "artists":
        assert not [
            r
            for r in resumed_log
            if r["route"] == "search" and r.get("status") == 200 and r["params"]["offset"] != "0"
        ]


def test_registers_as_a_subcommand_of_a_larger_app() -> None:
    big = typer.Typer()
    big.command("collect")(collect_command)
    big.command("other")(lambda: None)
    result = runner.invoke(big, ["collect", "--help"])
    assert result.exit_code == 0
    for option in ("--genres", "--years", "--playlists", "--out", "--status", "--max-wait", "--features"):
        assert option in result.output


def test_status_reads_while_a_collection_holds_a_write_transaction(dev: StandIn, tmp_path: Path) -> None:
    assert runner.invoke(app, args(tmp_path), env=dev.env()).exit_code == 0
    with Store(tmp_path / STORE_NAME) as writer, writer.transaction():
        start = time.monotonic()
        status = runner.invoke(app, ["--status", "--out", str(tmp_path)])
        assert time.monotonic() - start < 5
    assert status.exit_code == 0 and "queries: 4 done, 0 pending, 0 failed" in status.output


def test_progress_shows_a_countdown_while_waiting() -> None:
    buffer = io.StringIO()
    with RichProgress(Console(file=buffer, force_terminal=True, width=100)) as progress:
        progress.phase("search", 3)
        progress.advance(2)
        start = time.monotonic()
        progress.sleep(1.0, "rate limited by Spotify")
        assert time.monotonic() - start >= 1.0
    text = buffer.getvalue()
    assert "waiting" in text and "rate limited" in text and "2/3" in text
