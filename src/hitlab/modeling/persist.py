"""Save and load fitted models: skops files with a JSON manifest and a sha256.

Format: `skops <https://skops.readthedocs.io>`_ (``.skops``). Unlike pickle/joblib, loading a
skops file does not execute arbitrary code: it rebuilds only the types it is told to
trust. hitlab trusts the types skops trusts by default plus a fixed allowlist of the
libraries its zoo uses (:data:`TRUSTED_PREFIXES`); a file asking for anything else is
refused.

``save_model(estimator, "models/popularity.skops", manifest)`` writes the model file and
``models/popularity.json`` beside it: the caller's manifest (task, features, training
data hash, metrics, split, seed) plus the file's sha256, the format, and the hitlab and
library versions. :func:`load_model` refuses, with :class:`~hitlab.errors.ModelFileError`:

- a missing model or manifest file, or a manifest that is not valid JSON;
- a model file whose sha256 differs from the manifest's (modified or corrupted);
- a model saved by another scikit-learn, LightGBM or hitlab version (unless
  ``allow_version_mismatch=True``): fitted estimators are not portable across versions;
- a file that asks for types outside the allowlist, or that skops cannot read.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio

from hitlab.errors import ModelFileError
from hitlab.features import FeatureSet, feature_frame
from hitlab.modeling import scoring

__all__ = ["TRUSTED_PREFIXES", "SavedModel", "data_hash", "load_model", "manifest_path", "save_model"]

FORMAT = "skops"
#: Types (by qualified-name prefix) hitlab lets skops rebuild beyond skops' own defaults.
TRUSTED_PREFIXES: tuple[str, ...] = (
    "sklearn.",
    "imblearn.",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.",
    "xgboost.core.Booster",
    "xgboost.sklearn.",
    "numpy.dtype",
    "collections.OrderedDict",
)
#: Libraries whose version must match between saving and loading.
PINNED = ("scikit-learn", "lightgbm", "imbalanced-learn", "xgboost")


def _hitlab_version() -> str:
    from hitlab import __version__

    return __version__


def versions() -> dict[str, str]:
    """hitlab, Python and model-library versions."""
    out = {"hitlab": _hitlab_version(), "python": platform.python_version()}
    for name in (*PINNED, "numpy", "skops"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def data_hash(X: pd.DataFrame, y: np.ndarray | pd.Series | None = None) -> str:
    """sha256 of a feature frame (values, column names, row order) and its target."""
    digest = hashlib.sha256()
    digest.update(",".join(map(str, X.columns)).encode())
    digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    if y is not None:
        digest.update(pd.util.hash_array(np.asarray(y, dtype=object)).tobytes())
    return digest.hexdigest()


def manifest_path(model_path: str | Path) -> Path:
    """The manifest beside a model file: ``name.skops`` -> ``name.json``."""
    return Path(model_path).with_suffix(".json")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def save_model(estimator: Any, path: str | Path, manifest: dict[str, Any]) -> Path:
    """Write ``estimator`` as a skops file and its manifest beside it; returns the model path.

    ``manifest`` should hold at least ``features`` (a :meth:`FeatureSet.to_dict`) and ``task``;
    hitlab adds ``format``, ``file``, ``sha256`` and ``versions``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(estimator, path)
    full = {
        **_jsonable(manifest),
        "format": FORMAT,
        "file": path.name,
        "sha256": sha256_file(path),
        "versions": versions(),
    }
    manifest_path(path).write_text(json.dumps(full, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


@dataclass
class SavedModel:
    """A loaded model and its manifest; predicts from a canonical track table."""

    estimator: Any
    manifest: dict[str, Any]
    path: Path

    @property
    def features(self) -> FeatureSet:
        return FeatureSet.from_dict(self.manifest["features"])

    @property
    def classes(self) -> list[str] | None:
        return self.manifest.get("classes")

    def predict(self, tracks: pd.DataFrame) -> np.ndarray:
        """Predicted popularity, or predicted class labels for a classifier."""
        X = feature_frame(tracks, self.features)
        if self.classes is not None:
            if hasattr(self.estimator, "predict_proba"):
                codes = np.asarray(self.estimator.classes_, dtype=np.int64)
                pred = codes[np.argmax(scoring.predict_proba(self.estimator, X), axis=1)]
            else:
                pred = self.estimator.predict(X)
            return np.asarray(self.classes, dtype=object)[pred]
        return np.asarray(scoring.predict(self.estimator, X), dtype=float)

    def predict_proba(self, tracks: pd.DataFrame, *, share: float = 1.0) -> pd.DataFrame:
        """Class probabilities, one column per class label (classifiers only).

        ``share`` < 1: a rougher guess from the first part of a boosted model's rounds
        (see :func:`hitlab.modeling.scoring.predict_proba`).
        """
        if self.classes is None:
            raise ModelFileError(f"{self.path}: a regression model has no class probabilities")
        proba = scoring.predict_proba(self.estimator, feature_frame(tracks, self.features), share=share)
        codes = np.asarray(self.estimator.classes_, dtype=np.int64)
        names = [self.classes[c] for c in codes]
        return pd.DataFrame(proba, columns=names, index=tracks.index)


def load_model(path: str | Path, *, allow_version_mismatch: bool = False) -> SavedModel:
    """Load a model saved by :func:`save_model`, after checking it.

    Raises
    ------
    ModelFileError
        Missing file or manifest, sha256 mismatch, version mismatch, untrusted types, or
        a file skops cannot read; the message says which and what to do.
    """
    path = Path(path)
    mpath = manifest_path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    if not mpath.is_file():
        raise ModelFileError(f"{path}: its manifest {mpath.name} is missing; cannot check the file")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{mpath}: the manifest is not valid JSON ({exc})") from None
    missing = [k for k in ("format", "sha256", "features", "versions") if k not in manifest]
    if missing:
        raise ModelFileError(f"{mpath}: the manifest lacks {', '.join(missing)}")
    if manifest["format"] != FORMAT:
        raise ModelFileError(f"{path}: format {manifest['format']!r} is not supported (expected {FORMAT!r})")
    actual = sha256_file(path)
    if actual != manifest["sha256"]:
        raise ModelFileError(
            f"{path}: sha256 {actual[:12]}... does not match the manifest's "
            f"{str(manifest['sha256'])[:12]}...; "
            "the model file was modified or corrupted after saving (or belongs to another manifest); "
            "refusing to load it"
        )
    if not allow_version_mismatch:
        now = versions()
        saved = manifest["versions"]
        differ = [
            f"{name} {saved.get(name)} (now {now[name]})"
            for name in ("hitlab", *PINNED)
            if saved.get(name, "not installed") != now[name] and saved.get(name) != "not installed"
        ]
        if differ:
            raise ModelFileError(
                f"{path}: saved with {', '.join(differ)}; fitted models are not portable across versions. "
                "Refit it, or pass allow_version_mismatch=True at your own risk"
            )
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises several types for unreadable files
        raise ModelFileError(f"{path}: not a readable skops file ({exc})") from None
    refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise ModelFileError(
            f"{path}: the file asks to load types hitlab does not trust: {', '.join(refused)}"
        )
    try:
        estimator = sio.load(path, trusted=list(untrusted))
    except Exception as exc:
        raise ModelFileError(f"{path}: skops could not load the model ({exc})") from None
    return SavedModel(estimator, manifest, path)
