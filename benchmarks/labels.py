"""Benchmark: the label-quality analysis on the full built-in data (cleaned, playlist labels,
artist tags from the shared 160k artists table, seed 42).

Prints the out-of-fold accuracy, the estimated wrong labels per genre, the 20 most confident
flags, "does cleaning help?" (accuracy with and without the flagged training tracks, on held-out
tracks whose playlist genre the artist tags confirm, contradict, and all), the multi-label view,
the tag vocabulary report, and the wall time of ``hitlab.analyses.label_quality.analyse``.

Run: ``python benchmarks/labels.py [--artists PATH] [--n-splits 5] [--n-boot 1000]``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from hitlab import clean
from hitlab.analyses import label_quality
from hitlab.datasets import load_tidytuesday, read_artists
from hitlab.labels import label_tracks
from hitlab.outputs import reading

ROOT = Path(__file__).resolve().parents[1]
ARTISTS = Path(os.environ.get("HITLAB_SHARED_DATA", ROOT.parent / "shared" / "data")) / \
    "spotify-160k-artist-genres" / "data_w_genres.parquet"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artists", type=Path, default=ARTISTS)
    parser.add_argument("--n-splits", type=int, default=5)
    parser.add_argument("--n-boot", type=int, default=1000)
    args = parser.parse_args()
    tracks, _ = label_tracks(clean(load_tidytuesday()).tracks, "playlist")
    artists = read_artists(args.artists) if args.artists.exists() else None
    if artists is None:
        print(f"artists table not found at {args.artists}: cleaning is scored on all test tracks")
    started = time.perf_counter()
    result = label_quality.analyse(
        tracks, artists=artists, n_splits=args.n_splits, n_boot=args.n_boot,
        progress=lambda m: print(f"  [{time.perf_counter() - started:6.1f} s] {m}", flush=True))
    analysed = time.perf_counter() - started
    figures = result.figures()
    plt.close("all")
    total = time.perf_counter() - started
    pd.set_option("display.width", 220)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.max_colwidth", 40)
    pd.set_option("display.float_format", lambda v: f"{v:.3f}")
    acc = result.accuracy
    print(f"\n# Out-of-fold accuracy ({len(result.out_of_fold):,} tracks, {len(result.folds)} grouped "
          f"folds): {acc.value:.3f} [{acc.low:.3f}, {acc.high:.3f}]; "
          f"majority baseline {result.baseline_accuracy:.3f}")
    print(f"\n# Wrong labels per genre (flagged: {len(result.flagged):,} tracks)")
    print(result.per_genre.to_string(index=False))
    print("\n# The 20 most confident flags")
    print(result.flagged.head(20)[["rank", "track_name", "artist_name", "given", "suggested", "confidence",
                                   "all_labels", "link"]].to_string(index=False))
    print("\n# Does cleaning help?")
    print(result.cleaning.to_string(index=False))
    print("\n# Several genres per track")
    print(result.multi_label.to_string(index=False))
    if len(result.tag_vocabulary):
        print("\n# Tag vocabulary: top 5 tags per main genre")
        print(result.tag_vocabulary.groupby("main_genre").head(5).to_string(index=False))
        print("\n# Ties")
        print(result.tag_ties.head(10).to_string(index=False))
        print("\n# Tag main genre vs playlist genre")
        print(result.tag_disagreements.pivot(index="tag_genre", columns="playlist_genre", values="tracks")
              .fillna(0).astype(int).to_string())
    print("\n# Reading")
    for line in reading("label_quality.reading.j2", result.facts):
        print(" ", line)
    print(f"\nfigures: {', '.join(figures)}")
    print(f"wall time: analyse {analysed:.1f} s, with figures {total:.1f} s")


if __name__ == "__main__":
    main()
