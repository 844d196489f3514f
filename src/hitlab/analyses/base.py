"""What an analysis is: a spec (:class:`Analysis`) and what it gets from a run (:class:`Context`).

An analysis is a function ``run(ctx) -> result`` from the run's tables to a plain result. It
writes nothing and knows no runner: :func:`hitlab.pipeline.run` calls each analysis of its
registry in order and hands the result to :mod:`hitlab.outputs`, which writes its tables,
figures and model, and builds its report section from the result through the analysis's own
Jinja2 template. A result offers (see :class:`AnalysisResult`):

- ``tables()``: DataFrames by name, written as ``<analysis>/<name>.csv``;
- ``figures()``: matplotlib Figures by file stem, saved as ``figures/<stem>.png``;
- ``facts`` (optional): plain values for the prose (the ``<name>.reading.j2`` template and the
  section template read them);
- ``headline_metrics()`` (optional): headline numbers, each ``{"name", "value", "ci",
  "baseline", "better"}``;
- ``skipped`` (optional): why the data cannot answer (the run goes on, the section says so).

Adding an analysis is one module (its ``run``), one template, and one :class:`Analysis` entry in
a registry (the built-in one is :data:`hitlab.analyses.registry.BUILTIN_ANALYSES`; a caller of
:func:`hitlab.pipeline.run` may pass its own tuple).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hitlab.config import RunConfig
from hitlab.labels import LabelReport
from hitlab.modeling import TaskResult
from hitlab.songs import group_labels

__all__ = ["MIN_TASK_TRACKS", "QUICK_MODEL_NOTE", "Analysis", "AnalysisResult", "Context", "SavedModelSpec"]

#: A modelling analysis with fewer tracks is skipped with a message (too few to split and tune).
MIN_TASK_TRACKS = 30
#: What a quick run's saved model is (its ``notes``): not refitted on every track, to save a fit.
QUICK_MODEL_NOTE = ("a quick run: the saved model is the chosen one as fitted on the training part "
                    "({tracks:,} tracks), not refitted on every track (a run without --quick does)")


def _silent(message: str) -> None:
    return None


@dataclass(frozen=True)
class Context:
    """What an analysis gets from the run: the clean, labelled tracks and the run's options."""

    tracks: pd.DataFrame
    config: RunConfig = field(default_factory=RunConfig)
    label_report: LabelReport | None = None
    #: The artist table of ``--artists`` (already read), or None.
    artists: pd.DataFrame | None = None
    #: ``progress(message)``: short messages while the analysis runs.
    progress: Callable[[str], None] = _silent

    def groups(self) -> np.ndarray:
        """The split group of every track (``config.group_by``: song, track or artist)."""
        return group_labels(self.tracks, self.config.group_by)

    def fit_options(self) -> dict[str, Any]:
        """The run's options every modelling analysis passes to its ``fit``."""
        cfg = self.config
        return {"budget": cfg.budget, "max_trials": cfg.trials, "seed": cfg.seed, "group_by": cfg.group_by,
                "quick": cfg.quick, "full": cfg.full, "progress": self.progress}


class AnalysisResult(Protocol):
    """What :mod:`hitlab.outputs` reads from a result (``facts``, ``headline_metrics`` and
    ``skipped`` are optional)."""

    def tables(self) -> Mapping[str, pd.DataFrame]: ...

    def figures(self) -> Mapping[str, Figure]: ...


@dataclass(frozen=True)
class SavedModelSpec:
    """A model an analysis wants saved: the fitted task and extra manifest entries."""

    fit: TaskResult
    extras: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Analysis:
    """One analysis of a run.

    Parameters
    ----------
    name
        Its stage name (``--stages``) and its folder in the run (``<name>/*.csv``).
    run
        ``run(ctx) -> result``: data in, a plain result out, nothing written.
    title
        The report section's heading.
    template
        The section's Jinja2 template: a name among :mod:`hitlab.outputs`' templates, or the
        path of a template file (its folder is searched too, for what it includes).
    reading
        Optional plain-words template (one sentence per non-empty line) rendered from the
        result's ``facts`` into the section's ``reading``: a name or a path, like ``template``.
    check
        Optional ``check(ctx) -> reason | None``: a reason to skip the analysis before it runs.
    skip_on_data_error
        A :class:`~hitlab.errors.DataError` raised by ``run`` skips the analysis with its
        message (the run goes on); otherwise it stops the run.
    model
        Optional ``model(result) -> SavedModelSpec | None``: a model to save in ``models/``.
    summary
        Optional ``summary(result) -> dict``: written as ``<name>/summary.json`` and returned in
        :attr:`hitlab.pipeline.RunResult.results`.
    """

    name: str
    run: Callable[[Context], Any]
    title: str
    template: str | Path = "_generic.html.j2"
    reading: str | Path | None = None
    check: Callable[[Context], str | None] | None = None
    skip_on_data_error: bool = False
    model: Callable[[Any], SavedModelSpec | None] | None = None
    summary: Callable[[Any], dict[str, Any]] | None = None
