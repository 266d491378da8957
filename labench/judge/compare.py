"""Run-vs-run and machine-vs-machine comparison, verdicts, and the regression gate.

Cases are matched by key. For each pair: the ratio NEW/BASE, a 95% confidence interval, a
p-value, and a verdict. What the statistics may rest on decides what a verdict can say:

- **processes**: both runs were measured in several processes (`run --processes`, or suspects
  confirmed by `run --baseline`). Each process is one draw of the memory-placement lottery
  (`execution/rounds.py`), so the test works on per-process medians: Welch's t-test on their
  logarithms
  (times are ratio-scale and roughly log-normal across processes), with a t interval of the
  ratio. Mann-Whitney cannot reach p < 0.01 with four processes a side; the t-test can.
- **noise model**: only one run has process medians. Their spread is that case's measured noise
  between processes; the other run's single median is judged against it (is it a plausible
  draw from the same distribution?), with the spread on the single value's side of their
  median only (`side_statistic`: a disturbed process is slow, a lucky one fast, and only the
  latter speaks for a low baseline).
- **one process**: both runs are single processes (a plain `labench run`, or pytest-benchmark).
  Samples inside a process agree to 1-2% while the same kernel's median moves by tens of percent
  from one process to the next, so a within-process test would call noise `slower` with
  p = 1e-7 (or, on a busy machine, miss a 3x slowdown at p = 0.04). Such a pair can show that a
  case *moved* beyond the threshold, never that it got slower: the verdict is `unsure`, with the
  within-process statistics shown for information, and the gate passes it with a warning
  (`run --baseline` re-measures these suspects in fresh processes and decides).

A significant move of a case flagged `noisy`, `contended` or `throttled` (on either side) is
`unsure` too: a neighbour that took the cores, or a GPU that lowered its clock, not the code,
may have moved it. So is a move beyond the threshold that is not significant: `same` would
claim more than processes spread that widely allow (a one-process baseline in a rare fast
placement against fresh processes that mostly landed in the slow one measured x2.07 at
p = 0.013 on the 2-core VM).

A case is `slower` only when the ratio exceeds 1 + threshold *and* the difference is
significant at `alpha`. Reads results only; never runs a kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from labench.core.errors import InputError
from labench.core.threshold import threshold_fraction
from labench.judge.gates import CaseGate, case_gate
from labench.results.model import FAILED_STATUSES
from labench.results.views import RunView, Series

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
BOOTSTRAP_RESAMPLES = 2000
MIN_PROCESSES = 3
"""Fewest process medians for a side's spread between processes to count as measured."""
CONFIDENCE = 0.95


Outcome = Literal[
    "faster",
    "slower",
    "same",
    "unsure",
    "broken",
    "fixed",
    "skipped",
    "not comparable",
    "excluded",
]
Doubt = Literal["", "one process", "spread", "unsteady", "state"]


@dataclass(frozen=True)
class Verdict:
    key: str
    base: Series
    new: Series
    ratio: float | None
    ci95: tuple[float, float] | None
    p_value: float | None
    verdict: Outcome
    """faster, slower, same, unsure (moved beyond the threshold, but the data cannot tell it
    from noise: see `doubt`), broken (was ok, now wrong/error), fixed, skipped (in both runs: no
    backend, say), or not comparable."""
    basis: str = "-"
    """What the statistics rest on: processes, noise model, one process, summary, or '-'."""
    doubt: Doubt = ""
    """Why an `unsure` case is unsure: 'one process' (one process per run cannot see the spread
    between processes), 'spread' (processes were measured, but their medians disagree too
    widely for the move to be significant), 'unsteady' (flagged noisy, contended or
    throttled), or 'state' (slower than the history's current level, but as slow as a state
    the case has been in and come back from: `in_known_state`)."""
    gate: CaseGate | None = None
    """The threshold the case was judged with and, for `excluded`, why its suite does not gate
    it (`judge_gated`); None where a caller judged it with a bare threshold."""

    @property
    def looks_slower(self) -> bool:
        """Moved the slow way beyond the threshold while the new run measured it in one
        process: a suspect to confirm in fresh processes before the gate may fail on it. Against
        a one-process baseline that is an `unsure` case; against a baseline with its own spread
        (`run --processes`, or a history) the noise model may already call that one process
        `slower` or leave it `unsure`, and one draw of the placement lottery is still one draw."""
        new = self.new.process_medians
        single = new is None or len(new) < MIN_PROCESSES
        return single and self.moved_slower and (self.verdict == "slower" or self.might_be_slower)

    @property
    def might_be_slower(self) -> bool:
        """An `unsure` case that moved the slow way and lacks evidence either way (one process,
        processes spread too widely, or as slow as a state the case has been in before), not
        one a flag discredits: what `--fail-on-unsure` fails on."""
        slow = self.ratio is not None and self.ratio > 1
        return slow and self.doubt in ("one process", "spread", "state")

    @property
    def moved_slower(self) -> bool:
        """Moved the slow way beyond the threshold: the cases a gate must decide."""
        return self.ratio is not None and self.ratio > 1

    @property
    def unsteady(self) -> bool:
        """An `unsure` case whose move rests on a noisy, contended or throttled measurement."""
        return self.doubt == "unsteady"

    @property
    def known_state(self) -> bool:
        """An `unsure` case as slow as an earlier state of a case that hops between states in
        the machine's history: a regression and that state look alike."""
        return self.doubt == "state"

    @property
    def inconclusive(self) -> bool:
        """An `unsure` case that moved beyond the threshold across processes, not significantly:
        calling it `same` would claim more than the spread allows (a baseline in a rare fast
        placement, say, against processes that mostly landed in a slow one)."""
        return self.doubt == "spread"


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

    def unsure(self) -> list[Verdict]:
        return [v for run in self.verdicts for v in run if v.verdict == "unsure"]

    def undecided(self) -> list[Verdict]:
        """Cases that moved the slow way beyond their threshold and that the data cannot tell
        from noise: what a gate can neither pass nor fail (exit 3)."""
        return [v for v in self.unsure() if v.moved_slower]

    def excluded(self) -> list[Verdict]:
        """Cases their suite measures but does not gate (`gate: {exclude: ...}`)."""
        return [v for run in self.verdicts for v in run if v.verdict == "excluded"]

    def threshold_of(self, verdict: Verdict) -> float:
        """The threshold `verdict` was judged with: its benchmark's own, else the comparison's."""
        return verdict.gate.threshold if verdict.gate is not None else self.threshold


def ratio_ci(base: np.ndarray, new: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95% CI of median(new) / median(base), resampling each side."""
    from scipy import stats

    def ratio(b: np.ndarray, n: np.ndarray, axis: int = -1) -> np.ndarray:
        ratios: np.ndarray = np.median(n, axis=axis) / np.median(b, axis=axis)
        return ratios

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


@dataclass(frozen=True)
class RatioTest:
    """A ratio NEW/BASE with its 95% interval and the p-value of 'no change'."""

    ratio: float
    ci95: tuple[float, float] | None
    p_value: float | None
    basis: str


def _measured_processes(series: Series) -> np.ndarray | None:
    medians = series.process_medians
    return None if medians is None or len(medians) < MIN_PROCESSES else np.asarray(medians)


def welch_log_ratio(base: np.ndarray, new: np.ndarray) -> RatioTest:
    """Welch's t-test on log process medians: ratio of geometric means, t interval, p-value."""
    a, b = np.log(base), np.log(new)
    difference = float(b.mean() - a.mean())
    variance = a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)
    if variance == 0:
        return RatioTest(math.exp(difference), None, 1.0 if difference == 0 else 0.0, "processes")
    scale = math.sqrt(variance)
    freedom = variance**2 / (
        (a.var(ddof=1) / len(a)) ** 2 / (len(a) - 1) + (b.var(ddof=1) / len(b)) ** 2 / (len(b) - 1)
    )
    return t_ratio_test(difference, scale, freedom, "processes")


PREDICTION_DRAWS = 9999
"""Monte Carlo draws of the null distribution of the noise-model statistic."""
PREDICTION_SEED = 20131116
"""Fixed, so the same two files always get the same p-value."""


def side_statistic(sample: np.ndarray, axis: int = -1) -> np.ndarray:
    """(median of the process medians - the single value) / the processes' semi-deviation on
    the single value's side. `sample[..., 0]` is the single value (a log time), the rest are
    the log process medians.

    One side only, because the two tails of the placement lottery mean different things: a
    process that a neighbour disturbed is slow (interference only adds time), and one such
    outlier among five would widen a standard deviation enough to hide a 20% slowdown, while a
    rare fast placement is exactly what a lucky one-process baseline may have drawn. Judging a
    single value below the processes, only the processes below their median speak to how low a
    draw can go; above, only those above."""
    sample = np.moveaxis(np.asarray(sample, dtype=float), axis, -1)
    single, logs = sample[..., 0], sample[..., 1:]
    difference: np.ndarray = np.median(logs, axis=-1) - single
    below, above = semideviations(logs)
    with np.errstate(divide="ignore", invalid="ignore"):
        return difference / np.where(difference > 0, below, above)


def semideviations(logs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Root-mean-square distance from the median (along the last axis) of the values below it,
    and of those above it; 0 where there are none."""
    deviation = logs - np.median(logs, axis=-1, keepdims=True)

    def spread(side: np.ndarray) -> np.ndarray:
        squares = np.where(side, deviation**2, 0.0).sum(axis=-1)
        root_mean: np.ndarray = np.sqrt(squares / np.maximum(side.sum(axis=-1), 1))
        return root_mean

    return spread(deviation < 0), spread(deviation > 0)


def prediction_log_ratio(single: float, medians: np.ndarray, single_is_new: bool) -> RatioTest:
    """One process's median against another run's measured spread between processes: how
    plausible is it as one more draw from them? The statistic is `side_statistic`; its null
    distribution (all draws from one log-normal) has no closed form, so it is simulated
    (scipy.stats.monte_carlo_test, fixed seed), which also gives the interval's critical value.
    The ratio is NEW/BASE of the single value and the processes' median."""
    from scipy import stats

    logs = np.log(medians)
    centre = float(np.median(logs))
    offset = math.log(single) - centre  # the single value's place among the processes
    below, above = (float(spread) for spread in semideviations(logs))
    sign = 1.0 if single_is_new else -1.0
    if (offset < 0 and below == 0) or (offset > 0 and above == 0) or offset == 0:
        p_value = 1.0 if offset == 0 else 0.0
        return RatioTest(math.exp(sign * offset), None, p_value, "noise model")
    rng = np.random.default_rng(PREDICTION_SEED)
    test = stats.monte_carlo_test(
        np.concatenate([[math.log(single)], logs]),
        lambda size: rng.standard_normal(size),
        side_statistic,
        vectorized=True,
        n_resamples=PREDICTION_DRAWS,
    )
    critical = float(np.quantile(np.abs(test.null_distribution), CONFIDENCE))
    # the single value may lie up to `critical` semi-deviations from the median on either side
    low, high = offset - critical * above, offset + critical * below
    if not single_is_new:
        low, high = -high, -low
    ci = (math.exp(low), math.exp(high))
    return RatioTest(math.exp(sign * offset), ci, float(test.pvalue), "noise model")


def t_ratio_test(difference: float, scale: float, freedom: float, basis: str) -> RatioTest:
    """A mean log ratio `difference` with standard error `scale` on `freedom` degrees of
    freedom: the ratio, its 95% t interval, and the two-sided p of 'no change'."""
    from scipy import stats

    statistic = difference / scale
    p = float(2 * stats.t.sf(abs(statistic), freedom))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, freedom)) * scale
    ci = (math.exp(difference - half), math.exp(difference + half))
    return RatioTest(math.exp(difference), ci, p, basis)


def within_process(base: Series, new: Series) -> RatioTest | None:
    """Ratio of medians, bootstrap CI and Mann-Whitney p from raw samples (or Welch's t-test on
    summary statistics when a file has none): what one process per run can show."""
    from scipy import stats

    if base.median is None or new.median is None:
        return None
    ratio = new.median / base.median
    a, b = base.samples, new.samples
    if a is not None and b is not None and min(len(a), len(b)) >= 2:
        if np.ptp(np.concatenate([a, b])) == 0:
            return RatioTest(ratio, (ratio, ratio), 1.0, "one process")
        p = float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
        return RatioTest(ratio, ratio_ci(a, b), p, "one process")
    if None in (base.mean, new.mean, base.stdev, new.stdev) or min(base.count, new.count) < 2:
        return RatioTest(ratio, None, None, "summary")
    if base.stdev == 0 and new.stdev == 0:
        return RatioTest(ratio, None, 1.0 if base.mean == new.mean else 0.0, "summary")
    p = float(
        stats.ttest_ind_from_stats(
            base.mean, base.stdev, base.count, new.mean, new.stdev, new.count, equal_var=False
        ).pvalue
    )
    return RatioTest(ratio, None, p, "summary")


def ratio_test(base: Series, new: Series) -> RatioTest | None:
    """The strongest test the two series support (see the module docstring)."""
    base_processes, new_processes = _measured_processes(base), _measured_processes(new)
    if base_processes is not None and new_processes is not None:
        return welch_log_ratio(base_processes, new_processes)
    if base_processes is not None and new.median:
        return prediction_log_ratio(new.median, base_processes, single_is_new=True)
    if new_processes is not None and base.median:
        return prediction_log_ratio(base.median, new_processes, single_is_new=False)
    return within_process(base, new)


def judge(key: str, base: Series, new: Series, threshold: float, alpha: float) -> Verdict:
    if base.status == "ok" and new.status in FAILED_STATUSES:
        return Verdict(key, base, new, None, None, None, "broken")
    if base.status in FAILED_STATUSES and new.status == "ok":
        return Verdict(key, base, new, None, None, None, "fixed")
    if base.status == new.status == "skipped":
        return Verdict(key, base, new, None, None, None, "skipped")
    if not (base.median and new.median) or base.status != "ok" or new.status != "ok":
        return Verdict(key, base, new, None, None, None, "not comparable")
    test = ratio_test(base, new)
    assert test is not None
    moved = test.ratio > 1 + threshold or test.ratio < 1 / (1 + threshold)
    significant = test.p_value is not None and test.p_value < alpha
    doubt: Doubt = ""
    verdict: Outcome
    if not moved:
        verdict = "same"
    elif test.basis in ("one process", "summary"):
        verdict, doubt = "unsure", "one process"  # cannot see the spread between processes
    elif not significant:
        verdict, doubt = "unsure", "spread"  # moved, but within what the processes spread over
    elif base.flags or new.flags:
        verdict, doubt = "unsure", "unsteady"  # too unsteady to fail a build on
    elif test.ratio > 1 and in_known_state(base, new.median, threshold):
        verdict, doubt = "unsure", "state"  # as slow as a state the case has returned from
    else:
        verdict = "slower" if test.ratio > 1 else "faster"
    return Verdict(key, base, new, test.ratio, test.ci95, test.p_value, verdict, test.basis, doubt)


STATE_RUNS = 2
"""Earlier runs of a case as slow as a new one, with the case back at its level between, that
make that speed a state of the machine rather than a regression (`in_known_state`)."""


def in_known_state(base: Series, median: float, threshold: float) -> bool:
    """Whether `median` is as slow as a state the machine has been in and come back from, by
    the runs of the case's history (`Series.history`): at least STATE_RUNS of them are slower
    than the median of the level the case is judged against by more than `threshold` and lie
    within `threshold` of `median`, and one of those came after a run within `threshold` of
    that level or faster.

    A case that hops between two speeds for minutes at a time (a neighbour on the core, the
    hypervisor's placement) is slower than its current level in every run that lands in the
    other speed, and fresh processes drawn minutes later land there too. A case whose runs
    only moved one way has no such state: a change that undoes an improvement is a
    regression, however slow the code once was."""
    if base.median is None:
        return False

    def alike(one: float, other: float) -> bool:
        return 1 / (1 + threshold) <= one / other <= 1 + threshold

    fast = base.median * (1 + threshold)
    as_slow = [
        index for index, value in enumerate(base.history) if value > fast and alike(value, median)
    ]
    first = next((index for index, value in enumerate(base.history) if value <= fast), None)
    return len(as_slow) >= STATE_RUNS and first is not None and as_slow[-1] > first


def judge_gated(key: str, base: Series, new: Series, gate: CaseGate, alpha: float) -> Verdict:
    """`judge` under the case's gate (`gates.case_gate`): its own threshold, and an excluded
    case keeps its statistics for reading, but its verdict is `excluded`, never one that could
    fail or hold up a gate, nor a suspect to confirm."""
    verdict = replace(judge(key, base, new, gate.threshold, alpha), gate=gate)
    if gate.excluded is None:
        return verdict
    return replace(verdict, verdict="excluded", doubt="")


def compare(runs: list[RunView], threshold: float = 0.10, alpha: float = 0.01) -> Comparison:
    """Compare every run with the first; InputError when a run shares no case with it. Each
    compared run's own stored gate settings (`RunView.gates`) set the threshold of its
    benchmarks that have one, and exclude those its suite does not gate; `threshold` is the
    rest's."""
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
            [
                judge_gated(
                    key,
                    base.cases[key],
                    other.cases[key],
                    case_gate(other.gates, key, threshold),
                    alpha,
                )
                for key in common
            ]
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
        values = [_describe(name, getattr(run.environment, name)) for run in runs]
        if len(set(values)) > 1:
            rows.append((name, values))
    return rows


def device_difference(runs: list[RunView]) -> str | None:
    """A sentence when the runs' GPU cases ran on different devices (told apart by NVML's
    UUID): "GPU 0" of two hosts, or of one host after a swap, is another device, and a move
    may be the device's. None when they agree, or a run does not name its devices."""
    named = [run for run in runs if run.devices]
    if len(named) < 2 or len({run.devices for run in named}) == 1:
        return None
    listed = "; ".join(f"{run.label}: {', '.join(run.devices)}" for run in named)
    return (
        f"the GPU cases ran on different devices ({listed}): a move between them may be "
        "the device's, not the code's"
    )


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
        return (
            "; ".join(
                f"{gpu.get('name', '?')}" + (f" ({gpu['uuid']})" if gpu.get("uuid") else "")
                for gpu in value
            )
            or "none"
        )
    return str(value)


def parse_threshold(text: str) -> float:
    """'10%' or '0.1' -> 0.1."""
    try:
        return threshold_fraction(text)
    except ValueError as error:
        raise InputError(f"--threshold: {error}") from None
