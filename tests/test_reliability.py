"""Issue 12, run folders and the command line: hostile inputs and faults, each through the CLI.

Every data-loss case hashes every file under the test's folder before and after: files
outside the run folder, and earlier runs, must be byte-identical afterwards. Inputs are
600 rows of the built-in data. The table of cases is in docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import hitlab.pipeline
import hitlab.run_folder
from hitlab.cli import app
from hitlab.config import STAGE_NAMES

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str, stdin: bytes | None = None):
    return runner.invoke(app, [str(a) for a in args], input=stdin)


def _one_line_error(result, *fragments: str) -> str:
    """The CLI failed with one ``error:`` line holding every fragment, and no traceback."""
    assert result.exit_code != 0, result.output
    text = " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert text.startswith("error:"), result.output
    for fragment in fragments:
        assert fragment in text, result.output
    return text


@pytest.fixture(scope="module")
def tracks_600(tmp_path_factory) -> Path:
    """600 rows of the built-in data in its own (tidytuesday preset) columns, several genres."""
    from hitlab.datasets import load_tidytuesday

    path = tmp_path_factory.mktemp("data") / "tracks.csv"
    load_tidytuesday(raw=True).sample(n=600, random_state=0).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tracks_600) -> Path:
    """A finished eda run, made once and copied into each test's ``work/runs/keep``."""
    out = tmp_path_factory.mktemp("finished")
    result = _cli("run", "--data", tracks_600, "--out", out, "--name", "keep", "--stages", "eda")
    assert result.exit_code == 0, result.output
    return out / "keep"


@pytest.fixture
def work(tmp_path, tracks_600, finished_run) -> Path:
    """``work/`` holding an input copy, an unrelated file and ``runs/`` with a finished eda run ``keep``."""
    work = tmp_path / "work"
    (work / "runs").mkdir(parents=True)
    (work / "notes.txt").write_text("not hitlab's\n")
    (work / "tracks.csv").write_bytes(tracks_600.read_bytes())
    shutil.copytree(finished_run, work / "runs" / "keep")
    return work


def _manifest_matches_files(folder: Path) -> dict:
    manifest = json.loads((folder / "manifest.json").read_text())
    for rel, digest in manifest["outputs"].items():
        assert hashlib.sha256((folder / rel).read_bytes()).hexdigest() == digest, rel
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert on_disk - set(manifest["outputs"]) <= {"manifest.json", "report.html"}
    return manifest


# ---------------------------------------------------------------- run folders: names


@pytest.mark.parametrize("name", ["..", ".", "", "   ", "a/b", "../x", ".hidden", "a:b", "nul", "a\x00b"])
def test_run_name_must_be_a_plain_folder_name(work, name, tree_hashes):
    before = tree_hashes(work)
    result = _cli("run", "--data", work / "tracks.csv", "--out", work / "runs", "--name", name)
    _one_line_error(result, "option --name", "plain folder name")
    assert tree_hashes(work) == before


def test_run_name_dotdot_does_not_touch_the_parent_of_out(work, tree_hashes):
    """Issue 12, item 1: ``--name ..`` used to delete everything in ``work/``."""
    before = tree_hashes(work)
    result = _cli("run", "--out", work / "runs", "--name", "..", "--stages", "eda")
    _one_line_error(result, "got '..'")
    assert tree_hashes(work) == before


def test_existing_folder_that_is_not_a_run_is_never_replaced(work, tree_hashes):
    (work / "src").mkdir()
    (work / "src" / "code.py").write_text("print('mine')\n")
    before = tree_hashes(work)
    result = _cli("run", "--data", work / "tracks.csv", "--out", work, "--name", "src", "--stages", "eda")
    _one_line_error(result, "is not a hitlab run folder", "refusing to replace")
    assert tree_hashes(work) == before


def test_derived_run_name_from_a_hidden_data_file_is_plain(work):
    hidden = work / ".tracks.csv"
    hidden.write_bytes((work / "tracks.csv").read_bytes())
    result = _cli("run", "--data", hidden, "--out", work / "runs", "--stages", "eda")
    assert result.exit_code == 0, result.output
    assert (work / "runs" / "tracks-playlist" / "manifest.json").is_file()


# ---------------------------------------------------------------- run folders: options checked first


def test_stage_typo_over_a_finished_run_leaves_it_byte_identical(work, tree_hashes):
    """Issue 12, item 3: ``--stages populartiy`` used to exit 0 and delete the run's outputs."""
    before = tree_hashes(work)
    result = _cli("run", "--data", work / "tracks.csv", "--out", work / "runs", "--name", "keep",
                  "--stages", "populartiy")
    _one_line_error(result, "option --stages", "'populartiy'",
                    "eda, popularity, genre, eras, label_quality, report")
    assert tree_hashes(work) == before


def test_out_is_an_existing_file(work, tree_hashes):
    before = tree_hashes(work)
    result = _cli("run", "--data", work / "tracks.csv", "--out", work / "notes.txt", "--stages", "eda")
    _one_line_error(result, "notes.txt is a file, not a folder")
    assert tree_hashes(work) == before
    result = _cli("run", "--data", work / "tracks.csv", "--out", work / "notes.txt" / "runs",
                  "--stages", "eda")
    _one_line_error(result, "cannot be created", "notes.txt is a file")
    assert tree_hashes(work) == before


def test_out_in_a_read_only_folder(work, monkeypatch, tree_hashes):
    locked = work / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            # Running as root: chmod does not stop root from writing, so simulate what a
            # normal user meets: the operating system says the folder is not writable.
            real_access = os.access

            def access(path, mode, *args, **kwargs):
                if Path(path) == locked and mode & os.W_OK:
                    return False
                return real_access(path, mode, *args, **kwargs)

            monkeypatch.setattr(hitlab.run_folder.os, "access", access)
        before = tree_hashes(work)
        result = _cli("run", "--data", work / "tracks.csv", "--out", locked / "runs", "--stages", "eda")
        _one_line_error(result, "is not writable", str(locked))
        assert tree_hashes(work) == before
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize("option", ["--artists", "--data"])
def test_missing_input_file(work, option, tree_hashes):
    before = tree_hashes(work)
    args = ["run", "--out", work / "runs", "--stages", "eda", option, work / "missing.parquet"]
    if option == "--artists":
        args += ["--data", work / "tracks.csv"]
    result = _cli(*args)
    _one_line_error(result, f"{option} {work / 'missing.parquet'}: no such file")
    assert tree_hashes(work) == before


@pytest.mark.parametrize(("option", "value"), [("--mapping", "no-such-preset"), ("--mapping", "gone.toml")])
def test_bad_mapping_fails_before_writing(work, tree_hashes, option, value):
    before = tree_hashes(work)
    result = _cli("run", "--data", work / "tracks.csv", "--out", work / "fresh", option, value,
                  "--stages", "eda")
    _one_line_error(result, value)
    assert tree_hashes(work) == before


def test_group_by_artist_without_artist_columns_is_refused(work, tree_hashes):
    """Used to group by track while the manifest said artist (issue 12 item 5)."""
    import pandas as pd

    raw = pd.read_csv(work / "tracks.csv")
    canonical = raw.rename(columns={"track_popularity": "popularity", "playlist_genre": "genres"})
    canonical = canonical.drop(columns=["track_artist", "track_name"])  # no artist, no title
    canonical.to_csv(work / "no_artists.csv", index=False)
    before = tree_hashes(work)
    result = _cli("run", "--data", work / "no_artists.csv", "--out", work / "runs", "--group-by", "artist",
                  "--stages", "popularity", "--quick", "--trials", "1")
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "Traceback" not in text and "error:" in text and "artist" in text.split("error:")[1]
    assert tree_hashes(work) == before


# ---------------------------------------------------------------- run folders: faults mid-run


def _raise(exc: BaseException):
    def stage(*args, **kwargs):
        raise exc

    return stage


@pytest.mark.parametrize("fault", [KeyboardInterrupt(), RuntimeError("a bug deep inside")])
def test_interrupted_run_keeps_the_earlier_run(work, monkeypatch, fault, tree_hashes):
    before = tree_hashes(work)
    monkeypatch.setattr("hitlab.analyses.eda.eda_figures", _raise(fault))
    result = _cli("run", "--data", work / "tracks.csv", "--out", work / "runs", "--name", "keep",
                  "--stages", "eda")
    assert result.exit_code != 0
    assert tree_hashes(work) == before  # no hidden temporary folder, no lock left either


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("fault", [KeyboardInterrupt(), RuntimeError("a bug in a worker thread")])
def test_an_analysis_failing_in_its_thread_stops_the_run_and_keeps_the_earlier_run(work, fault, tree_hashes):
    """What an analysis raises reaches the caller, and nothing is left; the thread feeding the
    worker process (still busy with its imports, so the task it sends blocks) ends quietly,
    without a traceback of its own."""
    from hitlab.analyses.base import Analysis
    from hitlab.analyses.registry import BUILTIN_ANALYSES
    from hitlab.config import RunConfig

    def broken(ctx):
        time.sleep(0.3)  # still computing while the EDA's result is written
        raise fault

    analyses = (*BUILTIN_ANALYSES, Analysis("broken", broken, title="Broken"))
    before = tree_hashes(work)
    config = RunConfig(data=str(work / "tracks.csv"), out=str(work / "runs"), name="keep", stages=["eda"])
    with pytest.raises(type(fault)):
        hitlab.pipeline.run(config, analyses=analyses)
    assert tree_hashes(work) == before


def test_failed_swap_puts_the_previous_run_back(work, monkeypatch, tree_hashes):
    before = tree_hashes(work)
    real_rename = os.rename

    def rename(src, dst):
        if ".partial-" in Path(src).name:
            raise OSError(28, "No space left on device")
        return real_rename(src, dst)

    monkeypatch.setattr(hitlab.run_folder.os, "rename", rename)
    result = _cli("run", "--data", work / "tracks.csv", "--out", work / "runs", "--name", "keep",
                  "--stages", "eda")
    assert result.exit_code != 0
    assert tree_hashes(work) == before


def test_leftovers_of_a_killed_run_are_tidied_by_the_next_run(work, monkeypatch, tree_hashes):
    """A run killed between "old run aside" and "new run in": the next run puts the old one back."""
    runs = work / "runs"
    before = tree_hashes(work)
    os.rename(runs / "keep", runs / ".keep.old-0123456789abcdef")
    (runs / ".keep.partial-fedcba9876543210").mkdir()
    (runs / ".keep.partial-fedcba9876543210" / "half.parquet").write_bytes(b"half")
    monkeypatch.setattr("hitlab.analyses.eda.eda_figures", _raise(RuntimeError("fails after tidying")))
    result = _cli("run", "--data", work / "tracks.csv", "--out", runs, "--name", "keep", "--stages", "eda")
    assert result.exit_code != 0
    assert tree_hashes(work) == before


# ---------------------------------------------------------------- run folders: one run per name


def test_a_held_lock_fails_fast_and_names_the_lock(work, tree_hashes):
    import fcntl

    lock = work / "runs" / ".keep.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, b"4242\n")
    try:
        before = tree_hashes(work)
        result = _cli("run", "--data", work / "tracks.csv", "--out", work / "runs", "--name", "keep",
                      "--stages", "eda")
        _one_line_error(result, "another hitlab run is writing", str(lock), "process 4242")
        assert tree_hashes(work) == before
    finally:
        os.close(fd)


def test_a_lock_of_a_killed_process_does_not_block(work):
    lock = work / "runs" / ".keep.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time\n"
         f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\n"
         "print('locked', flush=True)\n"
         "time.sleep(120)\n"],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"locked"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        holder.kill()
    assert lock.exists()  # the killed process left its lock file behind ...
    result = _cli("run", "--data", work / "tracks.csv", "--out", work / "runs", "--name", "keep",
                  "--stages", "eda")
    assert result.exit_code == 0, result.output  # ... but the OS released the lock
    assert not lock.exists()


def test_two_runs_at_once_with_the_same_name(work):
    """Issue 12, item 2: two runs used to share one temporary folder and mix their files."""
    runs = work / "runs"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"}

    def start(seed: int) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "hitlab", "run", "--data", str(work / "tracks.csv"), "--out", str(runs),
             "--name", "same", "--stages", "popularity", "--group-by", "track", "--quick", "--trials", "1",
             "--seed", str(seed)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )

    first = start(1)
    deadline = time.monotonic() + 120
    while not (runs / ".same.lock").exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    second = start(2)
    outputs = [(p.wait(timeout=600), *(s.decode() for s in p.communicate())) for p in (first, second)]
    codes = [code for code, _, _ in outputs]
    assert 0 in codes, outputs
    manifest = _manifest_matches_files(runs / "same")
    model = json.loads((runs / "same" / "models" / "popularity.json").read_text())
    assert model["seed"] == manifest["seed"] == manifest["config"]["seed"]  # nothing mixed
    if codes.count(0) == 1:  # they overlapped: the second failed at once, naming the lock
        winner = codes.index(0)
        code, _, stderr = outputs[1 - winner]
        assert code != 0 and "another hitlab run is writing" in " ".join(stderr.split()), outputs
        assert "Traceback" not in stderr
        assert manifest["seed"] == (1, 2)[winner]
    # exactly one run folder of that name, nothing half-written or locked beside it
    assert sorted(p.name for p in runs.iterdir()) == ["keep", "same"]


# ---------------------------------------------------------------- a task that cannot run


def test_single_genre_table_keeps_the_popularity_results(tmp_path):
    """Issue 12, item 8: a single-genre table used to abort the run after popularity finished."""
    from hitlab.datasets import load_tidytuesday

    raw = load_tidytuesday(raw=True)
    data = tmp_path / "rock.csv"
    raw[raw["playlist_genre"] == "rock"].head(600).to_csv(data, index=False)
    result = _cli("run", "--data", data, "--out", tmp_path / "runs", "--name", "rock", "--quick",
                  "--trials", "1", "--group-by", "track", "--stages", "popularity,genre,report")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "runs" / "rock"
    manifest = _manifest_matches_files(folder)
    assert "only one genre" in manifest["skipped"]["genre"]
    assert (folder / "models" / "popularity.skops").is_file()
    assert not (folder / "genre").exists() and not (folder / "models" / "genre.skops").exists()
    assert "Skipped genre" in result.output
    assert "genre" in (folder / "report.html").read_text().lower()


def test_a_bug_in_a_task_is_not_turned_into_a_skip(work, monkeypatch, tree_hashes):
    monkeypatch.setattr("hitlab.analyses.popularity.fit", _raise(TypeError("a real bug")))
    before = tree_hashes(work)
    result = _cli("run", "--data", work / "tracks.csv", "--out", work / "runs", "--name", "keep",
                  "--group-by", "track", "--stages", "popularity")
    assert isinstance(result.exception, TypeError)
    assert tree_hashes(work) == before


# ---------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def model_run(tmp_path_factory, tracks_600) -> Path:
    out = tmp_path_factory.mktemp("model-runs")
    result = _cli("run", "--data", tracks_600, "--out", out, "--name", "m", "--quick", "--trials", "1",
                  "--group-by", "track", "--stages", "popularity")
    assert result.exit_code == 0, result.output
    return out / "m"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (lambda d: d / "missing" / "p.csv", "does not exist"),
        (lambda d: d, "is a folder"),
        (lambda d: d / "locked" / "p.csv", "permission denied"),
    ],
)
def test_predict_output_that_cannot_be_written_fails_before_scoring(
    model_run, tracks_600, tmp_path, monkeypatch, target, message, tree_hashes
):
    (tmp_path / "locked").mkdir(mode=0o555)
    real_access = os.access

    def access(path, mode, *args, **kwargs):  # as root chmod does not stop writes: say what a user meets
        return False if Path(path).name == "locked" and mode & os.W_OK else real_access(path, mode)

    monkeypatch.setattr(os, "access", access)
    scored = []
    monkeypatch.setattr("hitlab.predict.Predictor.predict", lambda *a, **k: scored.append(1))
    before = tree_hashes(tmp_path)
    result = _cli("predict", tracks_600, "--run", model_run, "-o", target(tmp_path))
    _one_line_error(result, "--output", message)
    assert not scored
    assert tree_hashes(tmp_path) == before


def test_predict_errors_on_stdin_name_stdin(model_run, tracks_600):
    import pandas as pd

    # danceability: a column the saved popularity model uses (predict asks only for those)
    text = pd.read_csv(tracks_600).drop(columns="danceability").head(5).to_csv(index=False).encode()
    result = _cli("predict", "-", "--run", model_run, stdin=text)
    out = _one_line_error(result, "<stdin>", "danceability")
    assert "stdin.csv" not in out and "/tmp" not in out


def test_predict_top_k_zero_is_refused(model_run, tracks_600):
    result = _cli("predict", tracks_600, "--run", model_run, "--top-k", "0")
    _one_line_error(result, "--top-k", "at least 1, got 0")


def test_fetch_unknown_name_draws_no_progress_bar_and_leaves_no_folder(tmp_path):
    result = _cli("fetch", "no-such-data", "--home", tmp_path / "cache")
    text = _one_line_error(result, "unknown dataset 'no-such-data'", "tidytuesday-2020")
    assert "━" not in text and "no-such-data" not in text.split("error:")[0]
    assert not (tmp_path / "cache").exists()


def test_failed_fetch_leaves_no_empty_cache_folder(tmp_path, monkeypatch):
    fetch_module = sys.modules["hitlab.datasets.fetch"]

    dataset = fetch_module.RemoteDataset(
        name="broken", url="http://127.0.0.1:9/none.csv", sha256="0" * 64, filename="none.csv",
        description="", licence="",
    )
    monkeypatch.setitem(fetch_module.DATASETS, "broken", dataset)
    monkeypatch.setattr(fetch_module.time, "sleep", lambda s: None)
    result = _cli("fetch", "broken", "--home", tmp_path / "cache")
    assert result.exit_code == 1
    assert "error: could not download broken" in result.output and "nothing was saved" in result.output
    assert not (tmp_path / "cache").exists()


def test_help_shows_no_bool_type_shows_defaults_and_stage_names():
    result = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "<bool>" not in text
    assert "(default: 20)" in text and "(default: 42)" in text and "(default: song)" in text
    assert "from: eda, popularity, genre, eras, label_quality, report" in text
    for command in ("predict", "fetch", "collect", "validate", "report"):
        assert "<bool>" not in runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output
    assert "<bool>" not in runner.invoke(app, ["--help"], env={"COLUMNS": "200"}).output


def test_stage_list_matches_the_pipeline():
    """The names --stages accepts are the built-in analyses, in order, then the report."""
    from hitlab.analyses.registry import BUILTIN_ANALYSES

    assert (*(a.name for a in BUILTIN_ANALYSES), "report") == STAGE_NAMES
