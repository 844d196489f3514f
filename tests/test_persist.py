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
from hitlab.modeling.persist import manifest_path, sha256_file


@pytest.fixture(scope="module")
def fitted(tracks_slice: pd.DataFrame):
    task = Task("popularity", "regression", "popularity", resolve_features("popularity"), "mae")
    return fit_task(
        tracks_slice, task, models=["lightgbm"], budget=2, max_trials=1, n_boot=20, seed=0, n_jobs=1
    )


@pytest.fixture
def saved(fitted, tmp_path: Path) -> Path:
    return fitted.save(tmp_path / "models" / "popularity.skops")


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
    loaded = load_model(result.save(tmp_path / "genre.skops"))
    labels = loaded.predict(tracks_slice.head(50))
    assert set(labels) <= set(result.classes)
    np.testing.assert_array_equal(labels, result.labels(result.final.predict(result.X.head(50))))
    proba = loaded.predict_proba(tracks_slice.head(50))
    assert list(proba.columns) == result.classes


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


def test_a_version_mismatch_can_be_overridden(saved: Path) -> None:
    _edit_manifest(saved, lambda m: m["versions"].update({"lightgbm": "0.0"}))
    assert load_model(saved, allow_version_mismatch=True).manifest["versions"]["lightgbm"] == "0.0"
