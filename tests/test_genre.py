"""Genre: imbalance strategies, summary table, confident misses, top-k, calibration, section."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hitlab.genre as genre
from hitlab.errors import ConfigError, DataError
from hitlab.modeling.evaluate import score
from hitlab.outputs import SECTION_FILE, reading, render_section, report_data, write_result

STRATEGIES = ("none", "undersample", "smote", "class_weight")


@pytest.fixture(scope="module")
def test_frame_hash():
    """Records a hash of the test feature frame before fitting (filled by ``result``)."""
    return {}


@pytest.fixture(scope="module")
def result(tracks_slice: pd.DataFrame, test_frame_hash: dict) -> genre.GenreResult:
    """The genre analysis on 4,000 real tracks: LightGBM x 4 strategies + logistic, tiny budgets."""
    from hitlab.features import feature_frame, resolve_features
    from hitlab.modeling.split import outer_split
    from hitlab.songs import group_labels

    rows = tracks_slice[tracks_slice["genre"].notna()]
    split = outer_split(group_labels(rows, "song"), group_by="song", test_size=0.33, seed=0)
    X_test = feature_frame(rows, resolve_features("genre")).iloc[split.test]
    test_frame_hash["before"] = pd.util.hash_pandas_object(X_test, index=True).to_numpy().copy()
    test_frame_hash["index"] = X_test.index
    return genre.fit(tracks_slice, models=["logistic"], strategies=genre.STRATEGY_ORDER, quick=True, budget=1,
                     seed=0, n_boot=100)


def test_no_track_on_both_sides(result: genre.GenreResult) -> None:
    fit = result.fit
    train_ids = set(fit.rows["track_id"].iloc[fit.split.train])
    test_ids = set(fit.rows["track_id"].iloc[fit.split.test])
    assert train_ids and test_ids
    assert not train_ids & test_ids
    assert len(fit.split.train) + len(fit.split.test) == len(fit.rows)


def test_smote_never_touches_test_rows(result: genre.GenreResult, test_frame_hash: dict) -> None:
    fit = result.fit
    # the run made the same split (same seed) and the test frame is byte-identical afterwards
    assert fit.X_test.index.equals(test_frame_hash["index"])
    after = pd.util.hash_pandas_object(fit.X_test, index=True).to_numpy()
    np.testing.assert_array_equal(after, test_frame_hash["before"])
    smote = fit.candidate("lightgbm+smote")
    assert "sample" in smote.pipeline.named_steps  # the sampler sits inside the pipeline ...
    test_ids = set(fit.rows.index[fit.split.test])
    assert not set(smote.tuning.seen) & test_ids  # ... and tuning never fitted or scored a test row
    # one prediction per test row, none for synthetic rows
    assert len(smote.prediction) == len(fit.split.test)
    # at predict time the pipeline skips the sampler: predicting twice gives the same answer
    np.testing.assert_array_equal(smote.pipeline.predict(fit.X_test), smote.pipeline.predict(fit.X_test))


def test_summary_table_has_every_genre_and_strategy(result: genre.GenreResult) -> None:
    table = result.strategies
    classes = result.fit.classes
    assert classes and len(classes) == 6
    assert set(table["strategy"]) == set(STRATEGIES)
    expected_rows = {"accuracy", "macro_f1", "balanced_accuracy", *(f"recall: {g}" for g in classes)}
    assert set(table["row"]) == expected_rows
    assert len(table) == len(expected_rows) * len(STRATEGIES)
    assert ((table["low"] <= table["value"] + 1e-12) & (table["value"] <= table["high"] + 1e-12)).all()
    # every row marks its best strategy
    assert table.groupby("row")["best"].any().all()
    wide = result.strategy_summary
    assert list(wide.columns) == ["row", "tracks", *STRATEGIES, "best"]
    assert set(wide["row"]) == expected_rows
    for rec in wide.itertuples(index=False):
        assert any(str(getattr(rec, s)).endswith(" *") for s in STRATEGIES)


def test_confident_misses_are_wrong_and_sorted(result: genre.GenreResult) -> None:
    wrong = result.confident_wrong
    assert len(wrong) > 0
    assert (wrong["true"] != wrong["predicted"]).all()
    assert wrong["confidence"].is_monotonic_decreasing
    right = result.confident_right
    assert (right["true"] == right["predicted"]).all()
    assert right["confidence"].is_monotonic_decreasing
    assert wrong["link"].str.match(r"^https://open\.spotify\.com/track/[0-9A-Za-z]{22}$").all()
    for column in ("confidence", "true", "predicted", "track_name", "artist_name", "link"):
        assert column in wrong.columns


def test_top_k_is_monotone_and_top1_is_accuracy(result: genre.GenreResult) -> None:
    top = result.top_k
    assert list(top["k"]) == [1, 2, 3]
    assert top["accuracy"].is_monotonic_increasing
    best = result.fit.best
    accuracy = score("accuracy", result.fit.y_test, best.prediction)
    assert top["accuracy"].iloc[0] == pytest.approx(accuracy)
    assert result.exact.value == pytest.approx(accuracy)
    assert top["accuracy"].iloc[1] == pytest.approx(best.metrics["top2"].value)
    # the tracks both top-2 guesses miss are exactly the top-2 misses
    misses = result.top2_misses
    assert len(misses) == round((1 - top["accuracy"].iloc[1]) * len(result.fit.y_test))
    assert (misses["true"] != misses["guess_1"]).all() and (misses["true"] != misses["guess_2"]).all()


def test_hit_any_label_is_at_least_exact(result: genre.GenreResult) -> None:
    assert result.hit_any.value >= result.exact.value
    predictions = result.predictions
    # a right guess always hits one of the labels; some tracks carry several labels
    assert predictions.loc[predictions["correct"], "hit_any_label"].all()
    assert predictions["all_labels"].str.contains("|", regex=False).any()


def test_calibration_table_and_ece(result: genre.GenreResult) -> None:
    table = result.calibration
    assert table["tracks"].sum() == len(result.fit.y_test)
    inside = (table["mean_confidence"] >= table["bin_low"]) & (table["mean_confidence"] <= table["bin_high"])
    assert inside.all()
    weights = table["tracks"] / table["tracks"].sum()
    ece = float((weights * (table["mean_confidence"] - table["accuracy"]).abs()).sum())
    assert result.ece.value == pytest.approx(ece)
    assert 0 <= result.ece.low <= result.ece.value <= result.ece.high <= 1


def test_outputs_and_section_render(result: genre.GenreResult, tmp_path: Path) -> None:
    summary = write_result(result, tmp_path, "genre")
    section_file = tmp_path / "genre" / SECTION_FILE
    spec = json.loads(section_file.read_text())
    for path in [*spec["tables"].values(), *spec["figures"].values()]:
        assert (tmp_path / path).exists(), path
    assert spec["title"] == "Genre"
    assert any("of the time" in line for line in spec["reading"])
    assert {m["name"] for m in spec["metrics"]} >= {"accuracy", "hit any of its labels", "top-2 accuracy"}
    html = render_section(tmp_path, "genre", spec)
    assert 'id="genre"' in html and "Imbalance strategies compared" in html and "Reliability curve" in html
    assert html.count("<table") >= 7 and html.count("<img") == len(spec["figures"])
    assert (tmp_path / "models" / "genre.skops").exists()
    manifest = json.loads((tmp_path / "models" / "genre.json").read_text())
    assert set(manifest["class_counts"]) == set(result.fit.classes or [])
    assert manifest["scheme"] == "playlist" and manifest["expected_calibration_error"]["value"] >= 0
    assert (tmp_path / "models" / "genre_test_predictions.csv").exists()
    assert (tmp_path / "models" / "genre_reload_check.csv").exists()
    assert summary["files"]["model"] == "models/genre.skops"
    for stem in ("genre_confusion_lightgbm", "genre_confusion_lightgbm_smote", "genre_calibration"):
        assert (tmp_path / "figures" / f"{stem}.png").exists()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"strategies": ("none", "oversample")}, ConfigError, "unknown imbalance strategy 'oversample'"),
        ({"scheme": "moods"}, ConfigError, "label scheme must be one of playlist, tags"),
        ({"models": ["svm"]}, ConfigError, "unknown classification model 'svm'"),
    ],
)
def test_bad_options_are_refused(tracks_slice: pd.DataFrame, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        genre.fit(tracks_slice.head(300), quick=True, n_boot=0, **kwargs)


def test_unlabelled_tracks_are_refused(tracks_slice: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="no 'genre' label column"):
        genre.fit(tracks_slice.drop(columns=["genre"]), quick=True)


def test_expected_calibration_error_by_hand() -> None:
    confidence = np.array([0.95, 0.95, 0.55, 0.55])
    correct = np.array([1, 1, 1, 0])
    # bin 0.9-1.0: gap 0.05 on 2 tracks; bin 0.5-0.6: gap 0.05 on 2 tracks
    assert genre.expected_calibration_error(confidence, correct, n_boot=0).value == pytest.approx(0.05)


def test_tags_scheme_section_wording(tracks_slice: pd.DataFrame, artists_file: Path) -> None:
    from hitlab.datasets import read_artists
    from hitlab.labels import attach_artist_tags, label_tracks

    tagged, _ = attach_artist_tags(tracks_slice.drop(columns=["genre"]), read_artists(artists_file))
    labelled, _ = label_tracks(tagged, "tags")
    result = genre.fit(labelled, scheme="tags", models=[], strategies=("none", "class_weight"), quick=True,
                       n_boot=50, seed=0)
    assert set(result.fit.classes or []) <= set(("pop", "country", "hiphop", "rock", "indie", "house", "r&b"))
    assert result.hit_any.value == pytest.approx(result.exact.value)  # one label per track
    assert "main genre" in reading("genre.reading.j2", result.facts)[0]


def test_hitlab_run_writes_the_genre_stage_and_its_report_section(tmp_path: Path) -> None:

    from hitlab.config import RunConfig
    from hitlab.pipeline import run

    done = run(RunConfig(out=str(tmp_path), name="g", quick=True, stages=["genre", "report"]))
    folder = done.folder
    assert "genre" in done.timings and done.results["genre"]["task"] == "genre"
    for name in ("strategy_summary", "confident_wrong", "top_k", "top2_misses", "calibration", "leaderboard"):
        assert (folder / "genre" / f"{name}.csv").exists(), name
    assert (folder / "models" / "genre.skops").exists()
    # a quick run fits one strategy (two by default, all four with --full) and says so
    confusions = {p.name for p in (folder / "figures").glob("genre_confusion_*.png")}
    assert confusions == {"genre_confusion_lightgbm.png"}
    sections = {s["key"]: s for s in report_data(folder)["sections"]}
    assert sections["genre"]["title"] == "Genre"
    html = (folder / "report.html").read_text("utf-8")
    assert "Imbalance strategies compared" in html
    assert "One imbalance strategy was fitted on lightgbm (none" in html
    assert "the default run compares no rebalancing with class weights" in html
    # and saves the training-part fit, which the manifest and the report say
    manifest = json.loads((folder / "models" / "genre.json").read_text())
    assert manifest["trained_on"] == "training part"
    assert manifest["training_rows"] == done.results["genre"]["split"]["train_rows"]
    assert f"fitted on the training part ({manifest['training_rows']:,} tracks)" in html


def test_calibration_table_is_sklearns_calibration_curve() -> None:
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.15, 1.0, 3000)
    correct = rng.uniform(size=3000) < confidence
    table = genre.calibration_table(confidence, correct)
    accuracy, mean_confidence = calibration_curve(correct, confidence, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(table["accuracy"], accuracy, rtol=1e-12)
    np.testing.assert_allclose(table["mean_confidence"], mean_confidence, rtol=1e-12)
    assert table["tracks"].sum() == 3000
