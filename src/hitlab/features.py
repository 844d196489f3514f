"""Named feature sets per task, and the model-ready feature frame.

A :class:`FeatureSet` names the numeric columns (used as numbers) and the categorical
columns (one-hot encoded inside the model pipeline) of one task. The defaults were chosen
by song-grouped cross-validation on the training part of the built-in data
(``benchmarks/defaults.py --features``), not inherited from the seed analysis:

``popularity``
    Every audio feature + release year, with ``key`` / ``mode`` / ``time_signature`` and
    the track's (primary) ``genre`` label one-hot encoded. The seed left out ``energy``
    (collinear with ``loudness``: see the VIF table of the OLS summary) and ``tempo``;
    with both the CV MAE of the default LightGBM is 17.67 against 17.82 without them
    (2026-11-28), so they are in. Artist identity is never a feature. The genre label is
    the playlist genre (or the tag-derived main genre): in the seed's framing it is known
    when a track is scored, so it is allowed; ``--features -genre`` removes it.
``genre``
    Every audio feature + release year + popularity, with ``key`` / ``mode`` one-hot
    encoded. The seed left out ``loudness``; with it the CV log loss is 1.065 against
    1.073 without (2026-11-28), so it is in.

:func:`resolve_features` turns a ``--features`` value into a feature set: either a full
list of columns (``danceability,year,key``) or edits of the default (``+energy,-genre``).

>>> fs = resolve_features("popularity", ["-energy", "-genre"])
>>> "energy" in fs.numeric, "genre" in fs.categorical
(False, False)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hitlab.errors import ConfigError, DataError
from hitlab.schema import AUDIO_FEATURES

__all__ = [
    "CATEGORICAL_COLUMNS",
    "FEATURE_SETS",
    "NUMERIC_COLUMNS",
    "FeatureSet",
    "feature_frame",
    "resolve_features",
]

#: Columns that can be used as numbers.
NUMERIC_COLUMNS: tuple[str, ...] = (
    *(c for c in AUDIO_FEATURES if c not in ("key", "mode")),
    "year",
    "popularity",
)
#: Columns that are one-hot encoded (each distinct value, "missing" included, is a category).
CATEGORICAL_COLUMNS: tuple[str, ...] = ("key", "mode", "time_signature", "genre")
#: Columns that must never be features (identity of the track or artist).
FORBIDDEN: tuple[str, ...] = ("track_id", "track_name", "artist_name", "artist_id", "album_id")
MISSING = "missing"


@dataclass(frozen=True)
class FeatureSet:
    """The columns a model of one task sees.

    Parameters
    ----------
    name
        A label for reports (``"popularity"``, ``"genre"``, ``"custom"``).
    numeric
        Columns used as numbers (missing values are imputed with the training median).
    categorical
        Columns one-hot encoded (missing values become the category ``"missing"``).
    dropped
        Why some columns were left out (column -> reason), for reports.
    """

    name: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...] = ()
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    def without(self, columns: Iterable[str], reason: str) -> FeatureSet:
        """A copy without ``columns``, each recorded in ``dropped`` with ``reason``."""
        gone = set(columns)
        dropped = dict(self.dropped)
        dropped.update({c: reason for c in self.columns if c in gone})
        return FeatureSet(
            self.name,
            tuple(c for c in self.numeric if c not in gone),
            tuple(c for c in self.categorical if c not in gone),
            dropped,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "dropped": dict(self.dropped),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSet:
        return cls(
            str(data["name"]),
            tuple(data["numeric"]),
            tuple(data.get("categorical", ())),
            dict(data.get("dropped", {})),
        )


_POP_NUMERIC = tuple(c for c in NUMERIC_COLUMNS if c != "popularity")
_GENRE_NUMERIC = NUMERIC_COLUMNS

#: The default feature set of each task.
FEATURE_SETS: dict[str, FeatureSet] = {
    "popularity": FeatureSet(
        "popularity",
        _POP_NUMERIC,
        ("key", "mode", "time_signature", "genre"),
    ),
    "genre": FeatureSet(
        "genre",
        _GENRE_NUMERIC,
        ("key", "mode"),
    ),
}


def _known(column: str, task: str) -> str:
    if column in FORBIDDEN:
        raise ConfigError(f"feature {column!r} identifies the track or artist and cannot be a feature")
    if column == task or (task == "genre" and column == "genre"):
        raise ConfigError(f"feature {column!r} is the target of the {task} task")
    if column not in NUMERIC_COLUMNS and column not in CATEGORICAL_COLUMNS:
        allowed = ", ".join(NUMERIC_COLUMNS + CATEGORICAL_COLUMNS)
        raise ConfigError(f"unknown feature {column!r}; allowed: {allowed}")
    return column


def resolve_features(task: str, spec: Sequence[str] | str | None = None) -> FeatureSet:
    """The feature set of ``task``, changed by ``spec``.

    Parameters
    ----------
    task
        ``"popularity"`` or ``"genre"``.
    spec
        ``None``: the default. A list (or a comma-separated string) of column names: exactly
        those columns. Items starting with ``+`` or ``-`` edit the default instead (all
        items must then be edits).

    Raises
    ------
    ConfigError
        Unknown task or column, a target or identity column, mixed edits and names, or
        an empty result.
    """
    if task not in FEATURE_SETS:
        raise ConfigError(f"unknown task {task!r}; known: {', '.join(FEATURE_SETS)}")
    base = FEATURE_SETS[task]
    if spec is None:
        return base
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    items = [s for s in items if s]
    if not items:
        return base
    edits = [s[0] in "+-" for s in items]
    if any(edits) and not all(edits):
        raise ConfigError(
            f"--features mixes edits (+col/-col) and plain names: {', '.join(items)}; use one or the other"
        )
    if all(edits):
        numeric, categorical = list(base.numeric), list(base.categorical)
        dropped = dict(base.dropped)
        for item in items:
            column = _known(item[1:].strip(), task)
            target = categorical if column in CATEGORICAL_COLUMNS else numeric
            if item[0] == "+":
                if column not in target:
                    target.append(column)
                dropped.pop(column, None)
            else:
                if column in target:
                    target.remove(column)
                dropped[column] = "removed by --features"
        result = FeatureSet(f"{task} (edited)", tuple(numeric), tuple(categorical), dropped)
    else:
        columns = list(dict.fromkeys(_known(c, task) for c in items))
        result = FeatureSet(
            f"{task} (custom)",
            tuple(c for c in columns if c in NUMERIC_COLUMNS),
            tuple(c for c in columns if c in CATEGORICAL_COLUMNS),
            {},
        )
    if not result.columns:
        raise ConfigError(f"--features {','.join(items)} leaves no feature for the {task} task")
    return result


def feature_frame(tracks: pd.DataFrame, features: FeatureSet) -> pd.DataFrame:
    """The model-ready frame: numeric columns as float64 (NaN for missing), categorical as text.

    Categorical values become strings (``"1"``, ``"pop"``), missing ones ``"missing"``,
    so the one-hot encoder of the model pipeline sees the same values at fit and predict.

    Raises
    ------
    DataError
        When a feature column is absent from ``tracks``.
    """
    absent = [c for c in features.columns if c not in tracks.columns]
    if absent:
        raise DataError(
            f"the tracks lack feature column(s) {', '.join(absent)} "
            f"(needed by the {features.name} feature set)"
        )
    out: dict[str, Any] = {}
    for column in features.numeric:
        numbers = pd.to_numeric(tracks[column], errors="coerce").astype("float64")
        out[column] = numbers.to_numpy(na_value=np.nan)
    for column in features.categorical:
        values = tracks[column]
        if pd.api.types.is_numeric_dtype(values):
            # format each distinct value once (keys, modes: a handful), then take them by code
            codes, uniques = pd.factorize(values.astype("Float64"), use_na_sentinel=True)
            names = np.array([f"{float(v):g}" for v in uniques] + [MISSING], dtype=object)
            out[column] = names[codes]  # code -1 (missing) takes the last name
        else:
            text = values.astype("string").fillna(MISSING)
            out[column] = np.asarray(text.to_numpy(dtype=object, na_value=MISSING), dtype=object)
    return pd.DataFrame(out, index=tracks.index)
