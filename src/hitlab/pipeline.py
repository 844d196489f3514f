"""``run()``: the stages in order, written to a run folder with a manifest.

Stages: load -> clean -> label -> eda -> popularity -> genre, then the report.
Everything is written to a hidden temporary folder beside the target and moved into
place only when every stage succeeded, so bad input leaves no partial run folder.
Re-running with the same inputs and seed gives the same files (the manifest's
timings aside).
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hitlab import __version__
from hitlab.clean import CleaningReport, clean
from hitlab.config import RunConfig
from hitlab.datasets import load_tidytuesday, read_artists, read_tracks
from hitlab.datasets.builtin import TIDYTUESDAY_FILE
from hitlab.eda import eda_figures
from hitlab.labels import LabelReport, TagJoinReport, attach_artist_tags, label_tracks
from hitlab.plots import save_figure
from hitlab.report import write_report

__all__ = ["Progress", "RunResult", "run"]

#: ``progress(stage, message)`` is called as each stage starts and reports what it does.
Progress = Callable[[str, str], None]

LIBRARIES = (
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


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "hitlab": __version__}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass
class RunResult:
    """What a run produced: the folder, the tables and the per-stage results."""

    folder: Path
    config: RunConfig
    tracks: pd.DataFrame
    cleaning_report: CleaningReport
    label_report: LabelReport
    tag_report: TagJoinReport | None = None
    figures: dict[str, Path] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass
class _State:
    config: RunConfig
    folder: Path
    progress: Progress
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)
    tracks: pd.DataFrame | None = None
    cleaning_report: CleaningReport | None = None
    label_report: LabelReport | None = None
    tag_report: TagJoinReport | None = None
    figures: dict[str, Path] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _stage_load(state: _State) -> None:
    cfg = state.config
    if cfg.data is None:
        state.progress("load", "built-in TidyTuesday 2020 data")
        state.tracks = load_tidytuesday()
        builtin = resources.files("hitlab.datasets") / "data" / TIDYTUESDAY_FILE
        with resources.as_file(builtin) as local:
            state.inputs["data"] = {"path": "built-in:tidytuesday-2020", "sha256": sha256_file(local)}
    else:
        state.progress("load", f"reading {cfg.data}")
        state.tracks = read_tracks(cfg.data, cfg.mapping, check_ranges=not cfg.drop_invalid)
        state.inputs["data"] = {"path": str(cfg.data), "sha256": sha256_file(cfg.data)}
    if cfg.artists is not None:
        state.inputs["artists"] = {"path": str(cfg.artists), "sha256": sha256_file(cfg.artists)}


def _stage_clean(state: _State) -> None:
    cfg = state.config
    assert state.tracks is not None
    state.progress("clean", f"{len(state.tracks):,} rows")
    result = clean(state.tracks, min_duration_ms=cfg.min_duration_ms, max_duration_ms=cfg.max_duration_ms)
    state.tracks, state.cleaning_report = result.tracks, result.report
    (state.folder / "cleaning_report.json").write_text(result.report.to_json() + "\n")


def _stage_label(state: _State) -> None:
    cfg = state.config
    assert state.tracks is not None
    tracks = state.tracks
    if cfg.artists is not None:
        state.progress("label", f"joining artist tags from {cfg.artists}")
        artists = read_artists(cfg.artists, cfg.artists_mapping)
        tracks, state.tag_report = attach_artist_tags(tracks, artists)
    state.progress("label", f"{cfg.labels} labels")
    tracks, state.label_report = label_tracks(tracks, cfg.labels, vocabulary=cfg.vocabulary, top_n=cfg.top_n)
    state.tracks = tracks
    if not tracks["popularity"].notna().any():
        state.skipped["popularity"] = "the data has no popularity column"
    if not tracks["genre"].notna().any():
        state.skipped["genre"] = "no track has a genre label"
    labels = {"labels": state.label_report.to_dict()}
    if state.tag_report is not None:
        labels["artist_tags"] = state.tag_report.to_dict()
    (state.folder / "labels.json").write_text(json.dumps(labels, indent=2) + "\n")
    extras = list(tracks.attrs.get("extra_columns", []))
    tracks.to_parquet(state.folder / "tracks.parquet", index=False)
    state.results["extra_columns"] = extras


def _stage_eda(state: _State) -> None:
    assert state.tracks is not None
    state.progress("eda", "drawing figures")
    figures = state.folder / "figures"
    figures.mkdir(exist_ok=True)
    for stem, fig in eda_figures(state.tracks).items():
        state.figures[stem] = save_figure(fig, figures / f"{stem}.png")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return str(value)


def write_task_outputs(
    result: Any, folder: str | Path, name: str, *, save_model: bool = True
) -> dict[str, Any]:
    """Write one modelling task's outputs into a run folder; return its summary.

    ``result`` is a task result (:class:`hitlab.popularity.PopularityResult`,
    :class:`hitlab.genre.GenreResult`) with ``tables()``, ``figures()``, ``section()``,
    ``summary()`` and ``fit`` (the :class:`~hitlab.modeling.TaskResult`). Writes
    ``<name>/*.csv``, ``figures/<stem>.png``, ``models/<name>.skops`` with its manifest
    (plus the result's ``manifest_extras()`` when it has them), the held-out predictions of the
    training-part model and the saved model's reload check (see :meth:`~hitlab.modeling.TaskResult.save`),
    ``<name>/section.json`` for the report and ``<name>/summary.json``.
    """
    folder = Path(folder)
    (folder / name).mkdir(parents=True, exist_ok=True)
    tables = result.tables()
    for relative, table in tables.items():
        table.to_csv(folder / relative, index=False)
    (folder / "figures").mkdir(exist_ok=True)
    figure_files: dict[str, str] = {}
    for stem, fig in result.figures().items():
        save_figure(fig, folder / "figures" / f"{stem}.png")
        figure_files[stem] = f"figures/{stem}.png"
    files: dict[str, Any] = {"tables": sorted(tables), "figures": figure_files}
    if save_model:
        saved = Path(result.fit.save(str(folder / "models" / f"{name}.skops")))
        if hasattr(result, "manifest_extras"):
            manifest_file = saved.with_suffix(".json")
            manifest = json.loads(manifest_file.read_text("utf-8"))
            manifest.update(result.manifest_extras())
            manifest_file.write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n", "utf-8")
        files["model"] = saved.relative_to(folder).as_posix()
        for kind in ("test_predictions", "reload_check"):
            files[kind] = saved.with_name(f"{saved.stem}_{kind}.csv").relative_to(folder).as_posix()
    section = result.section(figure_files)
    (folder / name / "section.json").write_text(json.dumps(section, indent=2, default=_json_default) + "\n")
    summary = result.summary()
    summary["files"] = files
    (folder / name / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
    return summary


def _record(state: _State, name: str, summary: dict[str, Any]) -> None:
    for stem, relative in summary["files"]["figures"].items():
        state.figures[stem] = state.folder / relative
    state.results[name] = summary


def _run_task(state: _State, name: str, fit: Callable[..., Any], **task_options: Any) -> None:
    """Fit one modelling task with the run's shared options, write its outputs, record them."""
    cfg = state.config
    assert state.tracks is not None
    result = fit(
        state.tracks,
        budget=cfg.budget,
        max_trials=cfg.trials,
        seed=cfg.seed,
        group_by=cfg.group_by,
        quick=cfg.quick,
        progress=lambda message: state.progress(name, message),
        **task_options,
    )
    state.progress(name, "writing tables, figures and the model")
    _record(state, name, write_task_outputs(result, state.folder, name))


def _stage_popularity(state: _State) -> None:
    """Popularity: leaderboard, OLS, error views, drivers, the saved model (see hitlab.popularity)."""
    from hitlab.popularity import fit as fit_popularity

    _run_task(state, "popularity", fit_popularity, features=state.config.features)


def _stage_genre(state: _State) -> None:
    """Genre: imbalance strategies, zoo, confusion, confident hits and misses, top-k, calibration,
    the saved model (see hitlab.genre)."""
    from hitlab.genre import fit as fit_genre

    _run_task(state, "genre", fit_genre, scheme=state.config.labels)


#: The stages in order. Later stages (popularity, genre, report) are appended here.
STAGES: list[tuple[str, Callable[[_State], None]]] = [
    ("load", _stage_load),
    ("clean", _stage_clean),
    ("label", _stage_label),
    ("eda", _stage_eda),
    ("popularity", _stage_popularity),
    ("genre", _stage_genre),
]


def run(config: RunConfig | None = None, progress: Progress | None = None) -> RunResult:
    """Run every stage and write ``<config.out>/<config.run_name>/``.

    The folder holds ``tracks.parquet`` (clean, labelled), ``cleaning_report.json``,
    ``labels.json``, ``figures/``, one folder per modelling stage, ``manifest.json`` and,
    last, ``report.html``. An existing folder of the same
    name is replaced only when the new run succeeds.
    """
    config = config or RunConfig()
    progress = progress or (lambda stage, message: None)
    target = Path(config.out) / config.run_name
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f".{target.name}.partial"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir()
    state = _State(config=config, folder=temp, progress=progress)
    timings: dict[str, float] = {}
    try:
        for name, stage in STAGES:
            if name not in ("load", "clean", "label") and name not in config.stages:
                continue
            if name in state.skipped:
                progress(name, f"skipped: {state.skipped[name]}")
                continue
            started = time.perf_counter()
            stage(state)
            timings[name] = round(time.perf_counter() - started, 3)
        manifest = {
            "hitlab": __version__,
            "run": config.run_name,
            "inputs": state.inputs,
            "config": config.to_dict(),
            "seed": config.seed,
            "versions": library_versions(),
            "timings_s": timings,
            "skipped": state.skipped,
            "outputs": {
                str(p.relative_to(temp)): sha256_file(p) for p in sorted(temp.rglob("*")) if p.is_file()
            },
        }
        (temp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        if "report" in config.stages:
            # Last, as it reads everything above; report.html is therefore not in the manifest.
            progress("report", "writing report.html")
            write_report(temp)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    if target.exists():
        shutil.rmtree(target)
    temp.rename(target)
    assert state.tracks is not None and state.cleaning_report is not None and state.label_report is not None
    return RunResult(
        folder=target,
        config=config,
        tracks=state.tracks,
        cleaning_report=state.cleaning_report,
        label_report=state.label_report,
        tag_report=state.tag_report,
        figures={k: target / v.relative_to(temp) for k, v in state.figures.items()},
        results=state.results,
        timings=timings,
        skipped=state.skipped,
    )
