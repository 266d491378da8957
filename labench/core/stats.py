"""Robust summaries of timing samples.

Timing noise is one-sided and heavy-tailed (interrupts, other processes, frequency changes),
so we report the median with a distribution-free confidence interval from order statistics,
which assumes nothing about the shape of the distribution, rather than mean +- stdev.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from pydantic import BaseModel, ConfigDict

CONFIDENCE = 0.95
NOISY_REL_CI = 0.10
"""A case whose 95% CI is wider than +-10% of its median is `noisy`: on a quiet machine labench
stops sampling at +-2% (`target_rel_ci`), so +-10% means something else took the cores."""


def median_ci(
    samples: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """Distribution-free confidence interval of the median (order statistics, binomial
    argument); None when there are too few samples to reach the coverage (fewer than 6 at 95%).
    """

    values = np.asarray(samples, dtype=float)
    if len(values) == 0:
        return None
    ranks = _median_ci_ranks(len(values), confidence)
    if ranks is None:
        return None
    low, high = np.partition(values, ranks)[list(ranks)]
    return float(low), float(high)


@lru_cache(maxsize=1024)
def _median_ci_ranks(count: int, confidence: float) -> tuple[int, int] | None:
    """Which order statistics (0-based) bound the median's CI: the ranks between which the
    number of samples below the true median, Binomial(count, 1/2), falls with `confidence`.
    They depend on the count alone, so they are computed once per count (sampling asks after
    every few samples); the bounds are scipy.stats.quantile_test's, computed here from the
    binomial distribution directly, so that measuring needs no SciPy (importing scipy.stats
    costs about a second in every worker process).
    """
    tail = (1 - confidence) / 2
    cdf = _half_binomial_cdf(count)
    below = int(np.searchsorted(cdf, tail, side="left"))  # ppf(tail): first k, cdf(k) >= tail
    # isf(tail): first k with P(X > k) <= tail; by symmetry P(X > k) = cdf(count - k - 1)
    above = count - int(np.searchsorted(cdf, tail, side="right"))
    low, high = below - 1, above
    if low < 0 or high >= count:
        return None
    return low, high


@lru_cache(maxsize=64)
def _half_binomial_cdf(count: int) -> np.ndarray:
    """P(X <= k) for X ~ Binomial(count, 1/2), k = 0..count, from log-probabilities (lgamma),
    which stay exact to about 1e-11 where 2**-count itself would underflow."""
    ks = np.arange(count + 1)
    log_choose = np.array([math.lgamma(k + 1) for k in range(count + 1)])
    logs = log_choose[count] - log_choose[ks] - log_choose[count - ks] - count * math.log(2)
    return np.cumsum(np.exp(logs))


class Summary(BaseModel):
    """The statistics of one case's per-call times; the result file stores exactly these."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    median: float
    mean: float
    stdev: float
    min: float
    max: float
    iqr: float
    ci95: tuple[float, float] | None
    outliers: int

    @property
    def rel_ci(self) -> float | None:
        """Half-width of the CI relative to the median: the figure adaptive sampling targets."""
        if self.ci95 is None or self.median <= 0:
            return None
        return (self.ci95[1] - self.ci95[0]) / 2 / self.median


def summarize(samples: Sequence[float]) -> Summary:
    """Median, spread and CI of per-call times; outliers by Tukey's 1.5 IQR fences."""
    values = np.asarray(samples, dtype=float)
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    iqr = q3 - q1
    outliers = int(np.count_nonzero((values < q1 - 1.5 * iqr) | (values > q3 + 1.5 * iqr)))
    return Summary(
        median=float(median),
        mean=float(values.mean()),
        stdev=float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        min=float(values.min()),
        max=float(values.max()),
        iqr=float(iqr),
        ci95=median_ci(values),
        outliers=outliers,
    )


MEDIAN_EFFICIENCY = math.sqrt(math.pi / 2)
"""A median's standard error over a mean's, for normal data."""
Z95 = 1.959964


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
