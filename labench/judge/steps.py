"""Step detection in a series of runs: where did a case's time change level, and by how much?

Pure numerics (no files, no printing), after the approach of asv's `step_detect`: the series
is fitted by a piecewise-constant function minimising a weighted L1 misfit plus a penalty per
step (a Potts problem), solved exactly by dynamic programming. What is ours:

- Times are fitted on a log scale, so a step is a ratio and the noise is relative.
- The noise model has two parts. Each run's own uncertainty: the spread of its per-process
  medians when it was measured in several processes (`run --processes`: the placement lottery,
  seen directly), else the width of its median's CI. And the noise between runs, which a single
  run cannot see: estimated from the series itself, robustly, as the median absolute difference
  of successive runs (a step moves one difference, an outlier two, neither moves the median).
  Each run's weight is 1 / sqrt(between**2 + own**2).
- L1 misfit: an outlier pulls a level by its rank, not its size.
- A level holds at least two runs, so one odd run is an outlier, never a level of its own. The
  newest run may start a level alone (a CI gate must see a regression the day it lands), but only
  with the evidence an interior outlier would need: twice the penalty.
- Penalty: `PENALTY_PER_LOG_RUN * ln(n)` in units of the noise (a Schwarz-style criterion, as
  asv's), its constant calibrated on synthetic flat series; benchmarks/step_false_rate.py
  measures the false-step rate it gives.

Each step's ratio carries a 95% CI from the noise model: a level's standard error is that of a
weighted median, sqrt(pi/2) / sqrt(sum of weights**2).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PENALTY_PER_LOG_RUN = 1.6
MIN_LEVEL_RUNS = 2
NOISE_FLOOR = 0.002
"""Smallest relative noise assumed (0.2%): identical repeated times must not make every
difference infinitely significant."""
MEDIAN_EFFICIENCY = math.sqrt(math.pi / 2)
Z95 = 1.959964


@dataclass(frozen=True)
class Step:
    index: int
    """Position of the first run on the new level."""
    before: float
    after: float
    ratio: float
    """after / before: above 1 is slower."""
    ci95: tuple[float, float]


@dataclass(frozen=True)
class Fit:
    levels: list[tuple[int, int, float]]
    """(first, stop, level in seconds) for each level, stop exclusive, in order."""
    steps: list[Step]
    noise: list[float]
    """Relative noise assumed for each run (between-run and the run's own, combined)."""


def run_spread(
    process_medians: Sequence[float] = (),
    ci95: tuple[float, float] | None = None,
    median: float | None = None,
) -> float:
    """A run's own relative standard error: from the spread of its per-process medians when it
    has at least three, else from its median's 95% CI, else 0 (unknown: the between-run noise
    estimated from the series covers it)."""
    if len(process_medians) >= 3:
        logs = np.log(np.asarray(process_medians, dtype=float))
        spread = 1.4826 * float(np.median(np.abs(logs - np.median(logs))))
        return MEDIAN_EFFICIENCY * spread / math.sqrt(len(logs))
    if ci95 is not None and median and ci95[0] > 0:
        return (math.log(ci95[1]) - math.log(ci95[0])) / (2 * Z95)
    return 0.0


def between_run_noise(logs: np.ndarray, own: np.ndarray) -> float:
    """Noise between runs beyond their own: successive differences hold both; their median
    absolute value is untouched by a few steps and outliers."""
    if len(logs) < 3:
        return 0.0
    total = 1.4826 * float(np.median(np.abs(np.diff(logs)))) / math.sqrt(2)
    return math.sqrt(max(total**2 - float(np.median(own**2)), 0.0))


def _segment_costs(logs: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted L1 misfit and level (weighted median) of every segment [first, stop).

    All the segments from one start at once, as matrices: row k is the segment of k + 1 runs.
    O(n^3) numbers in all, but in numpy: the whole fit of 400 runs takes under a second on
    the 2-core VM, five times less than one segment at a time."""
    n = len(logs)
    cost = np.full((n, n + 1), np.inf)
    level = np.zeros((n, n + 1))
    for first in range(n):
        values, w = logs[first:], weights[first:]
        m = len(values)
        order = np.argsort(values, kind="stable")
        inside = order[None, :] <= np.arange(m)[:, None]
        cumulative = np.cumsum(inside * w[order][None, :], axis=1)
        middle = values[order][np.argmax(cumulative >= cumulative[:, -1:] / 2, axis=1)]
        within = np.tri(m, dtype=bool)
        misfit = np.abs(values[None, :] - middle[:, None]) * w[None, :]
        level[first, first + 1 :] = middle
        cost[first, first + 1 :] = np.where(within, misfit, 0.0).sum(axis=1)
    return cost, level


def _allowed(first: int, stop: int, n: int) -> bool:
    return stop - first >= MIN_LEVEL_RUNS or (stop == n and first > 0) or n < MIN_LEVEL_RUNS


def _partition(cost: np.ndarray, penalty: float) -> list[int]:
    """Boundaries of the optimal levels: exact dynamic programming over segment ends."""
    n = cost.shape[0]
    best = np.full(n + 1, np.inf)
    best[0] = -penalty
    previous = np.zeros(n + 1, dtype=int)
    for stop in range(1, n + 1):
        for first in range(stop):
            if not _allowed(first, stop, n) or not np.isfinite(best[first]):
                continue
            alone = stop == n and stop - first < MIN_LEVEL_RUNS
            total = best[first] + cost[first, stop] + penalty * (2 if alone else 1)
            if total < best[stop]:
                best[stop], previous[stop] = total, first
    bounds, stop = [n], n
    while stop > 0:
        stop = int(previous[stop])
        bounds.append(stop)
    return bounds[::-1]


def detect_steps(
    medians: Sequence[float],
    own_spread: Sequence[float] | None = None,
    min_change: float = 0.0,
    penalty: float | None = None,
) -> Fit:
    """Fit levels to a series of run medians (seconds, oldest first) and report the steps
    between them whose ratio differs from 1 by at least `min_change`.

    `own_spread`: each run's own relative standard error (`run_spread`); `penalty`: the cost of
    one step in units of the noise (default: PENALTY_PER_LOG_RUN * ln n)."""
    logs = np.log(np.asarray(medians, dtype=float))
    n = len(logs)
    if n == 0:
        return Fit([], [], [])
    own = np.zeros(n) if own_spread is None else np.asarray(own_spread, dtype=float)
    between = between_run_noise(logs, own)
    noise = np.maximum(np.sqrt(between**2 + own**2), NOISE_FLOOR)
    weights = 1 / noise
    if penalty is None:
        penalty = PENALTY_PER_LOG_RUN * math.log(max(n, 2))
    cost, level = _segment_costs(logs, weights)
    bounds = _partition(cost, penalty)
    segments = list(itertools.pairwise(bounds))
    errors = [MEDIAN_EFFICIENCY / math.sqrt(float(np.sum(weights[a:b] ** 2))) for a, b in segments]
    steps = []
    for (a, b), (c, d), before_error, after_error in zip(
        segments, segments[1:], errors, errors[1:], strict=False
    ):
        change = level[c, d] - level[a, b]
        if abs(math.expm1(change)) < min_change:
            continue
        half = Z95 * math.hypot(before_error, after_error)
        steps.append(
            Step(
                index=c,
                before=math.exp(level[a, b]),
                after=math.exp(level[c, d]),
                ratio=math.exp(change),
                ci95=(math.exp(change - half), math.exp(change + half)),
            )
        )
    levels = [(a, b, math.exp(level[a, b])) for a, b in segments]
    return Fit(levels, steps, [float(value) for value in noise])
