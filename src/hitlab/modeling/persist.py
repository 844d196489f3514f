"""Save and load fitted models: skops files with a JSON manifest and a sha256.

Format: `skops <https://skops.readthedocs.io>`_ (``.skops``). Unlike pickle/joblib, loading a
skops file does not execute arbitrary code: it rebuilds only the types it is told to
trust. hitlab trusts the types skops trusts by default plus a fixed allowlist of the
libraries its zoo uses (:data:`TRUSTED_PREFIXES`); a file asking for anything else is
refused.

``save_model(estimator, "models/popularity.skops", manifest)`` writes the model file and
``models/popularity.json`` beside it: the caller's manifest (task, features, training
data hash, metrics, split, seed) plus the file's sha256, the format, and the hitlab and
library versions.

The model file holds more than the estimator: a small dict with the estimator and what is
needed to use it (:data:`EMBEDDED_KEYS`: task, kind, target, the feature list and the class
order). These live inside the hashed file, so they cannot be edited without changing the
file's sha256; :func:`load_model` reads them from the model file and only checks that the
side file shows the same (it is there for humans). :func:`load_model` refuses, with
:class:`~hitlab.errors.ModelFileError`:

- a missing model or manifest file, or a manifest that is not valid JSON;
- a model file whose sha256 differs from the manifest's (modified or corrupted);
- a model saved by another scikit-learn, LightGBM or hitlab version (unless
  ``allow_version_mismatch=True``): fitted estimators are not portable across versions;
- a file that asks for types outside the allowlist, or that skops cannot read;
- a file that is not a hitlab model (no embedded classes and features, or an unfitted
  estimator), or a side file whose ``classes``, ``features``, ``task``, ``kind`` or
  ``target`` differ from the model file's.

Whether the model files of a run folder belong to that run is checked against the run's
``manifest.json`` by :func:`check_run_files`, which :meth:`hitlab.predict.Predictor.load`
calls before loading any model.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from hitlab.errors import ModelFileError
from hitlab.features import FeatureSet, feature_frame
from hitlab.modeling import scoring

__all__ = [
    "EMBEDDED_KEYS",
    "MODEL_LIBRARIES",
    "RUN_LIBRARIES",
    "TRUSTED_PREFIXES",
    "SavedModel",
    "check_run_files",
    "data_hash",
    "jsonable",
    "library_versions",
    "load_model",
    "manifest_path",
    "save_model",
    "sha256_file",
]

FORMAT = "skops"
#: Layout version of the dict inside a model file (``{"hitlab_model": LAYOUT, "estimator": ..., ...}``).
LAYOUT = 2
#: Manifest keys stored inside the hashed model file; the side file must show the same values.
EMBEDDED_KEYS: tuple[str, ...] = ("task", "kind", "target", "features", "classes")
#: Types (by qualified-name prefix) hitlab lets skops rebuild beyond skops' own defaults.
TRUSTED_PREFIXES: tuple[str, ...] = (
    "sklearn.",
    "imblearn.",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.",
    "xgboost.core.Booster",
    "catboost.core.CatBoostRegressor",
    "catboost.core.CatBoostClassifier",
    "xgboost.sklearn.",
    "numpy.dtype",
    "collections.OrderedDict",
    "hitlab.modeling.stack.GroupedStackRegressor",
)
#: Libraries whose version must match between saving and loading.
PINNED = ("scikit-learn", "lightgbm", "imbalanced-learn", "xgboost", "catboost")


#: Versions a model file's side file records (``"versions"``), in this order.
MODEL_LIBRARIES = ("hitlab", "python", *PINNED, "numpy", "skops")
#: Versions a run's ``manifest.json`` records (``"versions"``), in this order.
RUN_LIBRARIES = (
    "python",
    "hitlab",
    "pandas",
    "numpy",
    "pyarrow",
    "scikit-learn",
    "lightgbm",
    "imbalanced-learn",
    "statsmodels",
    "matplotlib",
    "skops",
)


def library_versions(names: Iterable[str] = RUN_LIBRARIES) -> dict[str, str]:
    """Version of each of ``names`` (distribution names), in that order, for manifests.

    ``"hitlab"`` is this hitlab's version and ``"python"`` the interpreter's; a package that
    is not installed shows ``"not installed"``. The default is what a run's manifest records;
    a model's side file records :data:`MODEL_LIBRARIES`.
    """
    from hitlab import __version__

    out: dict[str, str] = {}
    for name in names:
        if name == "hitlab":
            out[name] = __version__
        elif name == "python":
            out[name] = platform.python_version()
        else:
            try:
                out[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                out[name] = "not installed"
    return out


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


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


def jsonable(value: Any) -> Any:
    """``value`` made of JSON types only, for manifests and summaries.

    Dicts (keys as ``str``), lists and tuples (as lists) are cleaned item by item; NumPy scalars
    become Python scalars; non-finite floats (NaN, inf) become ``None``; ``str``, ``int``,
    ``float``, ``bool`` and ``None`` pass; anything else becomes its ``str``. Also usable as
    ``json.dumps(..., default=jsonable)``.

    >>> import numpy as np
    >>> jsonable({"a": (np.int64(1), np.float32(0.5)), 2: float("nan"), "b": np.float64("inf")})
    {'a': [1, 0.5], '2': None, 'b': None}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def save_model(estimator: Any, path: str | Path, manifest: dict[str, Any]) -> Path:
    """Write ``estimator`` as a skops file and its manifest beside it; returns the model path.

    ``manifest`` should hold at least ``features`` (a :meth:`FeatureSet.to_dict`) and ``task``,
    and ``classes`` for a classifier (the label of each integer class code, in order). Those
    and the other :data:`EMBEDDED_KEYS` are stored inside the model file with the estimator;
    hitlab adds ``format``, ``file``, ``sha256`` and ``versions`` to the side file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plain = jsonable(manifest)
    if "features" not in plain:
        raise ValueError("save_model: the manifest needs 'features' (a FeatureSet.to_dict())")
    embedded = {key: plain.get(key) for key in EMBEDDED_KEYS}
    import skops.io as sio  # imported when needed: it loads all of scikit-learn (~1.5 s)

    sio.dump({"hitlab_model": LAYOUT, "estimator": estimator, **embedded}, path)
    full = {
        **plain,
        "format": FORMAT,
        "file": path.name,
        "sha256": sha256_file(path),
        "versions": library_versions(MODEL_LIBRARIES),
    }
    manifest_path(path).write_text(json.dumps(full, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


#: The manifest of a folder of outputs (a run folder): ``{"outputs": {relative path: sha256}, ...}``.
RUN_MANIFEST = "manifest.json"


def check_run_files(folder: str | Path, files: Iterable[str | Path]) -> None:
    """Check that ``files`` (paths relative to ``folder``) are the ones its manifest records.

    ``folder/manifest.json`` must exist and hold ``"outputs"``: relative path -> sha256. Each
    of ``files`` that exists must be listed there with the same sha256, and each that is
    listed must exist. This is what ties a model file and its side file to the run that wrote
    them: a pair copied in from another run, or a side file edited afterwards, is refused.

    Raises
    ------
    ModelFileError
        No or unreadable manifest, or a file missing from it, different from it, or listed
        in it but absent; the message names the file.
    """
    folder = Path(folder)
    mpath = folder / RUN_MANIFEST
    if not mpath.is_file():
        raise ModelFileError(
            f"{folder}: {RUN_MANIFEST} is missing, so hitlab cannot check that the models belong to "
            "this run; copy the whole run folder (or run `hitlab run` again)"
        )
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{mpath}: the run manifest is not valid JSON ({exc})") from None
    except OSError as exc:
        raise ModelFileError(f"{mpath}: cannot read the run manifest ({exc.strerror})") from None
    outputs = manifest.get("outputs") if isinstance(manifest, dict) else None
    if not isinstance(outputs, dict):
        raise ModelFileError(f"{mpath}: the run manifest has no 'outputs' (path -> sha256) to check files by")
    for relative in files:
        rel = Path(relative).as_posix()
        path = folder / rel
        if not path.exists():
            if rel in outputs:
                raise ModelFileError(f"{path}: missing, but this run's {RUN_MANIFEST} lists it")
            continue
        if rel not in outputs:
            raise ModelFileError(
                f"{path}: not listed in this run's {RUN_MANIFEST}, so it does not belong to this run "
                "(copied in from another run?); refusing to load the models"
            )
        actual = sha256_file(path)
        if actual != outputs[rel]:
            raise ModelFileError(
                f"{path}: sha256 {actual[:12]}... does not match the manifest of this run ({RUN_MANIFEST} "
                f"records {str(outputs[rel])[:12]}...); the file was modified or copied from another run; "
                "refusing to load the models"
            )


@dataclass
class SavedModel:
    """A loaded model and its manifest; predicts from a canonical track table.

    ``embedded`` holds what the model file itself says (:data:`EMBEDDED_KEYS`); features and
    classes are read from it. A model built in memory (no file) may leave it ``None``, and
    then they are read from ``manifest``.
    """

    estimator: Any
    manifest: dict[str, Any]
    path: Path
    embedded: dict[str, Any] | None = None

    @property
    def features(self) -> FeatureSet:
        return FeatureSet.from_dict((self.embedded or self.manifest)["features"])

    @property
    def classes(self) -> list[str] | None:
        return (self.embedded or self.manifest).get("classes")

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
        now = library_versions(MODEL_LIBRARIES)
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
    import skops.io as sio

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
        content = sio.load(path, trusted=list(untrusted))
    except Exception as exc:
        raise ModelFileError(f"{path}: skops could not load the model ({exc})") from None
    embedded = _embedded(path, content)
    for key in EMBEDDED_KEYS:
        if manifest.get(key, _ABSENT) != embedded[key]:
            shown = "is missing" if key not in manifest else f"says {_short(manifest[key])}"
            raise ModelFileError(
                f"{mpath}: '{key}' does not match the model file {path.name} (the side file {shown}, "
                f"the model file says {_short(embedded[key])}); the side file was edited or belongs to "
                "another model; refusing to load it"
            )
    return SavedModel(content["estimator"], manifest, path, embedded)


_ABSENT = object()


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _embedded(path: Path, content: Any) -> dict[str, Any]:
    """The checked contents of a loaded model file: :data:`EMBEDDED_KEYS` (and the estimator)."""
    if not (isinstance(content, dict) and content.get("hitlab_model") == LAYOUT):
        what = f"a {type(content).__name__}"
        if isinstance(content, dict) and "hitlab_model" in content:
            what = f"layout {content['hitlab_model']!r}, expected {LAYOUT}"
        raise ModelFileError(
            f"{path}: not a hitlab model file ({what}, not a model saved with its classes and features "
            "by this hitlab); refit it with `hitlab run`"
        )
    missing = [key for key in ("estimator", *EMBEDDED_KEYS) if key not in content]
    if missing:
        raise ModelFileError(f"{path}: the model file lacks {', '.join(missing)}; refit it with `hitlab run`")
    estimator, classes = content["estimator"], content["classes"]
    try:
        check_is_fitted(estimator)
        FeatureSet.from_dict(content["features"])
    except NotFittedError:
        raise ModelFileError(f"{path}: the model file holds an estimator that was never fitted") from None
    except (TypeError, KeyError, ValueError) as exc:
        raise ModelFileError(f"{path}: the model file's feature list is not readable ({exc})") from None
    if classes is not None:
        codes = np.asarray(getattr(estimator, "classes_", []))
        if not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
            raise ModelFileError(f"{path}: the model file's classes are not a list of labels")
        if codes.size and (codes.dtype.kind not in "iu" or codes.min() < 0 or codes.max() >= len(classes)):
            raise ModelFileError(
                f"{path}: the estimator predicts class codes {codes.tolist()} but the file names "
                f"{len(classes)} classes"
            )
    return {key: content[key] for key in EMBEDDED_KEYS}
