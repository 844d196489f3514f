"""A run folder's saved models are used only when they belong together (issue 12, "saved models").

Each case tampers with a copy of a small real run (800 rows of the built-in data, quick
models) and calls ``hitlab predict --run RUN file.csv -o out.csv`` as a user would: the
command must refuse with one line naming the file, exit non-zero and write nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import hitlab
from hitlab.cli import app
from hitlab.config import RunConfig
from hitlab.datasets import load_tidytuesday
from hitlab.errors import ModelFileError
from hitlab.pipeline import run

MODELS = ("models/popularity.skops", "models/popularity.json", "models/genre.skops", "models/genre.json")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Two runs on the same 800 tracks: ``main`` (popularity and genre, seed 1) and
    ``other`` (genre only, seed 2), plus ``tracks``: a CSV to predict."""
    base = tmp_path_factory.mktemp("integrity")
    data = base / "tracks.csv"
    load_tidytuesday(raw=True).sample(n=800, random_state=0).to_csv(data, index=False)
    common = dict(out=str(base / "runs"), quick=True, trials=1, group_by="track", data=str(data),
                  mapping="tidytuesday")
    main = run(RunConfig(name="main", seed=1, stages=["popularity", "genre"], **common)).folder
    other = run(RunConfig(name="other", seed=2, stages=["genre"], **common)).folder
    new = base / "new.csv"
    pd.read_csv(data).head(30).to_csv(new, index=False)
    return {"main": main, "other": other, "tracks": new}


def _copy(folder: Path, tmp_path: Path) -> Path:
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    return copy


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text("utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=2), "utf-8")


def _rehash(folder: Path) -> None:
    """What a careful forger does: update each side file's sha256 and the run manifest's hashes."""
    for task in ("popularity", "genre"):
        model = folder / "models" / f"{task}.skops"
        if model.exists():
            _edit_json(model.with_suffix(".json"), lambda m, model=model: m.update(sha256=_sha256(model)))

    def update(manifest: dict) -> None:
        for rel in MODELS:
            if (folder / rel).exists():
                manifest["outputs"][rel] = _sha256(folder / rel)

    _edit_json(folder / "manifest.json", update)


def _predict(folder: Path, tracks: Path, out: Path):
    return CliRunner().invoke(app, ["predict", str(tracks), "--run", str(folder), "-o", str(out)])


def _assert_refused(result, out: Path, *patterns: str) -> None:
    """Exit 1, one line on the terminal matching every pattern, no traceback, nothing written."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for pattern in patterns:
        assert re.search(pattern, lines[0]), (pattern, lines[0])
    assert not out.exists()


def test_an_untouched_run_predicts(runs, tmp_path):
    out = tmp_path / "out.csv"
    result = _predict(runs["main"], runs["tracks"], out)
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(out)
    assert len(predictions) == 30
    assert {"predicted_popularity", "genre_1", "genre_1_probability"} <= set(predictions.columns)


def _reverse_classes(m: dict) -> None:
    m["classes"] = m["classes"][::-1]


def _reorder_features(m: dict) -> None:
    m["features"]["numeric"] = m["features"]["numeric"][::-1]


def _drop_tempo(m: dict) -> None:
    m["features"]["numeric"].remove("tempo")


@pytest.mark.parametrize(
    "edit", [_reverse_classes, _reorder_features, _drop_tempo],
    ids=["classes reversed", "features reordered", "feature removed"],
)
def test_an_edited_side_file_is_refused(runs, tmp_path, edit):
    """Editing ``models/genre.json`` alone breaks its hash in the run manifest."""
    folder = _copy(runs["main"], tmp_path)
    _edit_json(folder / "models" / "genre.json", edit)
    out = tmp_path / "out.csv"
    _assert_refused(
        _predict(folder, runs["tracks"], out), out,
        r"models/genre\.json: sha256 \S+ does not match the manifest of this run",
    )


@pytest.mark.parametrize(
    ("edit", "key"),
    [(_reverse_classes, "classes"), (_reorder_features, "features"), (_drop_tempo, "features")],
    ids=["classes reversed", "features reordered", "feature removed"],
)
def test_an_edited_side_file_is_refused_even_with_every_hash_updated(runs, tmp_path, edit, key):
    """Class order and features are read from the hashed model file; a side file that
    disagrees is refused, naming the file and the key, even when all hashes were redone."""
    folder = _copy(runs["main"], tmp_path)
    _edit_json(folder / "models" / "genre.json", edit)
    _rehash(folder)
    out = tmp_path / "out.csv"
    _assert_refused(
        _predict(folder, runs["tracks"], out), out,
        rf"models/genre\.json: '{key}' does not match the model file genre\.skops",
    )


def _copy_pair(source: str, task: str) -> Callable[[Path, dict[str, Path]], None]:
    def change(folder: Path, runs: dict[str, Path]) -> None:
        for suffix in (".skops", ".json"):
            shutil.copy(runs[source] / "models" / f"{task}{suffix}", folder / "models" / f"{task}{suffix}")

    return change


def _delete(*names: str) -> Callable[[Path, dict[str, Path]], None]:
    def change(folder: Path, runs: dict[str, Path]) -> None:
        for name in names:
            (folder / name).unlink()

    return change


@pytest.mark.parametrize(
    ("target", "change", "patterns"),
    [
        ("main", _copy_pair("other", "genre"), [
            r"models/genre\.skops: sha256 \S+ does not match the manifest of this run",
            "copied from another run",
        ]),
        # ``other`` ran the genre stage only: a popularity pair copied in is not in its manifest
        ("other", _copy_pair("main", "popularity"), [
            r"models/popularity\.skops: not listed in this run's manifest\.json, so it does not belong",
        ]),
        # otherwise predict would quietly answer with popularity only
        ("main", _delete("models/genre.skops", "models/genre.json"), [
            r"models/genre\.skops: missing, but this run's manifest\.json lists it",
        ]),
        ("main", _delete("manifest.json"), [
            r"manifest\.json is missing, so hitlab cannot check that the models belong to this run",
        ]),
    ],
    ids=["another run's pair copied in", "a pair the run never wrote", "a listed pair deleted",
         "no run manifest"],
)
def test_a_folder_whose_model_files_do_not_belong_together_is_refused(
    runs, tmp_path, target, change, patterns
):
    folder = _copy(runs[target], tmp_path)
    change(folder, runs)
    out = tmp_path / "out.csv"
    _assert_refused(_predict(folder, runs["tracks"], out), out, *patterns)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda p: p.write_bytes(b"not a model\n" * 50), "not a readable skops file"),
        (_truncate, "not a readable skops file"),
        (lambda p: p.write_bytes(b""), "not a readable skops file"),
        (lambda p: sio.dump("hello", p), r"not a hitlab model file \(a str"),
        (lambda p: sio.dump(LogisticRegression(), p), r"not a hitlab model file \(a LogisticRegression"),
    ],
    ids=["garbage bytes", "truncated", "empty", "skops file of a string", "bare unfitted estimator"],
)
def test_a_model_file_that_cannot_be_used_gives_one_line(runs, tmp_path, damage, match):
    """Hashes all updated to match, so only reading the file itself can catch it."""
    folder = _copy(runs["main"], tmp_path)
    damage(folder / "models" / "genre.skops")
    _rehash(folder)
    out = tmp_path / "out.csv"
    _assert_refused(_predict(folder, runs["tracks"], out), out, r"models/genre\.skops: " + match)


def test_a_version_mismatch_is_refused_unless_allowed(runs, tmp_path):
    folder = _copy(runs["main"], tmp_path)
    _edit_json(folder / "models" / "genre.json", lambda m: m["versions"].update({"scikit-learn": "0.1"}))
    _rehash(folder)
    with pytest.raises(ModelFileError, match=r"genre\.skops: saved with scikit-learn 0\.1"):
        hitlab.load(folder)
    predictor = hitlab.load(folder, allow_version_mismatch=True)
    assert predictor.genre is not None and predictor.genre.manifest["versions"]["scikit-learn"] == "0.1"


def test_classes_and_features_come_from_the_model_file(runs):
    predictor = hitlab.load(runs["main"])
    assert predictor.genre is not None and predictor.genre.embedded is not None
    side = json.loads((runs["main"] / "models" / "genre.json").read_text("utf-8"))
    assert predictor.genre.classes == predictor.genre.embedded["classes"] == side["classes"]
    assert predictor.genre.features.to_dict() == predictor.genre.embedded["features"] == side["features"]
