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

from labench.core.stats import MEDIAN_EFFICIENCY, Z95

PENALTY_PER_LOG_RUN = 1.6
MIN_LEVEL_RUNS = 2
NOISE_FLOOR = 0.002
"""Smallest relative noise assumed (0.2%): identical repeated times must not make every
difference infinitely significant."""
Values = Sequence[float] | np.ndarray
"""A series of times (or spreads), oldest first."""
EXACT_RUNS = 60
"""Series up to this many runs are fitted over every boundary; longer ones over the screen's
candidates (`candidate_starts`)."""
SCREEN_Z = {3: 4.0, 6: 3.5, 12: 3.0, 30: 3.0}
"""Window width of the screen's local tests -> standard errors a difference must reach."""


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


def between_run_noise(logs: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Noise between runs beyond their own, for each series (row) of `logs`: successive
    differences hold both; their median absolute value is untouched by a few steps and
    outliers. 0 for series shorter than three runs."""
    if logs.shape[-1] < 3:
        return np.zeros(logs.shape[:-1])
    total = 1.4826 * np.median(np.abs(np.diff(logs, axis=-1)), axis=-1) / math.sqrt(2)
    between: np.ndarray = np.sqrt(np.maximum(total**2 - np.median(own**2, axis=-1), 0.0))
    return between


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


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The level of one segment, as `_segment_costs` picks it: the smallest value holding half
    the weight at or below it."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    return float(values[order][int(np.searchsorted(cumulative, cumulative[-1] / 2))])


def _stride(width: int) -> int:
    """Wide windows are tested at every stride-th boundary only (a sixth of their width): their
    medians barely move from one boundary to the next, and `_best_split` finds the boundary
    itself."""
    return max(1, width // 6)


def screen(logs: np.ndarray, noise: np.ndarray, min_change: float) -> list[np.ndarray]:
    """The local tests behind `candidate_starts`, for many series of one length at once (rows
    of `logs`, each with its noise): for each width of SCREEN_Z, an array of scores (rows x
    boundaries), 0 where the boundary is not flagged, else how many times its threshold the
    difference is. Boundary i compares the `width` runs before run i with the `width` from it
    (near the ends, the runs there are)."""
    rows, n = logs.shape
    floor = 0.8 * math.log1p(min_change) if min_change > 0 else 0.0
    scores = []
    for width, z in SCREEN_Z.items():
        stride = _stride(width)
        gap = np.full((rows, width), np.nan)
        padded = np.concatenate([gap, logs, gap], axis=1)
        windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=1)[:, ::stride]
        ordered = np.sort(windows, axis=2)
        sizes = np.sum(~np.isnan(ordered), axis=2)  # NaN sorts last: the runs come first
        middle = np.stack([np.maximum(sizes - 1, 0) // 2, sizes // 2], axis=2)
        medians = np.take_along_axis(ordered, np.minimum(middle, width - 1), axis=2).mean(axis=2)
        # boundary i (a multiple of stride): the runs before it are window i, the runs from it
        # window i + width
        tested = np.arange(0, n, stride)
        before, after = medians[:, : len(tested)], medians[:, width // stride :][:, : len(tested)]
        sizes_before = sizes[:, : len(tested)]
        sizes_after = sizes[:, width // stride :][:, : len(tested)]
        counted = (sizes_before >= MIN_LEVEL_RUNS) & (sizes_after >= 1)
        with np.errstate(all="ignore"):
            limits = z * noise[:, None] * MEDIAN_EFFICIENCY
            limits = limits * np.sqrt(1 / sizes_before + 1 / sizes_after)
            differences = np.where(counted, np.abs(after - before), 0.0)
            score = np.where(counted, differences / limits, 0.0)
        full = np.zeros((rows, n))
        full[:, tested] = np.where((differences >= floor) & (score >= 1), score, 0.0)
        scores.append(full)
    return scores


def candidate_starts(logs: np.ndarray, scores: Sequence[np.ndarray]) -> list[int]:
    """Where a level of one series might start, from its `screen` scores. Kept, each with its
    neighbours: every boundary the narrowest window flags (short levels), and of each stretch
    of neighbouring boundaries a wider window flags, the one it flags most and the one best
    splitting the stretch in two.

    This is the screen of a long history: the exact fit considers every boundary, at a cost of
    n**3 per case; restricted to these candidates it costs (candidates**2 * n), and an unchanged
    case, which has no candidate, costs one pass of medians. A level the fit would place is
    seen by one of the widths long before its evidence reaches the penalty of a step: the
    widths' thresholds sit below the evidence the penalty asks of a level of that length. A
    median's error is sqrt(pi/2) times a mean's; a difference must also reach 80% of the
    smallest change reported."""
    n = len(logs)
    starts: set[int] = set()
    for width, score in zip(SCREEN_Z, scores, strict=True):
        flagged = np.flatnonzero(score)
        if width == min(SCREEN_Z):
            starts.update(int(i) + offset for i in flagged for offset in (-1, 0, 1))
        gaps = np.flatnonzero(np.diff(flagged) > _stride(width)) + 1
        for stretch in np.split(flagged, gaps):
            if len(stretch):
                peaks = {
                    int(stretch[np.argmax(score[stretch])]),
                    _best_split(logs, int(stretch[0]), int(stretch[-1]) + 1),
                }
                starts.update(i + offset for i in peaks for offset in (-1, 0, 1))
    return sorted(i for i in starts if 0 < i < n)


def _best_split(logs: np.ndarray, first: int, stop: int) -> int:
    """The boundary in [first, stop) that best splits the runs around it in two levels (least
    squared misfit, from cumulative sums: one pass): where a single step in a flagged stretch
    most likely is. The fit that follows is the robust one; this only places a candidate."""
    widest = max(SCREEN_Z)
    first, stop = max(first - _stride(widest), 1), stop + _stride(widest)
    low, high = max(0, first - widest), min(len(logs), stop + widest)
    values = logs[low:high]
    sums, squares = np.cumsum(values), np.cumsum(values**2)
    sizes = np.arange(1, len(values))
    left = squares[:-1] - sums[:-1] ** 2 / sizes
    right_sums, right_squares = sums[-1] - sums[:-1], squares[-1] - squares[:-1]
    right = right_squares - right_sums**2 / sizes[::-1]
    splits = np.arange(low + 1, high)
    allowed = (splits >= first) & (splits <= stop)
    if not allowed.any():
        return first
    return int(splits[allowed][np.argmin((left + right)[allowed])])


def _partition_among(
    logs: np.ndarray, weights: np.ndarray, starts: Sequence[int], penalty: float
) -> list[int]:
    """`_partition` with levels allowed to start only at `starts` (and 0): the same exact
    dynamic programming, over candidate boundaries instead of every run."""
    n = len(logs)
    points = [0, *starts, n]
    best = [math.inf] * len(points)
    best[0] = -penalty
    previous = [0] * len(points)
    for j in range(1, len(points)):
        stop = points[j]
        for i in range(j):
            first = points[i]
            if not _allowed(first, stop, n) or not math.isfinite(best[i]):
                continue
            level = _weighted_median(logs[first:stop], weights[first:stop])
            cost = float(np.sum(np.abs(logs[first:stop] - level) * weights[first:stop]))
            alone = stop == n and stop - first < MIN_LEVEL_RUNS
            total = best[i] + cost + penalty * (2 if alone else 1)
            if total < best[j]:
                best[j], previous[j] = total, i
    bounds, j = [n], len(points) - 1
    while j > 0:
        j = previous[j]
        bounds.append(points[j])
    return bounds[::-1]


def _noise(logs: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Each run's relative noise, for each series (row): the noise between runs and its own,
    combined."""
    between = between_run_noise(logs, own)
    noise: np.ndarray = np.maximum(np.sqrt(between[..., None] ** 2 + own**2), NOISE_FLOOR)
    return noise


def detect_steps(
    medians: Values,
    own_spread: Values | None = None,
    min_change: float = 0.0,
    penalty: float | None = None,
    exact: bool | None = None,
) -> Fit:
    """Fit levels to a series of run medians (seconds, oldest first) and report the steps
    between them whose ratio differs from 1 by at least `min_change`.

    `own_spread`: each run's own relative standard error (`run_spread`); `penalty`: the cost of
    one step in units of the noise (default: PENALTY_PER_LOG_RUN * ln n); `exact`: consider
    every boundary (the default up to EXACT_RUNS runs) rather than the screen's candidates
    (`candidate_starts`, the default beyond: a year of nightly runs fits in milliseconds)."""
    logs = np.log(np.asarray(medians, dtype=float))
    if len(logs) == 0:
        return Fit([], [], [])
    own = np.zeros(len(logs)) if own_spread is None else np.asarray(own_spread, dtype=float)
    noise = _noise(logs, own)
    starts = None
    if not (exact if exact is not None else len(logs) <= EXACT_RUNS):
        scores = screen(logs[None, :], np.array([np.median(noise)]), min_change)
        starts = candidate_starts(logs, [score[0] for score in scores])
    return _fit(logs, noise, min_change, penalty, starts)


def detect_steps_many(
    series: Sequence[tuple[Values, Values | None]], min_change: float = 0.0
) -> list[Fit]:
    """`detect_steps` of many series (medians, own spreads) at once, as a history fits its
    cases: the long ones are screened together, a matrix per length, so that a history of 500
    cases over 1,000 runs fits in about a second; the series with no candidate boundary (most,
    in a steady history) are one level without further work."""
    fits: list[Fit | None] = [None] * len(series)
    by_length: dict[int, list[int]] = {}
    for index, (medians, _) in enumerate(series):
        if len(medians) <= EXACT_RUNS:
            fits[index] = detect_steps(*series[index], min_change=min_change)
        else:
            by_length.setdefault(len(medians), []).append(index)
    for indices in by_length.values():
        logs = np.log(np.asarray([series[index][0] for index in indices], dtype=float))
        own = np.asarray(
            [np.zeros(logs.shape[1]) if series[i][1] is None else series[i][1] for i in indices],
            dtype=float,
        )
        noises = _noise(logs, own)
        scores = screen(logs, np.median(noises, axis=1), min_change)
        for row, index in enumerate(indices):
            starts = candidate_starts(logs[row], [score[row] for score in scores])
            fits[index] = _fit(logs[row], noises[row], min_change, None, starts)
    return [fit for fit in fits if fit is not None]


def _fit(
    logs: np.ndarray,
    noise: np.ndarray,
    min_change: float,
    penalty: float | None,
    starts: list[int] | None,
) -> Fit:
    """The levels and steps of one series: over every boundary (`starts` None), else over the
    candidates given."""
    n = len(logs)
    weights = 1 / noise
    if penalty is None:
        penalty = PENALTY_PER_LOG_RUN * math.log(max(n, 2))
    if starts is None:
        bounds = _partition(_segment_costs(logs, weights)[0], penalty)
    elif starts:
        bounds = _partition_among(logs, weights, starts, penalty)
    else:
        bounds = [0, n]  # no candidate boundary: one level
    segments = list(itertools.pairwise(bounds))
    levels = [_weighted_median(logs[a:b], weights[a:b]) for a, b in segments]
    errors = [MEDIAN_EFFICIENCY / math.sqrt(float(np.sum(weights[a:b] ** 2))) for a, b in segments]
    steps = []
    for index in range(1, len(segments)):
        change = levels[index] - levels[index - 1]
        if abs(math.expm1(change)) < min_change:
            continue
        half = Z95 * math.hypot(errors[index - 1], errors[index])
        steps.append(
            Step(
                index=segments[index][0],
                before=math.exp(levels[index - 1]),
                after=math.exp(levels[index]),
                ratio=math.exp(change),
                ci95=(math.exp(change - half), math.exp(change + half)),
            )
        )
    fitted = [(a, b, math.exp(level)) for (a, b), level in zip(segments, levels, strict=True)]
    return Fit(fitted, steps, noise.tolist())
