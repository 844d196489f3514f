"""Figure functions: data in, a matplotlib Figure out. No file I/O here.

The pipeline decides where figures go (:func:`save_figure`). Every function uses the
non-interactive Agg backend, so it works on a machine without a screen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "correlation_heatmap",
    "feature_distributions",
    "popularity_by_genre",
    "popularity_by_year",
    "save_figure",
]

PALETTE = "#1f6f8b"


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write a figure (PNG or SVG by suffix), reproducibly, and close it."""
    path = Path(path)
    metadata = {"Software": None} if path.suffix == ".png" else {"Date": None, "Creator": None}
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata=metadata)
    plt.close(fig)
    return path


def feature_distributions(tracks: pd.DataFrame, columns: Sequence[str]) -> Figure:
    """A grid of histograms, one per numeric column (discrete columns as bar counts)."""
    n = len(columns)
    ncols = 4
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.4 * nrows))
    flat = np.atleast_1d(axes).ravel()
    for ax, col in zip(flat, columns, strict=False):
        values = tracks[col].dropna().astype(float)
        if values.nunique() <= 13:
            counts = values.value_counts().sort_index()
            ax.bar([f"{v:g}" for v in counts.index], counts.to_numpy(), color=PALETTE)
            ax.tick_params(axis="x", labelsize=7)
        else:
            ax.hist(values.to_numpy(), bins=40, color=PALETTE)
        ax.set_title(col, fontsize=10)
        ax.tick_params(labelsize=7)
    for ax in flat[n:]:
        ax.set_visible(False)
    fig.suptitle(f"Distributions ({len(tracks):,} tracks)", fontsize=12)
    fig.tight_layout()
    return fig


def correlation_heatmap(tracks: pd.DataFrame, columns: Sequence[str]) -> Figure:
    """Pearson correlations between the given numeric columns, annotated."""
    corr = tracks[list(columns)].astype(float).corr()
    size = max(5.0, 0.55 * len(columns))
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(corr.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(columns)), columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(columns)), columns, fontsize=8)
    for i in range(len(columns)):
        for j in range(len(columns)):
            value = corr.iat[i, j]
            ax.text(
                j,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=6,
                color="white" if abs(value) > 0.5 else "black",
            )
    fig.colorbar(image, ax=ax, shrink=0.8, label="Pearson r")
    ax.set_title("Correlation between audio features and popularity")
    fig.tight_layout()
    return fig


def popularity_by_genre(tracks: pd.DataFrame, genre: str = "genre") -> Figure:
    """Box plots of popularity per genre label, ordered by median."""
    data = tracks[[genre, "popularity"]].dropna()
    order = data.groupby(genre)["popularity"].median().sort_values(ascending=False).index.tolist()
    groups = [data.loc[data[genre] == g, "popularity"].astype(float).to_numpy() for g in order]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(order)), 4))
    ax.boxplot(groups, showfliers=False)
    ax.set_xticks(
        range(1, len(order) + 1),
        [f"{g}\n(n={len(v):,})" for g, v in zip(order, groups, strict=True)],
        fontsize=8,
    )
    ax.set_ylabel("popularity")
    ax.set_title("Popularity by genre")
    fig.tight_layout()
    return fig


def popularity_by_year(tracks: pd.DataFrame) -> Figure:
    """Median and quartiles of popularity per release year, with the track count below."""
    data = tracks[["year", "popularity"]].dropna().astype(float)
    stats = data.groupby("year")["popularity"].describe()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True, height_ratios=[3, 1])
    top.fill_between(stats.index, stats["25%"], stats["75%"], alpha=0.3, color=PALETTE, label="quartiles")
    top.plot(stats.index, stats["50%"], color=PALETTE, label="median")
    top.set_ylabel("popularity")
    top.legend(fontsize=8)
    top.set_title("Popularity by release year")
    bottom.bar(stats.index, stats["count"], color="grey")
    bottom.set_ylabel("tracks")
    bottom.set_xlabel("release year")
    fig.tight_layout()
    return fig
