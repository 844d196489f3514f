"""``run()``: the stages in order, written to a run folder with a manifest.

Stages: load -> clean -> label -> eda -> popularity -> genre, then the report.
Every option is checked before anything is written; the run name is locked while it
runs; everything is written to a unique hidden temporary folder beside the target and
swapped in only when every stage succeeded, so bad input or an interrupted run leaves no
partial run folder and the previous run of that name intact (:mod:`hitlab.run_folder`).
Re-running with the same inputs and seed gives the same files (the manifest's
timings aside).
"""

from __future__ import annotations

import hashlib
import json
import platform
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
from hitlab.datasets import load_mapping, load_tidytuesday, read_artists, read_tracks
from hitlab.datasets.builtin import TIDYTUESDAY_FILE
from hitlab.eda import eda_figures
from hitlab.errors import DataError
from hitlab.labels import LabelReport, TagJoinReport, attach_artist_tags, label_tracks
from hitlab.plots import save_figure
from hitlab.report import write_report
from hitlab.run_folder import RunFolder, check_inputs, check_run_target, run_name_of

__all__ = ["Progress", "RunResult", "run"]

#: A modelling task with fewer tracks is skipped with a message (too few to split and tune).
MIN_TASK_TRACKS = 30
#: Below this many tracks a run says its numbers are rough.
SMALL_TABLE = 300

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
        read = {**load_mapping("tidytuesday").to_dict(), "name": "tidytuesday"}
    else:
        state.progress("load", f"reading {cfg.data}")
        state.tracks = read_tracks(
            cfg.data, cfg.mapping, check_ranges=not cfg.drop_invalid, encoding=cfg.encoding
        )
        state.inputs["data"] = {"path": str(cfg.data), "sha256": sha256_file(cfg.data)}
        read = state.tracks.attrs["read"]
        for note in state.tracks.attrs.get("read_notes", []):
            state.progress("load", note)
    # how the data was read: `hitlab predict` reads new files the same way
    state.inputs["data"]["read"] = read
    if cfg.artists is not None:
        state.inputs["artists"] = {"path": str(cfg.artists), "sha256": sha256_file(cfg.artists)}


def _stage_clean(state: _State) -> None:
    cfg = state.config
    assert state.tracks is not None
    state.progress("clean", f"{len(state.tracks):,} rows")
    result = clean(
        state.tracks,
        min_duration_ms=cfg.min_duration_ms,
        max_duration_ms=cfg.max_duration_ms,
        strict=cfg.strict,
    )
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
    tracks, state.label_report = label_tracks(
        tracks, cfg.labels, vocabulary=cfg.vocabulary, top_n=cfg.top_n, min_class_size=cfg.min_class_size
    )
    state.tracks = tracks
    report = state.label_report
    if report.small_classes:
        shown = ", ".join(f"{g} ({n})" for g, n in list(report.small_classes.items())[:8])
        more = len(report.small_classes) - 8
        state.progress(
            "label",
            f"{len(report.small_classes)} genre(s) with fewer than {cfg.min_class_size} tracks left out "
            "of the "
            f"genre task: {shown}" + (f" and {more} more" if more > 0 else ""),
        )
    with_pop = int(tracks["popularity"].notna().sum())
    if with_pop == 0:
        state.skipped["popularity"] = "the data has no popularity column"
    elif with_pop < MIN_TASK_TRACKS:
        state.skipped["popularity"] = (
            f"too few tracks with a popularity ({with_pop}; a model needs at least {MIN_TASK_TRACKS})"
        )
    classes = tracks["genre"].value_counts()
    labelled = int(classes.sum())
    if labelled == 0:
        state.skipped["genre"] = "no track has a genre label" + (
            f" (every genre has fewer than {cfg.min_class_size} tracks)" if report.small_classes else ""
        )
    elif len(classes) < 2:
        state.skipped["genre"] = (
            f"only one genre ({classes.index[0]}, {int(classes.iloc[0]):,} tracks) to learn"
            + (f"; {len(report.small_classes)} smaller genre(s) left out" if report.small_classes else "")
        )
    elif labelled < MIN_TASK_TRACKS:
        state.skipped["genre"] = (
            f"too few labelled tracks ({labelled}; a model needs at least {MIN_TASK_TRACKS})"
        )
    if len(tracks) < SMALL_TABLE:
        state.progress(
            "label",
            f"a small table ({len(tracks):,} tracks): the numbers will be rough (wide confidence intervals)",
        )
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
        full=cfg.full,
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


def write_analysis_outputs(
    result: Any, section: Callable[..., dict], folder: Path, name: str
) -> dict[str, Any]:
    """Write one analysis's tables (``<name>/*.csv``), figures and report section; return a summary.

    ``result`` has ``tables()``, ``figures()`` and ``skipped``; ``section(result, figure_files)``
    builds the report section (see :mod:`hitlab.analyses`).
    """
    (folder / name).mkdir(parents=True, exist_ok=True)
    (folder / "figures").mkdir(exist_ok=True)
    tables = result.tables()
    for table_name, table in tables.items():
        table.to_csv(folder / name / f"{table_name}.csv", index=False)
    figure_files: dict[str, str] = {}
    for stem, fig in result.figures().items():
        save_figure(fig, folder / "figures" / f"{stem}.png")
        figure_files[stem] = f"figures/{stem}.png"
    sections = section(result, figure_files)
    if result.skipped:
        sections.setdefault("skipped", result.skipped)
    (folder / name / "section.json").write_text(json.dumps(sections, indent=2, default=_json_default) + "\n")
    return {"files": {"tables": sorted(tables), "figures": figure_files}, "skipped": result.skipped}


def _split_groups(state: _State) -> Any:
    from hitlab.songs import group_labels

    assert state.tracks is not None
    return group_labels(state.tracks, state.config.group_by)


def _stage_eras(state: _State) -> None:
    """Eras (opt-in): staleness of models trained on older tracks, drivers by era, feature drift."""
    from hitlab.analyses import eras

    assert state.tracks is not None
    result = eras.analyse(state.tracks, groups=_split_groups(state), seed=state.config.seed,
                          progress=lambda message: state.progress("eras", message))
    _record(state, "eras", write_analysis_outputs(result, eras.section, state.folder, "eras"))
    if result.skipped:
        state.skipped["eras"] = result.skipped


def _stage_label_quality(state: _State) -> None:
    """Label quality (opt-in): likely wrong genre labels, whether removing them helps."""
    from hitlab.analyses import label_quality

    assert state.tracks is not None
    cfg = state.config
    artists = read_artists(cfg.artists, cfg.artists_mapping) if cfg.artists else None
    result = label_quality.analyse(state.tracks, groups=_split_groups(state), artists=artists,
                                   vocabulary=state.config.vocabulary, seed=state.config.seed,
                                   progress=lambda message: state.progress("label_quality", message))
    _record(state, "label_quality",
            write_analysis_outputs(result, label_quality.section, state.folder, "label_quality"))
    if result.skipped:
        state.skipped["label_quality"] = result.skipped


#: The stages in order (``report`` runs last, after the manifest is written). ``eras`` and
#: ``label_quality`` are opt-in (``--stages``): they add minutes to a run.
STAGES: list[tuple[str, Callable[[_State], None]]] = [
    ("load", _stage_load),
    ("clean", _stage_clean),
    ("label", _stage_label),
    ("eda", _stage_eda),
    ("popularity", _stage_popularity),
    ("genre", _stage_genre),
    ("eras", _stage_eras),
    ("label_quality", _stage_label_quality),
]


def _check_before_writing(config: RunConfig) -> Path:
    """Every check that needs no disk write: inputs readable, --out usable, the name plain."""
    check_inputs(config)
    return check_run_target(config.out, run_name_of(config))


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def _run_modelling_stage(state: _State, name: str, stage: Callable[[_State], None]) -> None:
    """Run a modelling stage; a :class:`DataError` about its data skips it with the message.

    The rest of the run (the other task, the report) goes on, and files the failed stage
    had written are removed. Any other error is a bug and stops the run.
    """
    before = _files_under(state.folder)
    figures, results = dict(state.figures), dict(state.results)
    try:
        stage(state)
    except DataError as exc:
        for path in _files_under(state.folder) - before:
            path.unlink()
        for folder in sorted((p for p in state.folder.rglob("*") if p.is_dir()), reverse=True):
            if not any(folder.iterdir()):
                folder.rmdir()
        state.figures, state.results = figures, results
        state.skipped[name] = str(exc)
        state.progress(name, f"skipped: {exc}")


def run(config: RunConfig | None = None, progress: Progress | None = None) -> RunResult:
    """Run every stage and write ``<config.out>/<config.run_name>/``.

    The folder holds ``tracks.parquet`` (clean, labelled), ``cleaning_report.json``,
    ``labels.json``, ``figures/``, one folder per modelling stage, ``manifest.json`` and,
    last, ``report.html``. Every option is checked before anything is written; the run
    name is locked while the run goes on (a second run of the same name fails at once);
    everything is written to a unique hidden folder that replaces an existing run of the
    same name only when the new run succeeded (see :mod:`hitlab.run_folder`). A
    modelling task whose data cannot be modelled (a :class:`DataError`) is recorded as
    skipped with its message; the other stages go on.
    """
    config = config or RunConfig()
    progress = progress or (lambda stage, message: None)
    _check_before_writing(config)
    with RunFolder(config.out, run_name_of(config)) as run_folder:
        assert run_folder.temp is not None
        temp = run_folder.temp
        state = _State(config=config, folder=temp, progress=progress)
        timings: dict[str, float] = {}
        for name, stage in STAGES:
            if name not in ("load", "clean", "label") and name not in config.stages:
                continue
            if name in state.skipped:
                progress(name, f"skipped: {state.skipped[name]}")
                continue
            started = time.perf_counter()
            if name in ("popularity", "genre"):
                _run_modelling_stage(state, name, stage)
            else:
                stage(state)
            timings[name] = round(time.perf_counter() - started, 3)
        manifest = {
            "hitlab": __version__,
            "run": run_folder.name,
            "inputs": state.inputs,
            "config": config.to_dict(),
            "seed": config.seed,
            "versions": library_versions(),
            "timings_s": timings,
            "skipped": state.skipped,
            "outputs": {
                p.relative_to(temp).as_posix(): sha256_file(p) for p in sorted(temp.rglob("*")) if p.is_file()
            },
        }
        manifest_text = json.dumps(manifest, indent=2, default=str, allow_nan=False)
        (temp / "manifest.json").write_text(manifest_text + "\n")
        if "report" in config.stages:
            # Last, as it reads everything above; report.html is therefore not in the manifest.
            progress("report", "writing report.html")
            write_report(temp)
        target = run_folder.commit()
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
