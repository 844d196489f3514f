"""Named feature sets and the --features option."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hitlab.errors import ConfigError, DataError
from hitlab.features import FEATURE_SETS, feature_frame, resolve_features


@pytest.mark.parametrize(
    ("task", "spec", "numeric_in", "numeric_out", "categorical"),
    [
        (
            "popularity",
            None,
            {"loudness", "year", "energy", "tempo"},
            {"popularity"},
            ("key", "mode", "time_signature", "genre"),
        ),
        ("popularity", "-energy,-genre", {"tempo"}, {"energy"}, ("key", "mode", "time_signature")),
        ("popularity", ["danceability", "key"], {"danceability"}, {"loudness"}, ("key",)),
        ("genre", None, {"popularity", "year", "energy", "loudness"}, set(), ("key", "mode")),
        ("genre", ["-loudness"], {"energy"}, {"loudness"}, ("key", "mode")),
    ],
)
def test_feature_sets(task: str, spec, numeric_in: set, numeric_out: set, categorical: tuple) -> None:
    fs = resolve_features(task, spec)
    assert numeric_in <= set(fs.numeric)
    assert not numeric_out & set(fs.numeric)
    assert fs.categorical == categorical


@pytest.mark.parametrize(
    ("task", "spec", "match"),
    [
        ("popularity", "+energy,tempo", "mixes edits"),
        ("popularity", "artist_name", "identifies the track or artist"),
        ("popularity", "popularity", "is the target of the popularity task"),
        ("genre", "+genre", "is the target of the genre task"),
        ("popularity", "+colour", "unknown feature 'colour'; allowed: danceability"),
        ("mood", None, "unknown task 'mood'"),
        ("popularity", "-" + ",-".join(FEATURE_SETS["popularity"].columns), "leaves no feature"),
    ],
)
def test_bad_feature_options_are_refused(task: str, spec, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        resolve_features(task, spec)


def test_feature_frame_is_float_and_text(tracks_slice: pd.DataFrame) -> None:
    fs = resolve_features("popularity")
    X = feature_frame(tracks_slice, fs)
    assert list(X.columns) == list(fs.columns)
    assert all(X[c].dtype == np.float64 for c in fs.numeric)
    assert set(X["time_signature"]) == {"missing"}  # the built-in data has none
    assert set(X["mode"]) == {"0", "1"}
    with pytest.raises(DataError, match="lack feature column\\(s\\) year"):
        feature_frame(tracks_slice.drop(columns="year"), fs)
