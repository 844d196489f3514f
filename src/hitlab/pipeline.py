"""``run()``: the stages in order, each result handed to the outputs layer.

Stages: load -> clean -> label, then the analyses of the registry in order (by default
:data:`hitlab.analyses.registry.BUILTIN_ANALYSES`: eda, popularity, genre, and the opt-in eras and
label_quality), then the manifest and the report. A stage computes; :mod:`hitlab.outputs` writes
(no stage writes a file itself). Every option is checked before anything is written; the run
name is locked while it runs; everything is written to a unique hidden temporary folder beside
the target and swapped in only when every stage succeeded, so bad input or an interrupted run
leaves no partial run folder and the previous run of that name intact
(:mod:`hitlab.run_folder`). Re-running with the same inputs and seed gives the same files (the
manifest's timings aside).

Analyses run in up to ``config.workers`` processes at once (default 2): this one takes them
from the front of the list, ``workers - 1`` worker processes (:mod:`hitlab.worker`, started with
the run when there are two or more analyses and two or more CPUs) from the back. Each
analysis is computed and written where it was taken, into its own files, and recorded in
registry order, so the files and the report are the same as with ``workers=1`` (tested); the
manifest's ``computed_in`` says where each ran.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from hitlab import __version__, outputs
from hitlab.analyses.base import Analysis, Context
from hitlab.analyses.registry import BUILTIN_ANALYSES
from hitlab.clean import CleaningReport, clean
from hitlab.config import STAGE_NAMES, RunConfig
from hitlab.datasets import load_mapping, load_tidytuesday, read_artists, read_tracks
from hitlab.datasets.builtin import TIDYTUESDAY_FILE
from hitlab.errors import DataError
from hitlab.labels import LabelReport, TagJoinReport, attach_artist_tags, label_tracks
from hitlab.modeling.persist import library_versions, sha256_file
from hitlab.run_folder import RunFolder, check_inputs, check_run_target, run_name_of
from hitlab.worker import (
    Outcome,
    WorkerProcess,
    discard_prestarted,
    perform,
    planned,
    portable,
    started,
)

__all__ = ["Progress", "RunResult", "run"]

#: Below this many tracks a run says its numbers are rough.
SMALL_TABLE = 300

#: ``progress(stage, message)`` is called as each stage starts and reports what it does.
Progress = Callable[[str, str], None]


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
    artists: pd.DataFrame | None = None
    cleaning_report: CleaningReport | None = None
    label_report: LabelReport | None = None
    tag_report: TagJoinReport | None = None
    figures: dict[str, Path] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    computed_in: dict[str, str] = field(default_factory=dict)


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
    outputs.write_cleaning_report(result.report, state.folder)


def _stage_label(state: _State) -> None:
    cfg = state.config
    assert state.tracks is not None
    tracks = state.tracks
    if cfg.artists is not None:
        state.progress("label", f"joining artist tags from {cfg.artists}")
        state.artists = read_artists(cfg.artists, cfg.artists_mapping)
        tracks, state.tag_report = attach_artist_tags(tracks, state.artists)
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
    if len(tracks) < SMALL_TABLE:
        state.progress(
            "label",
            f"a small table ({len(tracks):,} tracks): the numbers will be rough (wide confidence intervals)",
        )
    outputs.write_labels(state.label_report, state.tag_report, state.folder)
    outputs.write_tracks(tracks, state.folder)
    state.results["extra_columns"] = list(tracks.attrs.get("extra_columns", []))


def _check_before_writing(config: RunConfig) -> Path:
    """Every check that needs no disk write: inputs readable, --out usable, the name plain."""
    check_inputs(config)
    return check_run_target(config.out, run_name_of(config))


def _selected(analysis: Analysis, config: RunConfig) -> bool:
    """Built-in stage names run when ``--stages`` names them; an analysis whose name ``--stages``
    does not know (passed to :func:`run` by its caller) always runs."""
    return analysis.name in config.stages or analysis.name not in STAGE_NAMES


def _context(state: _State, name: str) -> Context:
    assert state.tracks is not None
    return Context(tracks=state.tracks, config=state.config, label_report=state.label_report,
                   artists=state.artists, progress=lambda message: state.progress(name, message))


def _skip(state: _State, name: str, reason: str) -> None:
    state.skipped[name] = reason
    state.progress(name, f"skipped: {reason}")


def _start_workers(config: RunConfig, analyses: Sequence[Analysis]) -> list[WorkerProcess]:
    """The worker processes of a run (see :func:`hitlab.worker.planned`), pre-started ones first."""
    selected = [a for a in analyses if _selected(a, config)]
    takers = len([a for a in selected if portable(a)])
    return started(planned(config, len(selected), takers))


def _record(state: _State, analysis: Analysis, outcome: Outcome) -> None:
    """Record what one analysis gave. For ``skip_on_data_error`` analyses a :class:`DataError`
    skips them with its message and the run goes on; any other error stops the run."""
    name = analysis.name
    if outcome.error is not None:
        if isinstance(outcome.error, DataError) and analysis.skip_on_data_error:
            _skip(state, name, str(outcome.error))
            return
        raise outcome.error
    assert outcome.summary is not None
    for stem, relative in outcome.summary["files"]["figures"].items():
        state.figures[stem] = state.folder / relative
    state.results[name] = outcome.summary
    if outcome.skipped:
        state.skipped[name] = outcome.skipped


def _stops_the_run(analysis: Analysis, outcome: Outcome) -> bool:
    error = outcome.error
    return error is not None and not (isinstance(error, DataError) and analysis.skip_on_data_error)


def _run_analyses(state: _State, analyses: Sequence[Analysis], timings: dict[str, float],
                  workers: Sequence[WorkerProcess]) -> None:
    """Check, then compute and write the selected analyses: this process takes them from the
    front of the list, each worker process from the back (the last analyses are the long ones);
    what each gave is recorded in registry order, so the files do not depend on who computed it."""
    config = state.config
    todo: list[tuple[Analysis, Context]] = []
    for analysis in analyses:
        if not _selected(analysis, config):
            continue
        context = _context(state, analysis.name)
        reason = analysis.check(context) if analysis.check is not None else None
        if reason:
            _skip(state, analysis.name, reason)
            continue
        todo.append((analysis, context))
    order = [analysis for analysis, _ in todo]
    lock = threading.Lock()
    outcomes: dict[str, Outcome] = {}

    def take(front: bool) -> tuple[Analysis, Context] | None:
        with lock:
            if any(_stops_the_run(a, outcomes[a.name]) for a in order if a.name in outcomes):
                return None
            for i in (range(len(todo)) if front else range(len(todo) - 1, -1, -1)):
                if front or portable(todo[i][0]):
                    return todo.pop(i)
            return None

    def deliver(name: str, outcome: Outcome) -> None:
        with lock:
            outcomes[name] = outcome

    for worker in workers:
        worker.serve(state.folder, lambda: take(front=False), deliver, state.progress)
    while (task := take(front=True)) is not None:
        analysis, context = task
        outcome = perform(analysis, context, state.folder)
        if _stops_the_run(analysis, outcome):
            raise outcome.error  # the caller stops the workers
        deliver(analysis.name, outcome)
    for worker in workers:
        worker.wait()
    stopped = any(_stops_the_run(a, outcomes[a.name]) for a in order if a.name in outcomes)
    for analysis in order:
        if analysis.name not in outcomes:
            if stopped:
                continue  # never started: the run stops on the error below
            raise RuntimeError(f"analysis {analysis.name!r} gave no result (a hitlab bug)")
        _record(state, analysis, outcomes[analysis.name])
        # computing + writing (analyses run at once, so these may add up to more than the wall time)
        timings[analysis.name] = round(outcomes[analysis.name].seconds, 3)
    state.computed_in = {a.name: outcomes[a.name].where for a in order if a.name in outcomes}


def run(config: RunConfig | None = None, progress: Progress | None = None,
        analyses: Sequence[Analysis] = BUILTIN_ANALYSES) -> RunResult:
    """Run every stage and write ``<config.out>/<config.run_name>/``.

    The folder holds ``tracks.parquet`` (clean, labelled), ``cleaning_report.json``,
    ``labels.json``, ``figures/``, one folder per analysis (tables, ``section.json``),
    ``models/``, ``manifest.json`` and, last, ``report.html``. ``analyses`` are run in order
    after load, clean and label (see :func:`_selected` for which); each result goes to
    :mod:`hitlab.outputs`. Every option is checked before anything is written; the run
    name is locked while the run goes on (a second run of the same name fails at once);
    everything is written to a unique hidden folder that replaces an existing run of the
    same name only when the new run succeeded (see :mod:`hitlab.run_folder`). A
    modelling analysis whose data cannot be modelled (a :class:`DataError`) is recorded as
    skipped with its message; the other stages go on.
    """
    config = config or RunConfig()
    progress = progress or (lambda stage, message: None)
    try:
        _check_before_writing(config)
    except BaseException:
        discard_prestarted()
        raise
    analyses = tuple(analyses)
    with RunFolder(config.out, run_name_of(config)) as run_folder:
        assert run_folder.temp is not None
        temp = run_folder.temp
        state = _State(config=config, folder=temp, progress=progress)
        timings: dict[str, float] = {}
        workers = _start_workers(config, analyses)  # their imports overlap load and clean
        try:
            for name, stage in (("load", _stage_load), ("clean", _stage_clean), ("label", _stage_label)):
                started = time.perf_counter()
                stage(state)
                timings[name] = round(time.perf_counter() - started, 3)
            _run_analyses(state, analyses, timings, workers)
        except BaseException:
            for worker in workers:
                worker.close(failed=True)
            raise
        for worker in workers:
            worker.close()
        sections = [a.name for a in analyses if (temp / a.name / outputs.SECTION_FILE).exists()]
        outputs.write_manifest({
            "hitlab": __version__,
            "run": run_folder.name,
            "inputs": state.inputs,
            "config": config.to_dict(),
            "seed": config.seed,
            "versions": library_versions(),
            "timings_s": timings,
            "skipped": state.skipped,
            "computed_in": state.computed_in,
            "sections": sections,
        }, temp)
        if "report" in config.stages:
            # Last, as it reads everything above; report.html is therefore not in the manifest.
            progress("report", "writing report.html")
            outputs.write_report(temp, analyses)
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
