"""Benchmark: load + clean + label, on the built-in data and on 1M generated rows.

The 1M-row input is GENERATED: rows resampled with replacement from the real built-in
rows, each given the id ``<real id>-<k>`` with k drawn from 0..39, so that about a third of
the generated rows repeat an earlier id (with identical features, as real repeated
tracks do) and must be merged (1M rows give about 640k tracks). It is written to a
temporary Parquet file first; each measurement then runs in a fresh subprocess so that
its peak memory (ru_maxrss) is its own.

The third case writes the same generated rows as a messy CSV, the way public dumps do
(semicolons, a byte-order mark, CRLF, keys as note names, modes as words, the 0-1 features
on a 0-100 scale, durations in seconds), read with every convention detected.

Run: ``python benchmarks/clean.py [--rows 1000000]``. Target: 1M rows in under 20 s on
2 cores and under 4 GB peak.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from hitlab import clean
from hitlab.datasets import load_tidytuesday, read_tracks
from hitlab.labels import label_tracks
t_import = time.perf_counter()
path = sys.argv[1]
tracks = load_tidytuesday() if path == "builtin" else read_tracks(path)
t_load = time.perf_counter()
result = clean(tracks)
t_clean = time.perf_counter()
labelled, _ = label_tracks(result.tracks, "playlist")
t_label = time.perf_counter()
print(json.dumps({
    "rows_in": len(tracks), "tracks_out": len(labelled),
    "load_s": t_load - t_import, "clean_s": t_clean - t_load, "label_s": t_label - t_clean,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def generate(rows: int, path: Path, seed: int = 0) -> None:
    from hitlab.datasets import load_tidytuesday

    raw = load_tidytuesday(raw=True)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(raw), size=rows)
    frame = raw.iloc[picks].reset_index(drop=True)
    frame["track_id"] = frame["track_id"] + "-" + rng.integers(0, 40, size=rows).astype(str)
    frame.to_parquet(path, index=False)


NOTES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
UNIT = ["danceability", "energy", "speechiness", "acousticness", "instrumentalness", "liveness", "valence"]


def write_messy(parquet: Path, path: Path) -> None:
    import pandas as pd

    frame = pd.read_parquet(parquet)
    keys = frame["key"].to_numpy()
    frame["key"] = np.where(keys >= 0, np.asarray(NOTES, dtype=object)[np.clip(keys, 0, 11)], "")
    frame["mode"] = np.where(frame["mode"].to_numpy() == 1, "Major", "Minor")
    for column in UNIT:
        frame[column] = (frame[column] * 100).round(2)
    frame["duration_ms"] = (frame["duration_ms"] / 1000).round(3)
    frame.to_csv(path, sep=";", index=False, lineterminator="\r\n", encoding="utf-8-sig")


def measure(path: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, path], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp) / "generated.parquet"
        generate(args.rows, generated)
        messy = Path(tmp) / "generated-messy.csv"
        write_messy(generated, messy)
        cases = [
            ("built-in TidyTuesday (real)", "builtin"),
            (f"{args.rows:,} rows (generated)", str(generated)),
            (f"{args.rows:,} rows, messy CSV (gen.)", str(messy)),
        ]
        print(
            f"{'input':<32} {'rows in':>10} {'tracks out':>10} {'load s':>7} {'clean s':>8} {'label s':>8} "
            f"{'total s':>8} {'rows/s':>10} {'peak MB':>8}"
        )
        for label, path in cases:
            r = measure(path)
            total = r["load_s"] + r["clean_s"] + r["label_s"]
            print(
                f"{label:<32} {r['rows_in']:>10,} {r['tracks_out']:>10,} "
                f"{r['load_s']:>7.2f} {r['clean_s']:>8.2f} {r['label_s']:>8.2f} {total:>8.2f} "
                f"{r['rows_in'] / total:>10,.0f} {r['peak_mb']:>8,.0f}"
            )


if __name__ == "__main__":
    main()
