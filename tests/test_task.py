"""The held-out predictions file comes from the training-part model only; the model-ready data both
fit_task and the analyses start from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hitlab.errors import ConfigError, DataError
from hitlab.features import resolve_features
from hitlab.modeling import Task, fit_task
from hitlab.modeling.task import task_data
from hitlab.modeling.zoo import build_pipeline, get_model
from hitlab.outputs import save_task_model
from hitlab.songs import group_labels


def test_the_test_predictions_file_is_the_training_part_model_and_the_reload_check_the_saved_one(
    tracks_slice: pd.DataFrame, tmp_path: Path
) -> None:
    """Issue 13: ``<task>_holdout.csv`` held predictions of the model refitted on every row."""
    task = Task("popularity", "regression", "popularity", resolve_features("popularity"), "mae")
    rows = tracks_slice.head(1500)
    result = fit_task(rows, task, models=["lightgbm"], max_trials=1, n_boot=10, seed=0, n_jobs=1,
                      groups=group_labels(rows), group_by="song")
    assert result.final_rows == "all rows"
    saved = save_task_model(result, tmp_path / "popularity.skops")
    held_out = pd.read_csv(saved.with_name("popularity_test_predictions.csv"))
    reload_check = pd.read_csv(saved.with_name("popularity_reload_check.csv"))
    assert not (tmp_path / "popularity_holdout.csv").exists()

    # a model fitted here on the training part only, nothing shared with the run's objects
    train = result.split.train
    alone = build_pipeline(get_model("regression", "lightgbm"), result.features,
                           params=result.best.tuning.params, seed=0, n_jobs=1)
    alone.fit(result.X.iloc[train], result.y[train])
    expected = alone.predict(result.X_test)
    assert held_out["track_id"].tolist() == result.test_rows["track_id"].tolist()
    np.testing.assert_allclose(held_out["predicted"], expected, rtol=1e-9)
    np.testing.assert_allclose(held_out["predicted"], result.best.prediction, rtol=1e-9)
    # the reload check is what the saved (all-rows) model says: not held out, and different
    np.testing.assert_allclose(reload_check["predicted"], result.final.predict(result.X_test), rtol=1e-9)
    assert not np.allclose(reload_check["predicted"], held_out["predicted"])


def test_task_data_keeps_the_rows_with_a_target_and_their_groups(tracks_slice: pd.DataFrame) -> None:
    rows = tracks_slice.head(300).copy()
    rows.loc[rows.index[:7], "genre"] = None
    rows["liveness"] = np.nan
    task = Task("genre", "classification", "genre", resolve_features("genre"), "accuracy")
    labels = np.asarray([f"g{i % 50}" for i in range(len(rows))], dtype=object)
    data = task_data(rows, task, labels)
    assert len(data.rows) == len(data.X) == len(data.y) == len(data.groups) == 293 and data.left_out == 7
    assert list(data.groups) == list(labels[7:])
    assert data.classes == sorted(rows["genre"].dropna().unique())
    assert list(np.asarray(data.classes, dtype=object)[data.y]) == list(data.rows["genre"])
    assert "liveness" not in data.features.columns and "liveness" not in data.X.columns
    assert data.notes == ["7 tracks without genre left out",
                          "feature(s) liveness dropped: no value in this data"]
    by_function = task_data(rows, task, lambda kept: kept["artist_name"].to_numpy())
    assert list(by_function.groups) == list(data.rows["artist_name"])
    assert list(task_data(rows, task).groups) == [f"r:{i}" for i in range(293)]
    with pytest.raises(ConfigError, match=r"got 299 group label\(s\) for 300 row\(s\)"):
        task_data(rows, task, labels[1:])
    with pytest.raises(DataError, match="single class \\('pop'\\)"):
        task_data(rows.assign(genre="pop"), task)


def test_the_modelling_package_imports_no_music_module() -> None:
    """Issue 14: ``hitlab.modeling`` knows no music; groups and labels come in from the caller."""
    import ast

    import hitlab.modeling

    music = ("hitlab.labels", "hitlab.songs", "hitlab.clean", "hitlab.schema", "hitlab.genre",
             "hitlab.popularity", "hitlab.analyses", "hitlab.pipeline", "hitlab.cli", "hitlab.report",
             "hitlab.outputs")
    folder = Path(hitlab.modeling.__file__).parent
    found = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):  # from hitlab import songs -> hitlab.songs
                names = [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            found += [f"{path.name}: {n}" for n in names if n.startswith(music)]
    assert len(list(folder.glob("*.py"))) >= 8
    assert found == []
