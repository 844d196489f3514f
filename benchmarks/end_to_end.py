"""Benchmark: wall time of the whole ``hitlab run`` on the built-in data.

Runs the real command twice in fresh subprocesses (so imports count, as for a user):
with the default settings and with ``--quick``. Targets on 2 cores (issue 16): default
60 s or less, ``--quick`` 20 s or less. Also prints the CPU seconds of each run and the load
average before and after it (the cores may be shared: compare like with like).

Also prints, before and after each run, the seconds of a fixed pure-Python loop on one core
(``speed s``; about 1.6 s on this 2-core VM when its host is quiet): when the host is busy the
loop slows too, and the run's wall time is not comparable.

Run: ``python benchmarks/end_to_end.py [--only quick|default] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {"default": [], "quick": ["--quick"]}
TARGETS = {"default": 60.0, "quick": 20.0}


def speed() -> float:
    """Seconds of a fixed pure-Python loop (the host's speed right now)."""
    started = time.perf_counter()
    total = 0
    for i in range(30_000_000):
        total += i
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(CASES))
    parser.add_argument("--repeat", type=int, default=1, help="runs of each case, interleaved")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in [item for _ in range(args.repeat) for item in CASES.items()]:
            if args.only and name != args.only:
                continue
            shutil.rmtree(Path(tmp) / name, ignore_errors=True)
            speed_before = speed()
            load_before = os.getloadavg()[0]
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "hitlab", "run", "--out", tmp, "--name", name, *extra],
                check=True,
                capture_output=True,
                text=True,
            )
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)
            manifest = json.loads((Path(tmp) / name / "manifest.json").read_text())
            timings = {**manifest["timings_s"], "cpu s": cpu, "loadavg": load_before,
                       "speed s": speed_before, "speed s after": speed()}
            rows.append((name, wall, timings))
    stages = sorted(
        {s for _, _, t in rows for s in t}, key=lambda s: list(rows[0][2]).index(s) if s in rows[0][2] else 99
    )
    print(f"{'run':<9} {'wall s':>8} {'target s':>9} {'met':>4}  " + " ".join(f"{s:>10}" for s in stages))
    for name, wall, timings in rows:
        met = "yes" if wall <= TARGETS[name] else "NO"
        cells = " ".join(f"{timings.get(s, 0):>10.1f}" for s in stages)
        print(f"{name:<9} {wall:>8.1f} {TARGETS[name]:>9.0f} {met:>4}  {cells}")


if __name__ == "__main__":
    main()
