"""Figures of the eras and label-quality analyses: data in, a matplotlib Figure out, no file I/O."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

PALETTE = "#1f6f8b"


def _panels(n: int, ncols: int = 3, size: tuple[float, float] = (3.6, 2.8)) -> tuple[Figure, np.ndarray]:
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    flat = axes.ravel()
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat


def staleness_chart(staleness: pd.DataFrame) -> Figure:
    """Per task, the loss from staleness (forward minus random; 95% CI) by origin, one line per gap."""
    tasks = list(dict.fromkeys(staleness["task"])) if len(staleness) else []
    fig, axes = _panels(max(1, len(tasks)), ncols=2, size=(5.2, 3.4))
    for ax, task in zip(axes, tasks, strict=False):
        part = staleness[staleness["task"] == task]
        scale = 1.0 if task == "popularity" else 100.0
        for k, (gap, rows) in enumerate(part.groupby("gap", sort=False)):
            x = rows["origin"].to_numpy(float) + 0.12 * k
            y = rows["loss"].to_numpy(float) * scale
            err = np.vstack(
                [y - rows["loss_low"].to_numpy(float) * scale, rows["loss_high"].to_numpy(float) * scale - y]
            )
            ax.errorbar(x, y, yerr=err, marker="o", ms=3, capsize=2, lw=1, label=gap)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel("trained on tracks up to (year)")
        ax.set_ylabel("MAE points lost" if task == "popularity" else "accuracy points lost")
        ax.set_title(f"{task}: forward vs random split", fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def drivers_by_window(drivers: pd.DataFrame) -> Figure:
    """Permutation importance per feature, one bar per era window, with 95% CIs."""
    windows = list(dict.fromkeys(drivers["window"]))
    latest = drivers[drivers["window"] == windows[-1]].sort_values("permutation_mae_increase")
    features = latest["feature"].tolist()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(features) * max(1, len(windows)) / 2 + 1.5))
    height = 0.8 / len(windows)
    for k, window in enumerate(windows):
        part = drivers[drivers["window"] == window].set_index("feature").loc[features]
        y = np.arange(len(features)) + k * height - 0.4 + height / 2
        v = part["permutation_mae_increase"].to_numpy(float)
        err = np.vstack(
            [v - part["permutation_low"].to_numpy(float), part["permutation_high"].to_numpy(float) - v]
        )
        ax.barh(y, v, height=height, xerr=np.clip(err, 0, None), capsize=1.5, label=window)
    ax.set_yticks(range(len(features)), features, fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("MAE increase when shuffled (held-out tracks of the window)")
    ax.set_title("Drivers of popularity per era window", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def partial_dependence_by_window(curves: pd.DataFrame) -> Figure:
    """One panel per feature, one partial-dependence line per era window (same grid)."""
    features = list(dict.fromkeys(curves["feature"]))
    fig, axes = _panels(len(features), ncols=4, size=(3.3, 2.8))
    for ax, feature in zip(axes, features, strict=False):
        part = curves[curves["feature"] == feature]
        for window, rows in part.groupby("window", sort=False):
            ax.plot(rows["value"], rows["predicted_popularity"], label=window, lw=1.2)
        ax.set_xlabel(feature, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("predicted popularity")
    axes[0].legend(fontsize=6)
    fig.suptitle("Partial dependence per era window", fontsize=11)
    fig.tight_layout()
    return fig


def drift_chart(drift: pd.DataFrame) -> Figure:
    """One panel per feature: median and 10th-90th percentile of each era window."""
    features = list(dict.fromkeys(drift["feature"]))
    fig, axes = _panels(len(features), ncols=4, size=(3.2, 2.6))
    for ax, feature in zip(axes, features, strict=False):
        part = drift[drift["feature"] == feature]
        x = np.arange(len(part))
        med = part["median"].to_numpy(float)
        err = np.vstack([med - part["q10"].to_numpy(float), part["q90"].to_numpy(float) - med])
        ax.errorbar(x, med, yerr=np.clip(err, 0, None), fmt="o", color=PALETTE, capsize=3)
        ax.set_xticks(x, part["window"].tolist(), rotation=45, fontsize=6)
        ax.set_title(feature, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle("Feature distributions per era window (median, 10th-90th percentile)", fontsize=11)
    fig.tight_layout()
    return fig


def wrong_labels_chart(per_genre: pd.DataFrame) -> Figure:
    """Estimated share of wrong labels per genre (95% CI) and the share flagged."""
    data = per_genre.sort_values("estimated_wrong_share")
    fig, ax = plt.subplots(figsize=(6.5, 0.4 * len(data) + 1.5))
    v = data["estimated_wrong_share"].to_numpy(float) * 100
    err = np.vstack(
        [v - data["share_low"].to_numpy(float) * 100, data["share_high"].to_numpy(float) * 100 - v]
    )
    y = np.arange(len(data))
    ax.barh(
        y - 0.2,
        v,
        height=0.4,
        xerr=np.clip(err, 0, None),
        capsize=2,
        color=PALETTE,
        label="estimated wrong (confident joint)",
    )
    ax.barh(
        y + 0.2,
        data["flagged_share"].to_numpy(float) * 100,
        height=0.4,
        color="#e67e22",
        label="flagged tracks",
    )
    ax.set_yticks(y, data["genre"].tolist())
    ax.set_xlabel("% of the genre's tracks")
    ax.set_title("How many labels are likely wrong, per given genre", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def cleaning_chart(cleaning: pd.DataFrame) -> Figure:
    """Accuracy with and without the flagged training tracks, per test set, with 95% CIs."""
    fig, ax = plt.subplots(figsize=(6.5, 0.6 * len(cleaning) + 1.6))
    y = np.arange(len(cleaning))
    for k, (what, colour) in enumerate((("all", PALETTE), ("cleaned", "#e67e22"))):
        v = cleaning[f"accuracy_{what}"].to_numpy(float) * 100
        err = np.vstack(
            [
                v - cleaning[f"accuracy_{what}_low"].to_numpy(float) * 100,
                cleaning[f"accuracy_{what}_high"].to_numpy(float) * 100 - v,
            ]
        )
        ax.barh(
            y + (k - 0.5) * 0.4,
            v,
            height=0.4,
            xerr=np.clip(err, 0, None),
            capsize=2,
            color=colour,
            label="trained on all" if what == "all" else "trained without flagged tracks",
        )
    ax.set_yticks(y, cleaning["test_tracks"].tolist())
    ax.set_xlabel("accuracy on test tracks (%)")
    ax.set_title("Does removing the flagged tracks help?", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
