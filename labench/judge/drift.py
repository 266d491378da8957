"""Drift: the whole run a few percent slower or faster than its baseline, seen and shown.

Runs minutes apart can differ for the whole machine (a CPU clock, a neighbour, a hypervisor),
and no draw taken within one run can see that. Across cases it shows: the median of the cases'
log ratios is the run-wide factor, and the distribution-free interval of that median (order
statistics, core.stats.median_ci) says whether it is more than the cases' scatter. It is shown
beside the verdicts and never divided out of them: a verdict rests on the raw ratio, and the
drift only says which moves it would explain.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from labench.core.stats import median_ci
from labench.judge.compare import Verdict

MIN_CASES = 6
"""Fewest comparable cases for a run-wide factor: the median's 95% interval needs six."""


@dataclass(frozen=True)
class Drift:
    factor: float
    """exp(median of the cases' log ratios): new / base for the run as a whole."""
    ci95: tuple[float, float]
    cases: int

    @property
    def significant(self) -> bool:
        """The interval excludes 1: the whole run moved, beyond the scatter of its cases."""
        return self.ci95[0] > 1 or self.ci95[1] < 1

    def explains(self, verdict: Verdict, threshold: float) -> bool:
        """A move beyond the threshold that the run-wide factor brings back within it."""
        if verdict.ratio is None or not self.significant:
            return False
        return 1 / (1 + threshold) <= verdict.ratio / self.factor <= 1 + threshold

    def describe(self, base: str, new: str) -> str:
        """One line for the comparison's header."""
        change = self.factor - 1
        way = "slower" if change > 0 else "faster"
        low, high = self.ci95
        text = (
            f"drift: {new} measured {abs(change):.1%} {way} than {base} across {self.cases} "
            f"cases (median ratio {self.factor:.3f}, 95% CI [{low:.3f}, {high:.3f}])"
        )
        if not self.significant:
            return text + ", within the scatter of its cases"
        return text + "; the whole run moved: the verdicts use the raw ratios"


def run_drift(verdicts: Sequence[Verdict]) -> Drift | None:
    """The run-wide factor of one run against the base, None with too few comparable cases."""
    logs = [math.log(v.ratio) for v in verdicts if v.ratio is not None and v.ratio > 0]
    if len(logs) < MIN_CASES:
        return None
    interval = median_ci(logs)
    if interval is None:
        return None
    centre = statistics.median(logs)
    return Drift(math.exp(centre), (math.exp(interval[0]), math.exp(interval[1])), len(logs))
