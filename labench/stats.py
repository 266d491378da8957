"""Robust summaries of timing samples.

Timing noise is one-sided and heavy-tailed (interrupts, other processes, frequency changes),
so we report the median with a distribution-free confidence interval from order statistics,
which assumes nothing about the shape of the distribution, rather than mean +- stdev.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

CONFIDENCE = 0.95
NOISY_REL_CI = 0.10
"""A case whose 95% CI is wider than +-10% of its median is `noisy`: on a quiet machine labench
stops sampling at +-2% (`target_rel_ci`), so +-10% means something else took the cores."""


def median_ci(
    samples: Sequence[float], confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """Distribution-free confidence interval of the median (order statistics, binomial
    argument); None when there are too few samples to reach the coverage (fewer than 6 at 95%).
    """
    from scipy import stats

    values = np.asarray(samples, dtype=float)
    if len(values) == 0:
        return None
    interval = stats.quantile_test(values, q=float(np.median(values)), p=0.5)
    low, high = interval.confidence_interval(confidence)
    if np.isnan(low) or np.isnan(high):
        return None
    return float(low), float(high)


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
