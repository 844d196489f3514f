"""Figure functions: data in, a matplotlib Figure out. No file I/O here.

The outputs layer decides where figures go (:func:`hitlab.outputs.save_figure`). Every function uses the
non-interactive Agg backend, so it works on a machine without a screen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "correlation_heatmap",
    "error_by_group",
    "error_histogram",
    "error_vs_actual",
    "feature_distributions",
    "importance_bars",
    "leaderboard_chart",
    "partial_dependence_grid",
    "popularity_by_genre",
    "popularity_by_year",
    "predicted_vs_actual",
    "shap_summary",
]

PALETTE = "#1f6f8b"


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
            counts, edges = np.histogram(values.to_numpy(), bins=40)
            ax.stairs(counts, edges, fill=True, color=PALETTE)  # one artist, not 40 bars: 4x faster to draw
            ax.set_ylim(0, None)
        ax.set_title(col, fontsize=10)
        ax.tick_params(labelsize=7)
    for ax in flat[n:]:
        ax.set_visible(False)
    fig.suptitle(f"Distributions ({len(tracks):,} tracks)", fontsize=12)
    # fixed margins (inches) instead of tight_layout: measuring every tick label of the grid took
    # a second, as long as drawing it; the labels here are small and of known size
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=0.55 / width, right=1 - 0.15 / width, bottom=0.35 / height,
                        top=1 - 0.65 / height, wspace=0.3, hspace=0.5)
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


# --------------------------------------------------------------------------- models (shared by tasks)


def leaderboard_chart(board: pd.DataFrame, metric: str, label: str | None = None) -> Figure:
    """Horizontal bars of one test metric per candidate with its 95% CI; baseline grey, chosen dark."""
    data = board.iloc[::-1]
    names = [m if s == "none" else f"{m} + {s}" for m, s in zip(data["model"], data["strategy"], strict=True)]
    values = data[metric].to_numpy(float)
    low_err = values - data[f"{metric}_low"].to_numpy(float)
    err = np.vstack([low_err, data[f"{metric}_high"].to_numpy(float) - values])
    colors = ["#999999" if b else ("#0b3c5d" if c else PALETTE)
              for b, c in zip(data["baseline"], data["chosen"], strict=True)]
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(names) + 1.2))
    ax.barh(names, values, xerr=err, color=colors, capsize=3)
    low = np.nanmin(data[f"{metric}_low"].to_numpy(float))
    high = np.nanmax(data[f"{metric}_high"].to_numpy(float))
    pad = 0.15 * (high - low if high > low else 1.0)
    ax.set_xlim(low - pad, high + pad)
    ax.set_xlabel(label or metric)
    ax.set_title("Leaderboard (dark: chosen by cross-validation; grey: baseline)", fontsize=10)
    fig.tight_layout()
    return fig


def error_histogram(errors: np.ndarray, label: str = "") -> Figure:
    """Histogram of prediction errors (predicted - actual), with the mean and MAE marked."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    counts, edges = np.histogram(errors, bins=60)
    ax.stairs(counts, edges, fill=True, color=PALETTE)
    ax.set_ylim(0, None)
    ax.axvline(0, color="black", lw=0.8)
    ax.axvline(float(np.mean(errors)), color="#c0392b", lw=1, ls="--", label=f"mean {np.mean(errors):+.2f}")
    ax.set_xlabel("error (predicted - actual)")
    ax.set_ylabel("tracks")
    ax.set_title(f"Errors: MAE {np.mean(np.abs(errors)):.2f} {label}".strip(), fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def predicted_vs_actual(actual: np.ndarray, predicted: np.ndarray, label: str = "") -> Figure:
    """Hexbin of predicted against actual values, with the identity line."""
    fig, ax = plt.subplots(figsize=(5, 4.4))
    hb = ax.hexbin(actual, predicted, gridsize=40, cmap="Blues", mincnt=1)
    lo = float(min(np.min(actual), np.min(predicted)))
    hi = float(max(np.max(actual), np.max(predicted)))
    ax.plot([lo, hi], [lo, hi], color="#c0392b", lw=1, label="perfect")
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted")
    ax.set_title(f"Predicted vs actual {label}".strip(), fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.colorbar(hb, ax=ax, label="tracks")
    fig.tight_layout()
    return fig


def error_vs_actual(actual: np.ndarray, errors: np.ndarray, label: str = "") -> Figure:
    """Hexbin of error against the true value, with the mean error per 5-point bin."""
    fig, ax = plt.subplots(figsize=(6, 4))
    hb = ax.hexbin(actual, errors, gridsize=40, cmap="Blues", mincnt=1)
    bins = np.arange(np.floor(np.min(actual) / 5) * 5, np.max(actual) + 5, 5)
    which = np.digitize(actual, bins)
    centers = [(bins[i - 1] + 2.5) for i in np.unique(which)]
    means = [float(np.mean(errors[which == i])) for i in np.unique(which)]
    ax.plot(centers, means, color="#c0392b", lw=1.5, label="mean error")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("actual")
    ax.set_ylabel("error (predicted - actual)")
    ax.set_title(f"Error vs true value {label}".strip(), fontsize=10)
    ax.legend(fontsize=8)
    fig.colorbar(hb, ax=ax, label="tracks")
    fig.tight_layout()
    return fig


def error_by_group(values: np.ndarray, groups: np.ndarray, ylabel: str = "absolute error",
                   label: str = "") -> Figure:
    """Violins of a per-row value (e.g. absolute error) per group, ordered by median."""
    frame = pd.DataFrame({"v": values, "g": groups})
    order = frame.groupby("g")["v"].median().sort_values().index.tolist()
    data = [frame.loc[frame["g"] == g, "v"].to_numpy(float) for g in order]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(order) + 1), 4))
    parts = ax.violinplot(data, showmedians=True, showextrema=False)
    for body in parts["bodies"]:
        body.set_facecolor(PALETTE)
        body.set_alpha(0.6)
    ticks = [f"{g}\n(n={len(d):,})" for g, d in zip(order, data, strict=True)]
    ax.set_xticks(range(1, len(order) + 1), ticks, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{ylabel.capitalize()} by group {label}".strip(), fontsize=10)
    fig.tight_layout()
    return fig


def importance_bars(drivers: pd.DataFrame) -> Figure:
    """Permutation importance (MAE increase, with std) and, when present, mean |SHAP| per feature."""
    data = drivers.iloc[::-1]
    has_shap = "mean_abs_shap" in data.columns
    size = (10 if has_shap else 5.5, 0.3 * len(data) + 1.4)
    fig, axes = plt.subplots(1, 2 if has_shap else 1, figsize=size, sharey=True)
    axes = np.atleast_1d(axes)
    axes[0].barh(data["feature"], data["permutation_mae_increase"], xerr=data["permutation_std"],
                 color=PALETTE, capsize=2)
    axes[0].set_xlabel("MAE increase when shuffled")
    axes[0].set_title("Permutation importance (test rows)", fontsize=10)
    if has_shap:
        axes[1].barh(data["feature"], data["mean_abs_shap"], color="#e67e22")
        axes[1].set_xlabel("mean |SHAP| (popularity points)")
        axes[1].set_title("SHAP (LightGBM pred_contrib)", fontsize=10)
    fig.tight_layout()
    return fig


def shap_summary(shap: pd.DataFrame, values: pd.DataFrame, top: int = 10) -> Figure:
    """Beeswarm-like view: SHAP value per track for the top features, coloured by the feature value."""
    order = shap.abs().mean().sort_values(ascending=False).index[:top][::-1]
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(order) + 1.2))
    scatter = None
    for i, feature in enumerate(order):
        contrib = shap[feature].to_numpy(float)
        raw = values[feature]
        if pd.api.types.is_numeric_dtype(raw):
            v = raw.to_numpy(float)
            lo, hi = np.nanpercentile(v, [5, 95])
            colour = np.clip((v - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
        else:
            colour = np.full(len(contrib), 0.5)
        y = i + rng.uniform(-0.3, 0.3, len(contrib))
        scatter = ax.scatter(contrib, y, c=colour, cmap="coolwarm", s=4, alpha=0.6, vmin=0, vmax=1)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(order)), list(order), fontsize=8)
    ax.set_xlabel("SHAP value (effect on predicted popularity)")
    ax.set_title("What moves the prediction (colour: low to high feature value)", fontsize=10)
    if scatter is not None:
        fig.colorbar(scatter, ax=ax, label="feature value (scaled)")
    fig.tight_layout()
    return fig


def partial_dependence_grid(curves: pd.DataFrame, ylabel: str = "prediction") -> Figure:
    """One panel per feature: average prediction over the feature's range (partial dependence)."""
    features = list(dict.fromkeys(curves["feature"]))
    ncols = min(4, len(features))
    nrows = math.ceil(len(features) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.8 * nrows), sharey=True, squeeze=False)
    flat = axes.ravel()
    for ax, feature in zip(flat, features, strict=False):
        part = curves[curves["feature"] == feature]
        ax.plot(part["value"], part.iloc[:, 2], color=PALETTE)
        ax.set_xlabel(feature, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in flat[len(features):]:
        ax.set_visible(False)
    flat[0].set_ylabel(ylabel)
    fig.suptitle("Partial dependence of the top features", fontsize=11)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- genre


__all__ += ["confusion_matrix", "reliability_curve", "strategy_recall_chart", "top_k_chart"]


def confusion_matrix(matrix: pd.DataFrame, title: str = "") -> Figure:
    """A row-normalised confusion matrix (rows: true class, columns: predicted), shares annotated."""
    values = matrix.to_numpy(float)
    k = values.shape[0]
    size = max(4.0, 0.75 * k + 1.5)
    fig, ax = plt.subplots(figsize=(size + 0.8, size))
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1)
    labels_x = [str(c) for c in matrix.columns]
    labels_y = [str(c) for c in matrix.index]
    ax.set_xticks(range(k), labels_x, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), labels_y, fontsize=8)
    for i in range(k):
        for j in range(values.shape[1]):
            ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if values[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion (each row sums to 1){': ' + title if title else ''}", fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def strategy_recall_chart(table: pd.DataFrame) -> Figure:
    """Grouped bars: recall per genre (and the overall rows) for each imbalance strategy, with 95% CIs.

    ``table`` is tidy: ``row``, ``strategy``, ``value``, ``low``, ``high``.
    """
    rows = list(dict.fromkeys(table["row"]))
    strategies = list(dict.fromkeys(table["strategy"]))
    width = 0.8 / max(len(strategies), 1)
    colors = ["#0b3c5d", PALETTE, "#6fb1c8", "#d9822b", "#999999", "#4c9a2a"]
    fig, ax = plt.subplots(figsize=(min(11.0, max(6.5, 0.9 * len(rows) + 1.5)), 3.8))
    x = np.arange(len(rows))
    for i, strategy in enumerate(strategies):
        part = table[table["strategy"] == strategy].set_index("row").reindex(rows)
        values = part["value"].to_numpy(float)
        err = np.vstack([values - part["low"].to_numpy(float), part["high"].to_numpy(float) - values])
        ax.bar(x + (i - (len(strategies) - 1) / 2) * width, values, width, yerr=np.nan_to_num(err),
               capsize=2, label=strategy, color=colors[i % len(colors)])
    ax.set_xticks(x, [r.removeprefix("recall: ") for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share right (95% CI)")
    ax.legend(fontsize=8, ncol=len(strategies), loc="upper center", bbox_to_anchor=(0.5, 1.15), frameon=False)
    fig.tight_layout()
    return fig


def top_k_chart(table: pd.DataFrame) -> Figure:
    """Top-k accuracy (k = 1, 2, 3) with 95% CIs, beside chance (k / classes)."""
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ks = table["k"].to_numpy(int)
    values = table["accuracy"].to_numpy(float)
    err = np.vstack([values - table["low"].to_numpy(float), table["high"].to_numpy(float) - values])
    ax.bar([str(k) for k in ks], values, yerr=np.nan_to_num(err), capsize=3, color=PALETTE, label="model")
    ax.plot([str(k) for k in ks], table["chance"].to_numpy(float), "o--", color="#999999", label="chance")
    for k, v in zip(ks, values, strict=True):
        ax.text(str(k), v / 2, f"{v:.2f}", ha="center", color="white", fontsize=9)
    ax.set_ylim(0, 1)
    ax.set_xlabel("k (guesses)")
    ax.set_ylabel("true genre among the top k")
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def reliability_curve(table: pd.DataFrame, ece: float, label: str = "") -> Figure:
    """Reliability curve: share right vs stated confidence per bin (point size: tracks);
    the diagonal is perfect calibration."""
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    ax.plot([0, 1], [0, 1], "--", color="#999999", label="perfectly calibrated")
    sizes = table["tracks"].to_numpy(float)
    scale = 300 / max(sizes.max(initial=1.0), 1.0)
    ax.plot(table["mean_confidence"], table["accuracy"], "-", color=PALETTE)
    ax.scatter(table["mean_confidence"], table["accuracy"], s=20 + sizes * scale, color=PALETTE, alpha=0.8,
               label=f"{label} (ECE {ece:.3f})" if label else f"ECE {ece:.3f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("stated confidence (top guess)")
    ax.set_ylabel("share right")
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    fig.tight_layout()
    return fig
