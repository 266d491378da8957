"""Whether this machine's speed changes while one process runs: one small kernel, one process,
one thread, timed in short windows.

The kernel is one_case's elementwise update (`x = x * 0.999 + y`, 20 times, on vectors of n
float64). Each window's median call time is one reading; a process that keeps its placement
for its whole life should give the same reading in every window. If the 95th percentile of the
readings exceeds the 5th by more than --gap, the script splits them at the geometric mean of
the two and reports both levels, how many windows each took, and how long the runs of
consecutive windows at one level lasted (a window that straddles a change reads in between).

Run: python benchmarks/speed_windows.py [--seconds 20] [--window 0.1] [--n 256]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import numpy as np


def window(x0: np.ndarray, y: np.ndarray, seconds: float) -> float:
    """The median call time, in microseconds, of the update over `seconds`."""
    times = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        begin = time.perf_counter()
        x = x0
        for _ in range(20):
            x = x * 0.999 + y
        times.append(time.perf_counter() - begin)
    return statistics.median(times) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--window", type=float, default=0.1)
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--gap", type=float, default=1.3, help="Ratio that splits two levels.")
    options = parser.parse_args()
    rng = np.random.default_rng(0)
    x0, y = rng.standard_normal(options.n), rng.standard_normal(options.n)
    readings = [
        window(x0, y, options.window) for _ in range(round(options.seconds / options.window))
    ]
    ordered = sorted(readings)
    low, high = np.percentile(ordered, [5, 95])
    ratio, split = high / low, float(np.sqrt(low * high))
    print(
        f"{len(readings)} windows of {options.window:g} s: median call {ordered[0]:.1f} to "
        f"{ordered[-1]:.1f} us (median {statistics.median(ordered):.1f})"
    )
    if ratio < options.gap:
        print(f"one level: the 95th percentile is x{ratio:.2f} the 5th")
        return 0
    fast = [value for value in readings if value < split]
    slow = [value for value in readings if value >= split]
    runs = [
        len(list(group)) * options.window
        for _, group in itertools.groupby(value < split for value in readings)
    ]
    print(
        f"two levels (95th percentile x{ratio:.2f} the 5th), split at {split:.1f} us: "
        f"{len(fast)} windows at median "
        f"{statistics.median(fast):.1f} us, {len(slow)} at median {statistics.median(slow):.1f} "
        f"us (x{statistics.median(slow) / statistics.median(fast):.2f}); runs at one level "
        f"lasted {min(runs):.1f} to {max(runs):.1f} s (median {statistics.median(runs):.1f} s)"
    )
    print(" ".join("F" if value < split else "s" for value in readings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
