"""Run-vs-run and machine-vs-machine comparison, verdicts, and the regression gate.

Cases are matched by key. For each pair: the ratio of medians NEW/BASE, a 95% bootstrap
confidence interval of that ratio, a Mann-Whitney U test (no assumption of normality: timing
noise is skewed), and a verdict. Both work on the raw samples, or, when both runs were measured
in several processes (`run --processes`), on the per-process medians, since the variance between
processes is what separates two runs. A case is `slower` only when the ratio
exceeds 1 + threshold *and* the difference is significant at `alpha`, so noise alone does not
fail a build and a real but tiny change does not either. Without raw samples (a pytest-benchmark
file saved without data), Welch's t-test on the summary statistics stands in, and no CI is given.
Reads results only; never runs a kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from labench.errors import InputError
from labench.interop import RunView, Series

ENVIRONMENT_KEYS = (
    "machine_id",
    "cpu",
    "cores_usable",
    "memory_bytes",
    "os",
    "python",
    "packages",
    "thread_pools",
    "gpus",
)
FAILED = ("wrong", "error")
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class Verdict:
    key: str
    base: Series
    new: Series
    ratio: float | None
    ci95: tuple[float, float] | None
    p_value: float | None
    verdict: str
    """faster, slower, same, broken (was ok, now wrong/error), fixed, or not comparable."""


@dataclass
class Comparison:
    base: RunView
    others: list[RunView]
    verdicts: list[list[Verdict]]
    """One list per other run, in the base's case order."""
    only_in: dict[str, list[str]] = field(default_factory=dict)
    threshold: float = 0.10
    alpha: float = 0.01

    def regressions(self) -> list[Verdict]:
        return [v for run in self.verdicts for v in run if v.verdict in ("slower", "broken")]


def ratio_ci(base: np.ndarray, new: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95% CI of median(new) / median(base), resampling each run."""

    def ratio(b: np.ndarray, n: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.median(n, axis=axis) / np.median(b, axis=axis)

    result = stats.bootstrap(
        (base, new),
        ratio,
        vectorized=True,
        paired=False,
        n_resamples=BOOTSTRAP_RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


MIN_PROCESSES = 3
"""Fewest processes per side for the comparison to work on process medians."""


def units(base: Series, new: Series) -> tuple[np.ndarray, np.ndarray] | None:
    """What to compare: each process's median when both runs were measured in several
    processes (the variance between processes is the one that matters across runs), else the
    raw samples, else nothing (summary statistics only)."""
    for a, b, fewest in (
        (base.process_medians, new.process_medians, MIN_PROCESSES),
        (base.samples, new.samples, 2),
    ):
        if a is not None and b is not None and min(len(a), len(b)) >= fewest:
            return np.asarray(a), np.asarray(b)
    return None


def p_value(base: Series, new: Series) -> float | None:
    """Two-sided: Mann-Whitney U on the compared units, else Welch's t-test on summary
    statistics."""
    compared = units(base, new)
    if compared is not None:
        a, b = compared
        if np.ptp(np.concatenate([a, b])) == 0:
            return 1.0
        return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    if None in (base.mean, new.mean, base.stdev, new.stdev) or min(base.count, new.count) < 2:
        return None
    if base.stdev == 0 and new.stdev == 0:
        return 1.0 if base.mean == new.mean else 0.0
    return float(
        stats.ttest_ind_from_stats(
            base.mean, base.stdev, base.count, new.mean, new.stdev, new.count, equal_var=False
        ).pvalue
    )


def judge(key: str, base: Series, new: Series, threshold: float, alpha: float) -> Verdict:
    if base.status == "ok" and new.status in FAILED:
        return Verdict(key, base, new, None, None, None, "broken")
    if base.status in FAILED and new.status == "ok":
        return Verdict(key, base, new, None, None, None, "fixed")
    if not (base.median and new.median) or base.status != "ok" or new.status != "ok":
        return Verdict(key, base, new, None, None, None, "not comparable")
    ratio = new.median / base.median
    compared = units(base, new)
    interval = None if compared is None else ratio_ci(*compared)
    p = p_value(base, new)
    significant = p is not None and p < alpha
    if significant and ratio > 1 + threshold:
        verdict = "slower"
    elif significant and ratio < 1 / (1 + threshold):
        verdict = "faster"
    else:
        verdict = "same"
    return Verdict(key, base, new, ratio, interval, p, verdict)


def compare(runs: list[RunView], threshold: float = 0.10, alpha: float = 0.01) -> Comparison:
    """Compare every run with the first; InputError when a run shares no case with it."""
    base, others = runs[0], runs[1:]
    comparison = Comparison(base, others, [], threshold=threshold, alpha=alpha)
    for other in others:
        common = [key for key in base.cases if key in other.cases]
        if not common:
            raise InputError(
                f"{other.label} and {base.label} have no case in common (cases match by key, "
                "e.g. 'matmul/n=256,transfers=False/float64/t1/numpy'); "
                "are they runs of the same suite?"
            )
        comparison.verdicts.append(
            [judge(key, base.cases[key], other.cases[key], threshold, alpha) for key in common]
        )
        comparison.only_in[other.label] = [key for key in other.cases if key not in base.cases]
        comparison.only_in.setdefault(base.label, [])
        comparison.only_in[base.label] += [
            key
            for key in base.cases
            if key not in other.cases and key not in comparison.only_in[base.label]
        ]
    return comparison


def environment_differences(runs: list[RunView]) -> list[tuple[str, list[str]]]:
    """The environment fields whose values differ between runs, one text per run."""
    rows = []
    for name in ENVIRONMENT_KEYS:
        values = [_describe(name, run.environment.get(name)) for run in runs]
        if len(set(values)) > 1:
            rows.append((name, values))
    return rows


def _describe(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if name == "memory_bytes":
        return f"{value / 2**30:.1f} GiB"
    if name == "packages":
        return ", ".join(f"{package} {version}" for package, version in value.items())
    if name == "thread_pools":
        return "; ".join(  # sorted: the order libraries happened to load in is no difference
            sorted(
                f"{pool.get('internal_api')} {pool.get('version', '')} x{pool.get('num_threads')}"
                for pool in value
            )
        )
    if name == "gpus":
        return "; ".join(gpu.get("name", "?") for gpu in value) or "none"
    return str(value)


def parse_threshold(text: str) -> float:
    """'10%' or '0.1' -> 0.1."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise InputError(
            "--threshold: expected a percentage such as 10% or a fraction such as 0.1, "
            f"got {text!r}"
        ) from None
    if not 0 <= value < 10:
        raise InputError(f"--threshold: expected a value between 0% and 1000%, got {text!r}")
    return value
