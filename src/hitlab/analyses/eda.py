"""Exploratory analysis of a clean, labelled track table: figures of the features and popularity."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure

from hitlab import plots
from hitlab.analyses.base import Context
from hitlab.schema import AUDIO_FEATURES

__all__ = ["EdaResult", "eda_figures", "run"]


def eda_figures(tracks: pd.DataFrame) -> dict[str, Figure]:
    """The EDA figures by file stem: distributions, correlations, popularity by genre and year.

    Figures that need a column the table lacks (popularity, genre, year) are left out.
    """
    numeric = [c for c in AUDIO_FEATURES if tracks[c].notna().any()]
    has_pop = "popularity" in tracks and tracks["popularity"].notna().any()
    dist_cols = [*numeric, "popularity"] if has_pop else numeric
    if "year" in tracks and tracks["year"].notna().any():
        dist_cols.append("year")
    figures = {
        "eda_distributions": plots.feature_distributions(tracks, dist_cols),
        "eda_correlations": plots.correlation_heatmap(
            tracks, [*numeric, "popularity"] if has_pop else numeric
        ),
    }
    if has_pop and "genre" in tracks and tracks["genre"].notna().any():
        figures["eda_popularity_by_genre"] = plots.popularity_by_genre(tracks)
    if has_pop and "year" in tracks and tracks["year"].notna().any():
        figures["eda_popularity_by_year"] = plots.popularity_by_year(tracks)
    return figures


@dataclass
class EdaResult:
    """The EDA figures by file stem (no tables), drawn when asked for: figures are drawn by the
    thread that writes them (pyplot is not thread-safe; analyses may compute in other threads)."""

    tracks: pd.DataFrame = field(default_factory=pd.DataFrame)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {}

    def figures(self) -> dict[str, Figure]:
        return eda_figures(self.tracks)


def run(ctx: Context) -> EdaResult:
    """The EDA of a run: :func:`eda_figures` of its tracks (drawn by :meth:`EdaResult.figures`)."""
    return EdaResult(ctx.tracks)
