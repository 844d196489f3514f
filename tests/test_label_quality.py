"""The label-quality analysis on real slices: out-of-fold probabilities never come from a model
that saw the track, the flagged list is ordered by confidence, cleaning is checked on held-out
tracks, the tag report explains ties, and the section renders."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hitlab.analyses import label_quality as lq
from hitlab.analyses._fitting import fit_model, predict, task_data
from hitlab.analyses.genre import genre_task
from hitlab.analyses.registry import by_name
from hitlab.datasets import read_artists
from hitlab.labels import main_genre
from hitlab.outputs import reading, render_section, write_analysis
from hitlab.songs import group_labels

FAST = {"n_estimators": 40}


@pytest.fixture(scope="module")
def slice_(clean_tracks: pd.DataFrame) -> pd.DataFrame:
    multi = clean_tracks[clean_tracks["genres"].map(len) > 1].sample(n=150, random_state=2)
    rest = clean_tracks.drop(multi.index).sample(n=1350, random_state=2)
    return pd.concat([multi, rest]).sample(frac=1.0, random_state=2)


@pytest.fixture(scope="module")
def artists(artists_file) -> pd.DataFrame:
    return read_artists(artists_file)


@pytest.fixture(scope="module")
def result(slice_: pd.DataFrame, artists: pd.DataFrame) -> lq.LabelQualityResult:
    return lq.analyse(slice_, artists=artists, n_splits=3, clean_splits=2, n_boot=100, params=FAST)


def test_out_of_fold_probabilities_never_from_a_model_that_saw_the_track(
    result: lq.LabelQualityResult, slice_: pd.DataFrame
) -> None:
    n = len(slice_)
    tests = np.concatenate([f.test for f in result.folds])
    assert sorted(tests) == list(range(n))  # every track scored exactly once
    groups = group_labels(slice_, "track")
    for fold in result.folds:
        assert not set(fold.train) & set(fold.test)
        assert not set(groups[fold.train]) & set(groups[fold.test])
    # the recorded training rows are the ones that produced the probabilities
    task = genre_task()
    data = task_data(slice_, task)
    fold = result.folds[0]
    model = fit_model(task, data.features, data.X.iloc[fold.train], data.y[fold.train], params=FAST)
    again = predict(model, task.kind, data.X.iloc[fold.test], len(data.classes))[1]
    np.testing.assert_allclose(result.proba[fold.test], again)
    assert np.allclose(result.proba.sum(axis=1), 1.0)


def test_flagged_list_is_ordered_by_confidence(result: lq.LabelQualityResult) -> None:
    flagged = result.flagged
    assert len(flagged) > 0
    assert flagged["confidence"].is_monotonic_decreasing
    assert flagged["rank"].tolist() == list(range(1, len(flagged) + 1))
    np.testing.assert_allclose(flagged["confidence"], 1 - flagged["p_given"])
    assert set(flagged["given"]) <= set(result.classes) and set(flagged["suggested"]) <= set(result.classes)
    links = flagged["link"]
    assert links.str.fullmatch(r"https://open\.spotify\.com/track/[0-9A-Za-z]{22}").all()
    oof = result.out_of_fold
    assert oof.loc[oof["flagged"], "track_id"].sort_values().tolist() == sorted(flagged["track_id"])


def test_wrong_labels_per_genre_have_cis(result: lq.LabelQualityResult) -> None:
    per = result.per_genre
    assert per["genre"].tolist() == result.classes
    assert (per["estimated_wrong_low"] <= per["estimated_wrong"]).all()
    assert (per["estimated_wrong"] <= per["estimated_wrong_high"]).all()
    assert per["flagged"].sum() == len(result.flagged)


def test_cleaning_is_scored_on_held_out_tracks_confirmed_by_tags(
    result: lq.LabelQualityResult, slice_: pd.DataFrame
) -> None:
    train, test = result.cleaning_split
    groups = group_labels(slice_, "track")
    assert not set(groups[train]) & set(groups[test])
    rows = result.cleaning.set_index("test_tracks")
    assert {"labels confirmed by artist tags", "all test tracks"} <= set(rows.index)
    assert rows.loc["all test tracks", "tracks"] == len(test)
    for _, row in rows.iterrows():
        assert row["accuracy_all_low"] <= row["accuracy_all"] <= row["accuracy_all_high"]
        assert row["difference"] == pytest.approx(row["accuracy_cleaned"] - row["accuracy_all"])


def test_without_tags_cleaning_uses_all_test_tracks_and_says_so(slice_: pd.DataFrame) -> None:
    tracks = slice_.head(600).copy()
    tracks["artist_genres"] = pd.Series([()] * len(tracks), index=tracks.index, dtype=object)
    found = lq.analyse(tracks, n_splits=3, clean_splits=2, n_boot=50, multi_label=False, params=FAST)
    assert found.cleaning["test_tracks"].tolist() == ["all test tracks"]
    assert any("scored on all test tracks" in n for n in found.notes)
    assert found.tag_vocabulary.empty
    assert any("all test tracks" in line for line in reading("label_quality.reading.j2", found.facts))


def test_multi_label_view_beside_the_one_label_model(result: lq.LabelQualityResult) -> None:
    m = result.multi_label
    assert len(m) == 3 and (m["tracks"] >= 100).all()
    one, profile, diff = m.to_dict("records")
    assert 0 <= one["jaccard"] <= 1 and 0 <= profile["hit_any"] <= 1
    assert diff["jaccard"] == pytest.approx(profile["jaccard"] - one["jaccard"])


def test_tag_vocabulary_reports_feeders_ties_and_disagreements() -> None:
    tracks = pd.DataFrame({
        "artist_genres": [("dance pop", "pop rap", "hip hop"), ("dance pop", "hip hop"), ("indie rock",),
                          ("jazz",)],
        "genres": [("pop",), ("rap",), ("rock",), ("latin",)],
    })
    vocab, ties, disagreements = lq.tag_vocabulary(tracks)
    # track 2: one pop word, one hiphop word; track 3: "indie rock" holds both words. Each a tie that
    # the genre listed first in the vocabulary wins, as hitlab.labels.main_genre decides
    assert ties.to_dict("records") == [{"tied_genres": "pop / hiphop", "winner": "pop", "tracks": 1},
                                       {"tied_genres": "rock / indie", "winner": "rock", "tracks": 1}]
    genre, tie = main_genre(tracks["artist_genres"])
    assert genre.tolist()[:3] == ["pop", "pop", "rock"] and tie.tolist() == [False, True, True, False]
    fed = {(r["main_genre"], r["tag"]): r["tracks"] for r in vocab.to_dict("records")}
    assert fed[("pop", "dance pop")] == 2 and fed[("pop", "pop rap")] == 1
    assert fed[("rock", "indie rock")] == 1  # rock is listed before indie
    pairs = {(r["tag_genre"], r["playlist_genre"]): r["tracks"] for r in disagreements.to_dict("records")}
    assert pairs == {("pop", "pop"): 1, ("pop", "rap"): 1, ("rock", "rock"): 1}


def test_skipped_without_labels(slice_: pd.DataFrame) -> None:
    tracks = slice_.head(50).copy()
    tracks["genre"] = pd.array([pd.NA] * len(tracks), dtype="string")
    found = lq.analyse(tracks)
    assert found.skipped and "genre" in found.skipped
    assert found.tables() == {} and found.figures() == {} and found.headline_metrics() == []


def test_section_renders(result: lq.LabelQualityResult, tmp_path) -> None:
    summary = write_analysis(tmp_path, by_name("label_quality"), result)
    sec = json.loads((tmp_path / "label_quality" / "section.json").read_text())
    assert set(sec) == {"title", "template", "reading", "metrics", "tables", "figures", "facts", "skipped"}
    assert set(sec["tables"].values()) == {f"label_quality/{name}.csv" for name in result.tables()}
    assert sec["figures"] == {stem: f"figures/{stem}.png" for stem in summary["files"]["figures"]}
    assert any("cleanlab" in line for line in sec["reading"])
    assert any("Does cleaning help?" in line for line in sec["reading"])
    html = render_section(tmp_path, "label_quality", sec)
    # every table but the out-of-fold probabilities is shown, with its title
    assert html.count("<table") == len(result.tables()) - 1 and "Likely mislabelled tracks" in html
    hostile = result.flagged.head(2).copy()
    hostile.loc[hostile.index[0], "track_name"] = "<script>alert('x')</script>"
    hostile.to_csv(tmp_path / "label_quality" / "flagged.csv", index=False)
    html = render_section(tmp_path, "label_quality", sec)
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
