"""Exploratory figures of a clean, labelled track table."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from hitlab import plots
from hitlab.schema import AUDIO_FEATURES

__all__ = ["eda_figures"]


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
