"""Paired statistics for A/B runs: two sides measured round by round, judged on per-round ratios.

An A/B run (`labench ab`) measures every case once per side in each round, each side in a fresh
process, the two sides back to back. Whatever slows the machine for a while (a neighbour, a
clock, the hypervisor) slows both measurements of a round alike, so the round's log ratio
log(new / base) cancels it, where two runs minutes apart would each carry their own. The test
works on those per-round log ratios d_1..d_n: their mean is the log of the ratio of geometric
means, and a one-sample t interval of it is the interval of the ratio (`basis` "pairs"). The
rounds alternate which side goes first (AB, BA, AB...), so a trend within a round cancels too.

Verdicts use compare's vocabulary and its rule (judge/compare.py), so a pull request reads the
same words either way:

- `slower` (`faster`): the point estimate lies beyond the threshold AND the test rejects "no
  change" at this look's level (the interval at that level excludes 1);
- `same`: the point estimate lies within the threshold;
- `unsure` (doubt `spread`): beyond the threshold, not significant. Only these get more rounds.

Why not demand the interval lie wholly above 1 + threshold? That tests "slower by more than the
threshold", whose error rate is controlled even for real slowdowns just under the threshold, but
whose power for a slowdown just above it stays near one half however many rounds are run: a
gate with a 2% threshold would miss half of all 3% regressions. The rule used here controls the
error that matters to a gate, calling an unchanged case slower: that needs the test to reject
"no change", which happens with probability at most the level. A real slowdown smaller than the
threshold may be called `slower` when its estimate happens to land beyond it; that is a real
slowdown, reported with its interval, not a false alarm.

Sequential looks keep that error rate by a Bonferroni split over a fixed schedule of looks
(`Schedule`): the looks are fixed before anything is measured (first at `first` rounds, then
every `step` rounds up to `cap`), and each look tests at alpha / (number of looks). Whatever
the data do, the probability that ANY look calls an unchanged case slower is at most the sum of
the looks' levels, alpha. This is conservative (the looks share data, so the true rate is
lower) and needs no assumption about how the looks depend on each other. A case still `unsure`
at the cap stays unsure: the gate names it and ends undecided.

Reads results only; never runs a kernel.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from labench.core.errors import InputError
from labench.judge.compare import (
    Comparison,
    Doubt,
    Outcome,
    RatioTest,
    Verdict,
    judge_gated,
    t_ratio_test,
)
from labench.judge.gates import CaseGate, case_gate
from labench.results.views import RunView, Series

BASIS = "pairs"
"""What a paired verdict rests on, as compare's `basis` column shows it."""
MIN_ROUNDS = 3
"""Fewest rounds at the first look: a t interval from two pairs has one degree of freedom."""


@dataclass(frozen=True)
class Schedule:
    """When the rounds are looked at, fixed before the first round: at `first` rounds, then
    every `step` more, and at `cap`."""

    first: int
    step: int
    cap: int

    def __post_init__(self) -> None:
        if self.first < MIN_ROUNDS:
            raise InputError(f"--rounds: at least {MIN_ROUNDS} rounds, got {self.first}")
        if self.step < 1:
            raise InputError(f"--step: at least 1 round, got {self.step}")
        if self.cap < self.first:
            raise InputError(
                f"--max-rounds ({self.cap}) is below --rounds ({self.first}): the cap must "
                "allow the first look"
            )

    @property
    def looks(self) -> tuple[int, ...]:
        """The numbers of rounds at which cases are judged."""
        return (*range(self.first, self.cap, self.step), self.cap)

    def level(self, alpha: float) -> float:
        """Each look's significance level: alpha split evenly over the looks (Bonferroni)."""
        return alpha / len(self.looks)


def paired_logs(base: Series, new: Series) -> np.ndarray:
    """log(new / base) of each round, from the two sides' per-round medians in round order."""
    if base.process_medians is None or new.process_medians is None:
        raise ValueError("paired statistics need one median per round on both sides")
    if len(base.process_medians) != len(new.process_medians):
        raise ValueError("both sides need the same rounds")
    logs: np.ndarray = np.log(new.process_medians) - np.log(base.process_medians)
    return logs


def paired_test(logs: Sequence[float] | np.ndarray) -> RatioTest:
    """The ratio of geometric means, its 95% t interval and the p of 'no change', from the
    per-round log ratios."""
    values = np.asarray(logs, dtype=float)
    if len(values) < 2:
        raise ValueError("a paired test needs two rounds or more")
    mean = float(values.mean())
    spread = float(values.std(ddof=1))
    if spread == 0:
        return RatioTest(math.exp(mean), None, 1.0 if mean == 0 else 0.0, BASIS)
    return t_ratio_test(mean, spread / math.sqrt(len(values)), len(values) - 1, BASIS)


def classify(test: RatioTest, threshold: float, level: float) -> tuple[Outcome, Doubt]:
    """compare's rule on a paired test (see the module docstring), at one look's `level`."""
    moved = test.ratio > 1 + threshold or test.ratio < 1 / (1 + threshold)
    if not moved:
        return "same", ""
    if test.p_value is None or test.p_value >= level:
        return "unsure", "spread"
    return ("slower" if test.ratio > 1 else "faster"), ""


def look(key: str, base: Series, new: Series, gate: CaseGate, level: float) -> Verdict:
    """One case's verdict at one look, under its gate (judge/gates.py: its benchmark's own
    threshold, or excluded with the statistics kept for reading). A case not ok on a side is
    judged as compare judges it (broken, fixed, skipped, not comparable)."""
    if base.status != "ok" or new.status != "ok":
        return judge_gated(key, base, new, gate, level)
    test = paired_test(paired_logs(base, new))
    outcome, doubt = classify(test, gate.threshold, level)
    verdict = Verdict(
        key, base, new, test.ratio, test.ci95, test.p_value, outcome, BASIS, doubt, gate
    )
    return verdict if gate.excluded is None else replace(verdict, verdict="excluded", doubt="")


def sequential(
    logs: Sequence[float] | np.ndarray, schedule: Schedule, threshold: float, alpha: float
) -> tuple[Outcome, int]:
    """The verdict the looks of `schedule` reach on one case's log ratios (as many as the cap),
    and the rounds it took: what `labench ab` does for each case, on data given in advance."""
    level = schedule.level(alpha)
    outcome: Outcome = "unsure"
    for rounds in schedule.looks:
        outcome, _ = classify(paired_test(logs[:rounds]), threshold, level)
        if outcome != "unsure":
            return outcome, rounds
    return outcome, schedule.cap


def side_drift(series: Iterable[Series]) -> float | None:
    """How much one side moved from its first round to its last: exp of the median, over the
    cases measured in two rounds or more, of log(last round's median / first round's). Pairing
    cancels it; it is shown so a reader sees what a run-vs-run comparison would have carried."""
    logs = [
        math.log(medians[-1] / medians[0])
        for one in series
        if one.status == "ok" and (medians := one.process_medians) is not None and len(medians) > 1
    ]
    return math.exp(statistics.median(logs)) if logs else None


@dataclass(frozen=True)
class Pairing:
    """The A/B run's own figures, beside the comparison's verdicts."""

    schedule: Schedule
    alpha: float
    rounds: dict[str, int]
    """Rounds each compared case was measured in (the look that decided it, or the cap)."""
    base_drift: float | None
    new_drift: float | None

    @property
    def level(self) -> float:
        return self.schedule.level(self.alpha)


def paired_comparison(
    base: RunView,
    new: RunView,
    rounds: dict[str, int],
    only_in: dict[str, list[str]],
    schedule: Schedule,
    threshold: float,
    alpha: float,
) -> tuple[Comparison, Pairing]:
    """compare's `Comparison` of the two sides (each case judged at the last look it was
    measured to: `look`, at each look's level, under the gate settings the new side's suite
    stored, `threshold` for benchmarks without one), and the pairing's own figures."""
    level = schedule.level(alpha)
    verdicts = [
        look(key, base.cases[key], new.cases[key], case_gate(new.gates, key, threshold), level)
        for key in rounds
    ]
    labelled = {base.label: only_in.get("base", []), new.label: only_in.get("new", [])}
    comparison = Comparison(base, [new], [verdicts], labelled, threshold, level)
    pairing = Pairing(
        schedule,
        alpha,
        rounds,
        side_drift(base.cases[key] for key in rounds),
        side_drift(new.cases[key] for key in rounds),
    )
    return comparison, pairing
