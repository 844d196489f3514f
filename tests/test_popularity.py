"""Popularity analyses on real data: OLS with an intercept, leaderboard, errors, drivers, the stage."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from hitlab import popularity
from hitlab.analyses._popularity_tables import _design as _ols_design
from hitlab.config import RunConfig
from hitlab.errors import ConfigError
from hitlab.features import resolve_features
from hitlab.modeling import load_model
from hitlab.outputs import reading


@pytest.fixture(scope="module")
def result(tracks_slice: pd.DataFrame) -> popularity.PopularityResult:
    return popularity.fit(
        tracks_slice, models=["linear", "lightgbm"], budget=2, seed=0, n_boot=100, quick=True
    )


def _design(tracks: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    features = resolve_features("popularity").without(["time_signature"], "empty")
    design = _ols_design(tracks, features)
    return design.to_numpy(float), tracks["popularity"].to_numpy(float)


def test_ols_has_an_intercept_and_a_centered_r2(tracks_slice: pd.DataFrame) -> None:
    features = resolve_features("popularity").without(["time_signature"], "empty")
    table, stats = popularity.ols_summary(tracks_slice, features)
    assert table["term"].iloc[0] == "const"
    X, y = _design(tracks_slice)
    with_const = np.column_stack([np.ones(len(X)), X])
    coef, *_ = np.linalg.lstsq(with_const, y, rcond=None)
    residual = y - with_const @ coef
    centered = 1 - (residual**2).sum() / ((y - y.mean()) ** 2).sum()
    assert stats["r2"] == pytest.approx(centered, rel=1e-6)
    np.testing.assert_allclose(table["coef"].to_numpy(), coef, rtol=1e-6, atol=1e-9)
    # the seed's fit without an intercept: statsmodels reports the uncentered R2
    coef0, *_ = np.linalg.lstsq(X, y, rcond=None)
    uncentered = 1 - ((y - X @ coef0) ** 2).sum() / (y**2).sum()
    assert stats["r2_uncentered_without_intercept"] == pytest.approx(uncentered, rel=1e-6)
    assert stats["r2_uncentered_without_intercept"] > stats["r2"]
    expected = {"term", "coef", "std_err", "t", "p", "ci_low", "ci_high", "vif"}
    assert set(table.columns) == expected
    assert (table["ci_low"] < table["coef"]).all() and (table["coef"] < table["ci_high"]).all()


def test_vif_is_one_over_one_minus_r2_of_the_other_columns(tracks_slice: pd.DataFrame) -> None:
    columns = ["energy", "loudness", "acousticness", "danceability"]
    table = popularity.vif_table(tracks_slice, columns).set_index("feature")
    data = tracks_slice[columns].astype(float).to_numpy()
    for j, column in enumerate(columns):
        others = np.column_stack([np.ones(len(data)), np.delete(data, j, axis=1)])
        coef, *_ = np.linalg.lstsq(others, data[:, j], rcond=None)
        r2 = 1 - ((data[:, j] - others @ coef) ** 2).sum() / ((data[:, j] - data[:, j].mean()) ** 2).sum()
        assert table.loc[column, "vif"] == pytest.approx(1 / (1 - r2), rel=1e-6)
    assert table.loc["energy", "most_correlated_with"] == "loudness"


def test_leaderboard_has_every_candidate_with_cis_and_speed(result) -> None:
    board = result.leaderboard
    assert set(board["model"]) == {"median", "linear", "lightgbm"}
    for metric in ("mae", "rmse", "r2"):
        assert (board[f"{metric}_low"] <= board[metric]).all() and (
            board[metric] <= board[f"{metric}_high"]
        ).all()
    timings = result.fit.timings()
    assert (timings["fit_s"] > 0).all() and (timings["predict_rows_per_s"] > 0).all()
    assert not {"fit_s", "predict_rows_per_s", "tune_s"} & set(board.columns)  # the same on any machine
    assert board["chosen"].sum() == 1


def test_errors_by_genre_cover_every_genre_and_agree_with_the_leaderboard(result) -> None:
    table = result.errors_by_genre.set_index("genre")
    genres = set(result.fit.test_rows["genre"])
    assert set(table.index) == genres | {"all"}
    assert table["tracks"].drop("all").sum() == table.loc["all", "tracks"] == result.fit.split.test.size
    assert table.loc["all", "mae"] == pytest.approx(result.fit.best.metrics["mae"].value)
    assert table.loc["all", "baseline_mae"] == pytest.approx(result.fit.baseline.metrics["mae"].value)


def test_drivers_rank_every_feature_and_shap_adds_up(result) -> None:
    drivers = result.drivers
    assert set(drivers.table["feature"]) == set(result.fit.features.columns)
    assert drivers.table["permutation_mae_increase"].is_monotonic_decreasing
    # SHAP values plus the expected value give LightGBM's prediction
    pipeline = result.fit.candidate("lightgbm").pipeline
    prediction = pipeline.predict(drivers.sample)
    transformed = pipeline.named_steps["prep"].transform(drivers.sample)
    expected_value = pipeline.named_steps["model"].predict(transformed, pred_contrib=True)[:, -1]
    np.testing.assert_allclose(drivers.shap.sum(axis=1).to_numpy() + expected_value, prediction, rtol=1e-6)
    pdp_features = list(dict.fromkeys(drivers.partial_dependence["feature"]))
    assert pdp_features and set(pdp_features) <= set(result.fit.features.numeric)


def test_figures_and_summary(result) -> None:
    figures = result.figures()
    assert {"popularity_predicted_vs_actual", "popularity_error_by_genre", "popularity_shap"} <= set(figures)
    assert all(isinstance(f, Figure) for f in figures.values())
    summary = result.summary()
    json.dumps(summary)  # plain data only
    mae = summary["metrics"]["mae"]
    assert mae["model"]["low"] <= mae["model"]["value"] <= mae["model"]["high"]
    assert mae["baseline"]["value"] == result.fit.baseline.metrics["mae"].value


def test_the_popularity_stage_writes_its_folder_and_a_loadable_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from hitlab import pipeline
    from hitlab.datasets import load_tidytuesday

    sample = load_tidytuesday().sample(n=2000, random_state=1)
    monkeypatch.setattr(pipeline, "load_tidytuesday", lambda: sample)
    config = RunConfig(out=str(tmp_path), name="run", quick=True, stages=["popularity"], seed=3)
    run = pipeline.run(config)
    folder = run.folder
    for name in ("leaderboard", "ols", "errors_by_genre", "drivers", "vif", "test_predictions"):
        assert (folder / "popularity" / f"{name}.csv").is_file(), name
    section = json.loads((folder / "popularity" / "section.json").read_text())
    for relative in [*section["tables"].values(), *section["figures"].values()]:
        assert (folder / relative).is_file(), relative
    assert section["template"] == "popularity.html.j2" and section["reading"]
    summary = run.results["popularity"]
    assert summary["split"]["group_by"] == config.group_by and summary["split"]["seed"] == 3
    loaded = load_model(folder / summary["files"]["model"])
    tracks = pd.read_parquet(folder / "tracks.parquet")
    np.testing.assert_allclose(
        loaded.predict(tracks.head(20)),
        loaded.estimator.predict(popularity.feature_frame(tracks.head(20), loaded.features)),
    )
    # a quick run saves the training-part fit (no refit on every track), and the report says so
    assert loaded.manifest["trained_on"] == "training part"
    assert loaded.manifest["training_rows"] == summary["split"]["train_rows"]
    assert any(line.startswith("Note: a quick run: the saved model is the chosen one as fitted on the "
                               f"training part ({summary['split']['train_rows']:,} tracks)")
               for line in section["reading"])
    # the task's data notes reach the report too (they were only in summary.json)
    assert "Note: feature(s) time_signature dropped: no value in this data." in section["reading"]


@pytest.mark.parametrize(
    ("features", "match"),
    [(["+colour"], "unknown feature 'colour'"), ("popularity", "is the target of the popularity task")],
)
def test_run_config_refuses_bad_features(features, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RunConfig(features=features)


def test_a_tiny_table_still_runs_and_notes_the_skipped_ols(clean_tracks: pd.DataFrame) -> None:
    tiny = clean_tracks.sample(n=20, random_state=2)
    result = popularity.fit(tiny, models=["linear"], budget=1, quick=True, n_boot=20)
    assert result.ols.empty
    assert any(
        "OLS summary skipped: OLS needs more tracks than terms" in n for n in result.summary()["notes"]
    )
    assert "not comparable" not in " ".join(reading("popularity.reading.j2", result.facts))


def test_vifs_are_statsmodels_vifs_with_a_constant(clean_tracks: pd.DataFrame) -> None:
    from statsmodels.stats.outliers_influence import variance_inflation_factor
    from statsmodels.tools import add_constant

    from hitlab.analyses._popularity_tables import _vifs

    columns = ["danceability", "energy", "loudness", "acousticness", "valence", "tempo"]
    values = clean_tracks[columns].head(2000).to_numpy(float)
    design = add_constant(values)
    library = [variance_inflation_factor(design, i) for i in range(1, design.shape[1])]
    np.testing.assert_allclose(_vifs(values), library, rtol=1e-9)


def test_the_reading_says_what_the_chosen_model_is(result: popularity.PopularityResult) -> None:
    """A zoo name alone ('blend', 'lightgbm') tells a reader little: the reading gives its description."""
    text = " ".join(reading("popularity.reading.j2", result.facts))
    description = result.facts["model_description"]
    assert description and f"({result.facts['model']}: {description};" in text
