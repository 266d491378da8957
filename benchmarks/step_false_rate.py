"""How often does step detection see a step that is not there, and find one that is?

Synthetic series of run medians with 5% log-normal noise between runs (what back-to-back runs of
one case show on the shared 2-core VM), fitted exactly as `labench history` does (min change 5%):

- flat: noise only;
- isolated outliers: three runs 30-80% slower, never two within three runs of each other;
- 5% outliers: each run independently has a 5% chance of being 30-80% slower (so sometimes two
  outliers sit side by side, which no detector can tell from a short slower level);
- 15% step: a step of 15% at a random run (not in the first or last three), to measure power and
  where the step is placed (the exact run, or within one).

Prints, per series length, the share of series with at least one (false) step, and for the
step series the share found, found at the exact run, and found within one run.
Run: python benchmarks/step_false_rate.py [SERIES_PER_CELL] [SEED]   (about 20 s at 200)
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

from labench.judge.steps import detect_steps

NOISE = 0.05
MIN_CHANGE = 0.05


def flat(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.exp(NOISE * rng.standard_normal(n))


def isolated_outliers(rng: np.random.Generator, n: int) -> np.ndarray:
    series = flat(rng, n)
    count = min(3, max(1, (n - 2) // 4))
    while True:
        where = np.sort(rng.choice(np.arange(1, n - 1), count, replace=False))
        if np.all(np.diff(where) > 3):
            break
    series[where] *= 1 + rng.uniform(0.3, 0.8, count)
    return series


def random_outliers(rng: np.random.Generator, n: int) -> np.ndarray:
    series = flat(rng, n)
    hit = rng.random(n) < 0.05
    series[hit] *= 1 + rng.uniform(0.3, 0.8, int(hit.sum()))
    return series


def false_rate(
    make: Callable[[np.random.Generator, int], np.ndarray],
    rng: np.random.Generator,
    n: int,
    count: int,
) -> float:
    return (
        sum(bool(detect_steps(make(rng, n), min_change=MIN_CHANGE).steps) for _ in range(count))
        / count
    )


def power(rng: np.random.Generator, n: int, count: int) -> tuple[float, float, float]:
    found = exact = near = 0
    for _ in range(count):
        at = int(rng.integers(3, n - 3))
        series = flat(rng, n)
        series[at:] *= 1.15
        steps = detect_steps(series, min_change=MIN_CHANGE).steps
        found += bool(steps)
        exact += any(step.index == at for step in steps)
        near += any(abs(step.index - at) <= 1 for step in steps)
    return found / count, exact / count, near / count


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    print(
        f"{count} synthetic series per cell, {NOISE:.0%} noise, "
        f"steps under {MIN_CHANGE:.0%} ignored"
    )
    print(
        f"{'runs':>5} | {'false: flat':>11} {'isolated outl.':>14} {'5% outliers':>11} | "
        f"{'15% step: found':>15} {'exact run':>9} {'within 1':>8}"
    )
    for n in (10, 30, 100):
        rates = [
            false_rate(make, rng, n, count) for make in (flat, isolated_outliers, random_outliers)
        ]
        found, exact, near = power(rng, n, count)
        print(
            f"{n:>5} | {rates[0]:>11.1%} {rates[1]:>14.1%} {rates[2]:>11.1%} | "
            f"{found:>15.1%} {exact:>9.1%} {near:>8.1%}"
        )


if __name__ == "__main__":
    main()
