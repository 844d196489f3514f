"""Benchmark: the eras analysis on the full built-in data (cleaned, playlist labels, seed 42).

Prints the staleness table (forward-in-time vs a random split of the same size, per origin and
distance, MAE for popularity and accuracy for genre, each with its bootstrap 95% CI and the paired
CI of the loss), the headline (trained up to 2015, scored on 2018-2020), the popularity cohorts,
the drivers per era window and the changes whose CI excludes 0, the largest feature shifts, and
the wall time of ``hitlab.analyses.eras.analyse`` plus drawing its figures.

Run: ``python benchmarks/eras.py [--step 2] [--window 10] [--n-boot 1000]``.
"""

from __future__ import annotations

import argparse
import time

import matplotlib.pyplot as plt
import pandas as pd

from hitlab import clean
from hitlab.analyses import eras
from hitlab.datasets import load_tidytuesday
from hitlab.labels import label_tracks
from hitlab.outputs import reading


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=2)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--n-boot", type=int, default=1000)
    args = parser.parse_args()
    tracks, _ = label_tracks(clean(load_tidytuesday()).tracks, "playlist")
    started = time.perf_counter()

    def say(message: str) -> None:
        print(f"  [{time.perf_counter() - started:6.1f} s] {message}", flush=True)

    result = eras.analyse(tracks, step=args.step, window=args.window, n_boot=args.n_boot, progress=say)
    analysed = time.perf_counter() - started
    figures = result.figures()
    plt.close("all")
    total = time.perf_counter() - started
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.max_rows", 200)
    pd.set_option("display.float_format", lambda v: f"{v:.3f}")
    if result.skipped:
        print("skipped:", result.skipped)
        return
    s = result.staleness
    print(f"\n# Staleness ({len(tracks):,} tracks, years {result.years[0]}-{result.years[1]})")
    for task, part in s.groupby("task", sort=False):
        print(f"\n## {task} ({part['metric'].iloc[0]}; loss = how much worse the forward model is)")
        print(part[["origin", "train_tracks", "gap", "test_years", "test_tracks", "forward", "forward_low",
                    "forward_high", "random", "loss", "loss_low", "loss_high", "real", "baseline"]]
              .to_string(index=False))
    print("\n# Headline")
    for task, row in result.headline.items():
        print(f"{task}: trained {row['trained_on']} ({row['train_tracks']:,} tracks), scored on "
              f"{row['test_years']} ({row['test_tracks']:,}): forward {row['metric']} {row['forward']:.3f} "
              f"[{row['forward_low']:.3f}, {row['forward_high']:.3f}], random split {row['random']:.3f} "
              f"[{row['random_low']:.3f}, {row['random_high']:.3f}], loss {row['loss']:.3f} "
              f"[{row['loss_low']:.3f}, {row['loss_high']:.3f}]")
    print("\n# Popularity by era (cohorts)")
    print(result.windows.to_string(index=False))
    d = result.drivers
    print("\n# Drivers per window: permutation MAE increase [95% CI]")
    wide = d.assign(cell=d.apply(lambda r: f"{r.permutation_mae_increase:.2f} [{r.permutation_low:.2f}, "
                                           f"{r.permutation_high:.2f}]", axis=1))
    print(wide.pivot(index="feature", columns="window", values="cell").to_string())
    c = result.driver_changes
    print("\n# Changes whose CI excludes 0 (permutation importance)")
    print(c[c["permutation_real"]][["feature", "from", "to", "permutation_change", "permutation_change_low",
                                    "permutation_change_high"]].to_string(index=False))
    print("\n# Largest feature shifts (earliest vs latest window)")
    for line in result.shifts_in_words:
        print(" -", line)
    print("\n# Reading")
    for line in reading("eras.reading.j2", result.facts):
        print(" ", line)
    for note in result.notes:
        print("note:", note)
    print(f"\nfigures: {', '.join(figures)}")
    print(f"wall time: analyse {analysed:.1f} s, with figures {total:.1f} s")


if __name__ == "__main__":
    main()
