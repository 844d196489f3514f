"""Saved models reload and predict identically; modified or mismatched files are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from hitlab.errors import ModelFileError
from hitlab.features import resolve_features
from hitlab.modeling import Task, fit_task, load_model
from hitlab.modeling.persist import (
    MODEL_LIBRARIES,
    check_run_files,
    jsonable,
    library_versions,
    manifest_path,
    sha256_file,
)
from hitlab.outputs import save_task_model


@pytest.fixture(scope="module")
def fitted(tracks_slice: pd.DataFrame):
    task = Task("popularity", "regression", "popularity", resolve_features("popularity"), "mae")
    return fit_task(
        tracks_slice, task, models=["lightgbm"], budget=2, max_trials=1, n_boot=20, seed=0, n_jobs=1
    )


@pytest.fixture
def saved(fitted, tmp_path: Path) -> Path:
    return save_task_model(fitted, tmp_path / "models" / "popularity.skops")


def test_a_saved_model_reloads_and_predicts_identically(
    fitted, saved: Path, tracks_slice: pd.DataFrame
) -> None:
    loaded = load_model(saved)
    expected = fitted.final.predict(fitted.X)
    # block-wise tree scoring (hitlab.modeling.scoring) only changes the summation order
    np.testing.assert_allclose(loaded.predict(fitted.rows), expected, rtol=1e-10, atol=1e-9)
    assert loaded.manifest["features"] == fitted.features.to_dict()
    assert loaded.manifest["sha256"] == sha256_file(saved)
    assert loaded.manifest["split"]["group_by"] == "row"  # fit_task without groups: one row, one group
    assert loaded.manifest["metrics"]["mae"]["model"]["value"] == fitted.best.metrics["mae"].value


def test_a_saved_classifier_predicts_labels(tracks_slice: pd.DataFrame, tmp_path: Path) -> None:
    task = Task("genre", "classification", "genre", resolve_features("genre"), "accuracy")
    result = fit_task(tracks_slice, task, models=["logistic"], budget=2, max_trials=1, n_boot=20, n_jobs=1)
    loaded = load_model(save_task_model(result, tmp_path / "genre.skops"))
    labels = loaded.predict(tracks_slice.head(50))
    assert set(labels) <= set(result.classes)
    np.testing.assert_array_equal(labels, result.labels(result.final.predict(result.X.head(50))))
    proba = loaded.predict_proba(tracks_slice.head(50))
    assert list(proba.columns) == result.classes


@pytest.mark.parametrize("kind", ["regression", "classification"])
def test_a_saved_blend_reloads_and_predicts_identically(tracks_slice: pd.DataFrame, tmp_path: Path,
                                                         kind: str) -> None:
    """The LightGBM + CatBoost average (a CatBoost model inside skops) saves, is trusted and reloads."""
    pytest.importorskip("catboost")
    name, target, metric = ("popularity", "popularity", "mae") if kind == "regression" else \
        ("genre", "genre", "accuracy")
    task = Task(name, kind, target, resolve_features(name), metric)
    result = fit_task(tracks_slice, task, models=["blend"], max_trials=1, n_boot=20, seed=0, n_jobs=1,
                      params={"blend": {"lightgbm__n_estimators": 20, "catboost__iterations": 20}})
    loaded = load_model(save_task_model(result, tmp_path / f"{name}.skops"))
    rows = result.rows.head(200)
    if kind == "regression":
        np.testing.assert_allclose(loaded.predict(rows), result.final.predict(result.X.head(200)), rtol=1e-10)
    else:
        np.testing.assert_allclose(loaded.predict_proba(rows).to_numpy(),
                                   result.final.predict_proba(result.X.head(200)), rtol=1e-10)
    assert "catboost" in loaded.manifest["versions"]
    assert not (Path.cwd() / "catboost_info").exists()  # CatBoost wrote nothing beside the run


def _flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit_manifest(path: Path, change) -> None:
    mpath = manifest_path(path)
    manifest = json.loads(mpath.read_text())
    change(manifest)
    mpath.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("tamper", "match"),
    [
        (_flip_one_byte, "does not match the manifest's .*modified or corrupted"),
        (lambda p: p.write_bytes(p.read_bytes() + b"\0"), "does not match the manifest's"),
        (lambda p: manifest_path(p).unlink(), "its manifest popularity.json is missing"),
        (lambda p: p.unlink(), "model file not found"),
        (lambda p: manifest_path(p).write_text("{not json"), "the manifest is not valid JSON"),
        (
            lambda p: _edit_manifest(p, lambda m: m["versions"].update({"scikit-learn": "0.1"})),
            "saved with scikit-learn 0.1 \\(now .*\\); fitted models are not portable",
        ),
        (lambda p: _edit_manifest(p, lambda m: m.pop("sha256")), "the manifest lacks sha256"),
        (
            lambda p: _edit_manifest(p, lambda m: m.update(format="pickle")),
            "format 'pickle' is not supported",
        ),
        (
            lambda p: _edit_manifest(p, lambda m: m["features"]["numeric"].reverse()),
            r"popularity.json: 'features' does not match the model file popularity.skops "
            r"\(the side file says .*; the side file was edited",
        ),
        (
            lambda p: _edit_manifest(p, lambda m: m["features"].update(categorical=[])),
            "popularity.json: 'features' does not match the model file popularity.skops",
        ),
        (
            lambda p: _edit_manifest(p, lambda m: m.update(task="genre")),
            "popularity.json: 'task' does not match the model file popularity.skops",
        ),
        (
            lambda p: _edit_manifest(p, lambda m: m.pop("target")),
            r"'target' does not match the model file popularity.skops \(the side file is missing",
        ),
    ],
)
def test_a_modified_or_mismatched_model_file_is_refused(saved: Path, tamper, match: str) -> None:
    tamper(saved)
    with pytest.raises(ModelFileError, match=match):
        load_model(saved)


class Payload:
    """A type no allowlist trusts."""


def test_a_file_asking_for_untrusted_types_is_refused_even_with_a_matching_hash(saved: Path) -> None:
    sio.dump({"model": Payload()}, saved)
    _edit_manifest(saved, lambda m: m.update(sha256=sha256_file(saved)))
    with pytest.raises(ModelFileError, match=r"types hitlab does not trust: .*Payload"):
        load_model(saved)


def test_reversed_classes_in_the_side_file_are_refused(tracks_slice: pd.DataFrame, tmp_path: Path) -> None:
    task = Task("genre", "classification", "genre", resolve_features("genre"), "accuracy")
    result = fit_task(tracks_slice, task, models=["logistic"], budget=2, max_trials=1, n_boot=20, n_jobs=1)
    saved = save_task_model(result, tmp_path / "genre.skops")
    assert load_model(saved).classes == result.classes
    _edit_manifest(saved, lambda m: m["classes"].reverse())
    with pytest.raises(ModelFileError, match=r"genre.json: 'classes' does not match the model file genre"):
        load_model(saved)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (lambda fitted: fitted.final, r"not a hitlab model file \(a Pipeline"),
        (lambda fitted: {"hitlab_model": 1, "estimator": fitted.final}, r"layout 1, expected 2"),
        (lambda fitted: [1, 2], r"not a hitlab model file \(a list"),
    ],
    ids=["bare estimator (older hitlab)", "older layout", "a list"],
)
def test_a_skops_file_that_is_not_a_hitlab_model_is_refused(fitted, saved: Path, content, match) -> None:
    sio.dump(content(fitted), saved)
    _edit_manifest(saved, lambda m: m.update(sha256=sha256_file(saved)))
    with pytest.raises(ModelFileError, match=match):
        load_model(saved)


def _write_run(folder: Path, files: dict[str, bytes], outputs: dict[str, str] | None = None) -> None:
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    if outputs is None:
        outputs = {rel: sha256_file(folder / rel) for rel in files}
    (folder / "manifest.json").write_text(json.dumps({"outputs": outputs}))


def test_check_run_files_accepts_the_files_the_manifest_records(tmp_path: Path) -> None:
    _write_run(tmp_path, {"models/a.skops": b"a", "models/a.json": b"{}"})
    check_run_files(tmp_path, ["models/a.skops", "models/a.json", "models/b.skops"])


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda f: (f / "models/a.json").write_bytes(b"{ }"),
         r"models/a.json: sha256 \S+ does not match the manifest of this run"),
        (lambda f: (f / "models/b.skops").write_bytes(b"b"),
         r"models/b.skops: not listed in this run's manifest.json"),
        (lambda f: (f / "models/a.skops").unlink(),
         r"models/a.skops: missing, but this run's manifest.json lists"),
        (lambda f: (f / "manifest.json").unlink(), r"manifest.json is missing, so hitlab cannot check"),
        (lambda f: (f / "manifest.json").write_text("[1"),
         r"manifest.json: the run manifest is not valid JSON"),
        (lambda f: (f / "manifest.json").write_text("{}"),
         r"manifest.json: the run manifest has no 'outputs'"),
    ],
    ids=["edited", "not listed", "listed but missing", "no manifest", "manifest not JSON", "no outputs"],
)
def test_check_run_files_refuses_files_that_do_not_belong(tmp_path: Path, change, match: str) -> None:
    _write_run(tmp_path, {"models/a.skops": b"a", "models/a.json": b"{}"})
    change(tmp_path)
    with pytest.raises(ModelFileError, match=match):
        check_run_files(tmp_path, ["models/a.skops", "models/a.json", "models/b.skops"])


def test_sha256_file_is_the_sha256_of_the_bytes(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "x.bin"
    path.write_bytes(b"hitlab" * 1000)
    assert sha256_file(path) == hashlib.sha256(b"hitlab" * 1000).hexdigest()


def test_a_version_mismatch_can_be_overridden(saved: Path) -> None:
    _edit_manifest(saved, lambda m: m["versions"].update({"lightgbm": "0.0"}))
    assert load_model(saved, allow_version_mismatch=True).manifest["versions"]["lightgbm"] == "0.0"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.int64(3), 3),
        (np.float32(0.5), 0.5),
        (np.bool_(True), True),
        (float("nan"), None),
        (np.float64("nan"), None),
        (np.float32("-inf"), None),
        (float("inf"), None),
        ((1, (2, np.int8(3))), [1, [2, 3]]),
        ({1: {"a": np.nan}}, {"1": {"a": None}}),
        (Path("a/b"), "a/b"),
        (np.array([1, 2]), "[1 2]"),
        ("text", "text"),
        (None, None),
    ],
)
def test_jsonable_gives_json_types_only(value, expected) -> None:
    out = jsonable(value)
    assert out == expected
    assert type(out) is type(expected)
    json.dumps(out, allow_nan=False)


def test_jsonable_as_a_json_default_hook_cleans_what_json_cannot_write() -> None:
    text = json.dumps({"n": np.int64(2), "x": np.float32(0.25), "p": Path("m.skops")}, default=jsonable)
    assert json.loads(text) == {"n": 2, "x": 0.25, "p": "m.skops"}


def test_library_versions_keep_the_manifest_keys_in_order() -> None:
    run = library_versions()
    assert list(run) == ["python", "hitlab", "pandas", "numpy", "pyarrow", "scikit-learn", "lightgbm",
                         "imbalanced-learn", "statsmodels", "matplotlib", "skops"]
    model = library_versions(MODEL_LIBRARIES)
    assert list(model) == ["hitlab", "python", "scikit-learn", "lightgbm", "imbalanced-learn", "xgboost",
                           "catboost", "numpy", "skops"]
    import hitlab

    assert model["hitlab"] == hitlab.__version__ and model["numpy"] == np.__version__
    assert library_versions(["no-such-package-hitlab"]) == {"no-such-package-hitlab": "not installed"}


def test_the_model_side_file_records_the_model_library_versions(saved: Path) -> None:
    side = json.loads(manifest_path(saved).read_text("utf-8"))
    assert side["versions"] == library_versions(MODEL_LIBRARIES)
