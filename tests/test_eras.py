"""The eras analysis on real slices of the built-in data: folds never leak, the headline is the
2015 -> 2018-2020 staleness with its CI, thin data is skipped with a reason, the section renders."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from hitlab.analyses import eras
from hitlab.analyses.registry import by_name
from hitlab.outputs import render_section, write_analysis
from hitlab.songs import group_labels

#: Fewer trees keep the tests fast; the benchmark uses the zoo's defaults.
FAST = {"n_estimators": 40}


@pytest.fixture(scope="module")
def slice_(clean_tracks: pd.DataFrame) -> pd.DataFrame:
    return clean_tracks.sample(n=2000, random_state=1)


@pytest.fixture(scope="module")
def result(slice_: pd.DataFrame) -> eras.ErasResult:
    return eras.analyse(slice_, origins=[2013, 2015], headline_origin=2015, min_test=50, window=10,
                        min_window_tracks=300, max_rows=200, n_repeats=1, top=2, n_boot=100, params=FAST)


def _years(tracks: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    return tracks["year"].to_numpy(dtype=float, na_value=np.nan)[rows]


def test_no_test_track_in_its_folds_training_side(result: eras.ErasResult, slice_: pd.DataFrame) -> None:
    assert {(f.task, f.origin) for f in result.folds} == {(t, o) for t in ("popularity", "genre")
                                                          for o in (2013, 2015)}
    groups = group_labels(slice_, "track")
    for fold in result.folds:
        rows = slice_[slice_["genre"].notna()] if fold.task == "genre" else slice_
        g = groups[slice_.index.get_indexer(rows.index)]
        assert not set(fold.train) & set(fold.test)
        assert not set(g[fold.train]) & set(g[fold.test])
        assert np.nanmax(_years(rows, fold.train)) <= fold.origin < np.nanmin(_years(rows, fold.test))
        # the random-split models: same training size, their own test half never in their training draw
        assert sorted(np.concatenate([t for _, t in fold.random_parts])) == sorted(fold.test)
        for r_train, r_test in fold.random_parts:
            assert r_train.size == fold.train.size
            assert not set(g[r_train]) & set(g[r_test])


def test_groups_spanning_years_stay_on_one_side(slice_: pd.DataFrame) -> None:
    """Artist groups span years: later tracks of an artist seen in training leave the test side."""
    groups = group_labels(slice_, "artist")
    found = eras.analyse(slice_, groups=groups, tasks=("popularity",), origins=[2015], min_test=50,
                         min_window_tracks=10**9, n_boot=50, params=FAST)
    (fold,) = found.folds
    assert fold.left_out > 0
    assert not set(groups[fold.train]) & set(groups[fold.test])
    assert any("left out because their group was on the training side" in n for n in found.notes)


def test_headline_is_2015_on_2018_2020_with_ci(result: eras.ErasResult) -> None:
    pop = result.headline["popularity"]
    assert (pop["origin"], pop["test_years"], pop["gap"]) == (2015, "2018-2020", "3-5 years later")
    assert pop["forward_low"] <= pop["forward"] <= pop["forward_high"]
    assert pop["loss_low"] <= pop["loss"] <= pop["loss_high"]
    assert pop["loss"] == pytest.approx(pop["forward"] - pop["random"])
    gen = result.headline["genre"]
    assert 0 <= gen["forward"] <= 1 and gen["loss"] == pytest.approx(gen["random"] - gen["forward"])
    s = result.staleness
    assert set(s["gap"]) >= {"1-2 years later", "3-5 years later", "all later years"}


def test_drivers_drift_and_cohorts(result: eras.ErasResult) -> None:
    windows = result.windows["window"].tolist()
    assert len(windows) >= 2 and windows[-1].endswith("2020")
    d = result.drivers
    assert set(d["window"]) == set(windows)
    assert (d["permutation_low"] <= d["permutation_mae_increase"] + 1e-12).all()
    assert (d["shap_low"] <= d["mean_abs_shap"] + 1e-12).all()
    c = result.driver_changes
    assert len(c) == (len(windows) - 1) * d["feature"].nunique()
    real = (c["permutation_change_low"] > 0) | (c["permutation_change_high"] < 0)
    assert (c["permutation_real"] == real).all()
    assert set(result.partial_dependence["window"]) == set(windows)
    shifts = result.drift_shifts
    assert "duration_ms" in set(shifts["feature"]) and result.shifts_in_words
    assert any("duration" in line for line in result.shifts_in_words)


@pytest.mark.parametrize("years, reason", [
    ((2018, 2019, 2020), "too little to compare eras"),
    (None, "no release year"),
])
def test_skipped_with_a_reason(slice_: pd.DataFrame, years: tuple[int, ...] | None, reason: str) -> None:
    tracks = slice_.head(300).copy()
    if years is None:
        tracks = tracks.drop(columns="year")
    else:
        tracks["year"] = pd.array(np.resize(years, len(tracks)), dtype="Int64")
    found = eras.analyse(tracks)
    assert found.skipped is not None and reason in found.skipped
    assert found.tables() == {} and found.figures() == {}
    assert found.headline_metrics() == []


def test_section_renders_and_follows_the_report_contract(result: eras.ErasResult, tmp_path) -> None:
    write_analysis(tmp_path, by_name("eras"), result)
    sec = json.loads((tmp_path / "eras" / "section.json").read_text())
    assert set(sec) == {"title", "template", "reading", "metrics", "tables", "figures", "facts", "skipped"}
    assert any("2018-2020" in line and "MAE" in line for line in sec["reading"])
    assert any("survivors" in line for line in sec["reading"])
    assert all(m["ci"][0] <= m["value"] <= m["ci"][1] for m in sec["metrics"])
    assert set(sec["figures"]) == {"eras_staleness", "eras_drivers", "eras_partial_dependence", "eras_drift"}
    for relative in [*sec["tables"].values(), *sec["figures"].values()]:
        assert (tmp_path / relative).is_file(), relative
    html = render_section(tmp_path, "eras", sec)
    assert 'id="eras"' in html and "How fast a model goes stale" in html
    shown = [name for name, t in result.tables().items() if len(t) and name != "partial_dependence"]
    assert html.count("<img") == 4 and html.count("<table") == len(shown)  # the curves are drawn, not listed
    plt.close("all")


def test_template_autoescapes(tmp_path) -> None:
    (tmp_path / "eras").mkdir()
    pd.DataFrame({"a": ["<img src=x>"]}).to_csv(tmp_path / "eras" / "staleness.csv", index=False)
    sec = {"title": "Eras <b>", "template": "eras.html.j2", "reading": ["<script>alert(1)</script>"],
           "metrics": [], "tables": {"staleness": "eras/staleness.csv"}, "figures": {}, "facts": {},
           "skipped": None}
    html = render_section(tmp_path, "eras", sec)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;img src=x&gt;" in html
    assert "Eras &lt;b&gt;" in html and 'id="eras"' in html
