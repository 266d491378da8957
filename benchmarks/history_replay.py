"""labench's history gate and three anchors' gates, replayed on one machine's real history.

A history (`benchmarks/histories/*.json`, made by `extract_history.py`) holds, per run of a
suite and per case, the median of each process the run measured: process 1 is what a plain
one-process run would have measured, the others are fresh draws of the same moment. Four gates
judge each run's plain median against the runs before it, on the same series:

- **labench** (`run --against DIR`): the baseline of a case is `history_gate.case_baseline`
  of its previous plain medians (the newest HISTORY_WINDOW), as `history_baseline` builds it; the
  run's plain median is judged with `compare.judge` (threshold 10%, alpha 0.01); a suspect
  (`Verdict.looks_slower`) is confirmed as `execution/confirm.py` does, with the run's own fresh
  draws standing in for fresh processes: stage one adds up to CONFIRM_PROCESSES of them, stage
  two (`confirm.second_look`) up to CHECK_PROCESSES more. It alarms on a final `slower`; a final
  `unsure` that moved the slow way is `undecided` (the gate's exit 3), counted apart.
- **Bencher** (Student's t threshold, upper boundary 0.99, up to 64 results, at least 2): alarms
  when the new median is above mean + t(0.99, n-1) * sd * sqrt(1 + 1/n) of the previous ones.
- **conbench** (lookback z-score, up to 100 results): alarms when the new median is more than
  5 standard deviations above their mean.
- **Perfherder** (treeherder's sliding-window t-test: 12 to 24 runs back, 12 forward, linearly
  weighted means, t > 7, a local maximum of t, and at least a 2% change): retrospective, so it
  judges a run only once 12 more have come; a detection is an alert at the run or next to it.

A fifth row, "labench, runs' flags kept", is the same gate with each run's cases carrying the
flags (`contended`, `noisy`) their run recorded, as `run --against` reads them: the history's
flagged measurements are left out of the baseline while 5 steady ones remain, and a new flagged
case that moved is `unsure`, so undecided.

False alarms: the honest series, a run alarming when any of its cases does. Detection: a step of
s planted in one case from run k on (its plain median and fresh draws all multiplied by 1 + s),
k over the runs every gate can judge and the case over all cases; each gate judges the identical
planted series. Deterministic: no random draw anywhere (labench's noise model simulates its null
distribution with a fixed seed).

Run: python benchmarks/history_replay.py benchmarks/histories/quick.json
         [--steps 0.05 0.10 0.15] [--warmup 10] [--trials N] [--cases N] [--details]
         [--every-run]   (also plant at every run from the warm-up on, for the online gates)
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from labench.execution.confirm import second_look
from labench.judge.compare import Verdict, judge
from labench.judge.gate_settings import (
    CHECK_PROCESSES,
    CONFIRM_PROCESSES,
    HISTORY_MINIMUM,
    HISTORY_WINDOW,
)
from labench.judge.history_gate import case_baseline
from labench.results.views import Series

THRESHOLD = 0.10
ALPHA = 0.01
LEVEL_CHANGE = 0.05
"""`history_baseline`'s default `min_change`: steps smaller than this do not start a level."""
BENCHER_WINDOW, BENCHER_MINIMUM, BENCHER_BOUNDARY = 64, 2, 0.99
"""Bencher's t-test threshold: the newest 64 results, at least 2, upper boundary 0.99."""
CONBENCH_WINDOW, CONBENCH_MINIMUM, CONBENCH_Z = 100, 2, 5.0
"""conbench's lookback z-score: up to 100 earlier results, at least 2, threshold 5."""
PERFHERDER_MIN_BACK, PERFHERDER_MAX_BACK, PERFHERDER_FORE = 12, 24, 12
PERFHERDER_T, PERFHERDER_CHANGE = 7.0, 0.02
"""treeherder's defaults: PERFHERDER_ALERTS_MIN_BACK_WINDOW, _MAX_BACK_WINDOW, _FORE_WINDOW,
detect_changes' t_threshold, PERFHERDER_REGRESSION_THRESHOLD (2%)."""

ALARM, UNDECIDED, PASS = "alarm", "undecided", "pass"


@dataclass(frozen=True)
class CaseSeries:
    """One case over the runs: each run's plain median and its fresh draws."""

    key: str
    plain: np.ndarray
    fresh: tuple[np.ndarray, ...]
    flags: tuple[tuple[str, ...], ...] = ()
    """Each run's flags as the run recorded them (`noisy`, `contended`), when known."""

    def planted(self, start: int, step: float) -> CaseSeries:
        """The same case with every time from run `start` on multiplied by 1 + step."""
        factor = np.where(np.arange(len(self.plain)) >= start, 1.0 + step, 1.0)
        fresh = tuple(draws * factor[run] for run, draws in enumerate(self.fresh))
        return CaseSeries(self.key, self.plain * factor, fresh, self.flags)


@dataclass(frozen=True)
class History:
    suite: str
    machine: dict[str, Any]
    started: list[str]
    loads: list[dict[str, float] | None]
    processes: list[int]
    cases: dict[str, CaseSeries]
    left_out: list[str]
    """Cases not ok in every run."""

    @property
    def runs(self) -> int:
        return len(self.started)


def read_history(path: Path, limit: int | None = None) -> History:
    """A compact history; with `limit`, its first `limit` cases only (in file order)."""
    document = json.loads(path.read_text())
    ticks = document["ticks"]
    every = [key for key in ticks[0]["cases"]]
    keys = [key for key in every if all(key in tick["cases"] for tick in ticks)]
    left_out = [key for key in every if key not in keys]
    cases = {}
    for key in keys[:limit]:
        medians = [tick["cases"][key] for tick in ticks]
        cases[key] = CaseSeries(
            key,
            np.array([run[0] for run in medians], dtype=float),
            tuple(np.array(run[1:], dtype=float) for run in medians),
            tuple(tuple(tick.get("flags", {}).get(key, ())) for tick in ticks),
        )
    return History(
        document["suite"],
        document.get("machine", {}),
        [tick["started"] for tick in ticks],
        [tick.get("load") for tick in ticks],
        [len(next(iter(tick["cases"].values()))) for tick in ticks],
        cases,
        left_out,
    )


def process_series(medians: Sequence[float], flags: tuple[str, ...] = ()) -> Series:
    """A case measured in these processes (the first is the run's own), as compare reads it."""
    values = np.asarray(medians, dtype=float)
    return Series(
        status="ok",
        median=float(np.median(values)),
        samples=None,
        process_medians=values if len(values) > 1 else None,
        flags=flags,
    )


def history_series(previous: np.ndarray, flagged: Sequence[bool] = ()) -> Series:
    """The case's baseline from its previous plain medians (and which of them their runs
    flagged), by `history_gate.case_baseline`, the function `history_baseline` builds each
    case's with."""
    marks = tuple(flagged) or (False,) * len(previous)
    return _history_series(tuple(float(value) for value in previous), marks)


@functools.lru_cache(maxsize=100_000)
def _history_series(medians: tuple[float, ...], flagged: tuple[bool, ...]) -> Series:
    """`history_series`, once per history: a planted step's run has its honest run's history."""
    return case_baseline(medians, flagged, HISTORY_WINDOW, HISTORY_MINIMUM, LEVEL_CHANGE).series


def labench_verdict(series: CaseSeries, run: int, flagged: bool = False) -> Verdict:
    """The history gate's final verdict of one case at one run, suspects confirmed in the run's
    own fresh draws: stage one up to CONFIRM_PROCESSES, stage two (`second_look`) up to
    CHECK_PROCESSES more. With `flagged`, the new run carries the flags its run recorded, and
    the history's flagged measurements are left out of the baseline as the gate leaves them."""
    marks = [bool(flags) for flags in series.flags[:run]] if flagged and series.flags else []
    base = history_series(series.plain[:run], marks)
    plain, fresh = float(series.plain[run]), [float(value) for value in series.fresh[run]]
    flags = series.flags[run] if flagged and series.flags else ()
    if not beyond_threshold(base, plain):
        return Verdict(series.key, base, process_series([plain]), None, None, None, "same")

    def judged(medians: list[float]) -> Verdict:
        return judge(series.key, base, process_series(medians, flags), THRESHOLD, ALPHA)

    verdict = judged([plain])
    if not verdict.looks_slower or not fresh:
        return verdict
    first = fresh[:CONFIRM_PROCESSES]
    verdict = judged([plain, *first])
    more = fresh[CONFIRM_PROCESSES : CONFIRM_PROCESSES + CHECK_PROCESSES]
    if more and second_look({series.key: verdict}, {series.key: 0.0}, math.inf):
        verdict = judged([plain, *first, *more])
    return verdict


def beyond_threshold(base: Series, plain: float) -> bool:
    """Whether `compare.judge` could find the plain median moved the slow way beyond the
    threshold: its ratio is the median's to the baseline's median (one process a side) or to
    the geometric midpoint of the baseline's middle values (`prediction_log_ratio`); within
    the threshold by both, the verdict is `same` or `faster`, and the noise model's simulated
    p-value (50 ms a case here) need not be computed. The replay's only shortcut."""
    assert base.median is not None
    values = base.process_medians
    midpoint = base.median if values is None else math.exp(float(np.median(np.log(values))))
    return max(plain / base.median, plain / midpoint) > 1 + THRESHOLD


def labench_outcome(verdict: Verdict) -> str:
    if verdict.verdict == "slower":
        return ALARM
    if verdict.verdict == "unsure" and verdict.moved_slower:
        return UNDECIDED
    return PASS


def bencher_alarms(previous: np.ndarray, new: float) -> bool:
    """Above the upper boundary of a Student-t prediction interval of the previous results."""
    values = previous[-BENCHER_WINDOW:]
    n = len(values)
    spread = float(np.std(values, ddof=1))
    quantile = float(stats.t.ppf(BENCHER_BOUNDARY, n - 1))
    return new > float(np.mean(values)) + quantile * spread * math.sqrt(1 + 1 / n)


def conbench_alarms(previous: np.ndarray, new: float) -> bool:
    """More than CONBENCH_Z standard deviations above the mean of the previous results."""
    values = previous[-CONBENCH_WINDOW:]
    spread = float(np.std(values, ddof=1))
    if spread == 0:
        return new > float(np.mean(values))
    return (new - float(np.mean(values))) / spread > CONBENCH_Z


def weighted_stats(window: Sequence[float] | np.ndarray) -> tuple[float, float, int]:
    """Perfherder's window statistics, nearest run first: the linearly weighted mean (weight
    (n - i) / n for the i-th nearest), and the variance about it."""
    values = np.asarray(window, dtype=float)
    n = len(values)
    weights = (n - np.arange(n)) / n
    mean = float(np.sum(values * weights) / np.sum(weights))
    variance = float(np.sum((values - mean) ** 2) / (n - 1)) if n > 1 else 0.0
    return mean, variance, n


def perfherder_t(back: np.ndarray, fore: np.ndarray) -> float:
    if not len(back) or not len(fore):
        return 0.0
    mean_b, var_b, n_b = weighted_stats(back)
    mean_f, var_f, n_f = weighted_stats(fore)
    if mean_f == mean_b:
        return 0.0
    if var_b == 0 and var_f == 0:
        return math.inf
    return abs(mean_f - mean_b) / math.sqrt(var_b / n_b + var_f / n_f)


def perfherder_scan(values: np.ndarray) -> set[int]:
    """Runs where treeherder's alert algorithm finds a regression of the series: t over a back
    window (12 runs, growing to 24 while no change is seen) and a fore window of 12, a local
    maximum of t above 7, full windows on both sides, and a slowdown of at least 2% between the
    windows' plain means."""
    n = len(values)
    scores, back_sizes, fore_sizes = np.zeros(n), np.zeros(n, int), np.zeros(n, int)
    quiet = 0  # runs since t last exceeded the threshold: the back window grows with it
    for run in range(1, n):
        width = min(max(quiet, PERFHERDER_MIN_BACK), PERFHERDER_MAX_BACK, run)
        back = values[run - width : run][::-1]
        fore = values[run : run + PERFHERDER_FORE]
        back_sizes[run], fore_sizes[run] = len(back), len(fore)
        scores[run] = perfherder_t(back, fore)
        quiet = 0 if scores[run] > PERFHERDER_T else quiet + 1
    found = set()
    for run in range(1, n):
        if back_sizes[run] < PERFHERDER_MIN_BACK or fore_sizes[run] < PERFHERDER_FORE:
            continue
        if scores[run] <= PERFHERDER_T or scores[run - 1] > scores[run]:
            continue
        if run + 1 < n and scores[run + 1] > scores[run]:
            continue
        width = back_sizes[run]
        before = float(np.mean(values[run - width : run]))
        after = float(np.mean(values[run : run + PERFHERDER_FORE]))
        if after > before and (after - before) / before >= PERFHERDER_CHANGE:
            found.add(run)
    return found


@dataclass
class Gate:
    """A gate as the replay uses it: its outcome for one case at each of some runs."""

    name: str
    outcomes: Callable[[CaseSeries, Sequence[int]], dict[int, str]]
    tolerance: int = 0
    """Runs either side of a planted step's first run at which an alarm counts as detecting it."""
    first: int = 0
    """Runs it needs before it judges one."""
    after: int = 0
    """Runs it needs after one, to judge it."""

    def judged(self, runs: int, warmup: int) -> range:
        return range(max(warmup, self.first), runs - self.after)


def online(alarms: Callable[[np.ndarray, float], bool]) -> Callable[..., dict[int, str]]:
    def outcomes(series: CaseSeries, runs: Sequence[int]) -> dict[int, str]:
        return {
            run: ALARM if alarms(series.plain[:run], float(series.plain[run])) else PASS
            for run in runs
        }

    return outcomes


def labench_outcomes(series: CaseSeries, runs: Sequence[int]) -> dict[int, str]:
    return {run: labench_outcome(labench_verdict(series, run)) for run in runs}


def labench_flagged_outcomes(series: CaseSeries, runs: Sequence[int]) -> dict[int, str]:
    return {run: labench_outcome(labench_verdict(series, run, flagged=True)) for run in runs}


def perfherder_outcomes(series: CaseSeries, runs: Sequence[int]) -> dict[int, str]:
    found = perfherder_scan(series.plain)
    return {run: ALARM if run in found else PASS for run in runs}


def gates() -> list[Gate]:
    return [
        Gate("labench history gate", labench_outcomes, first=1),
        Gate("labench, runs' flags kept", labench_flagged_outcomes, first=1),
        Gate("Bencher t-test (0.99)", online(bencher_alarms), first=BENCHER_MINIMUM),
        Gate("conbench z-score (5)", online(conbench_alarms), first=CONBENCH_MINIMUM),
        Gate(
            "Perfherder t-test (7, 2%)",
            perfherder_outcomes,
            tolerance=1,
            first=PERFHERDER_MIN_BACK,
            after=PERFHERDER_FORE - 1,
        ),
    ]


@dataclass(frozen=True)
class Trial:
    key: str
    start: int
    step: float


def trials(
    history: History,
    every: Sequence[Gate],
    warmup: int,
    steps: Sequence[float],
    limit: int | None = None,
) -> list[Trial]:
    """The planted steps: each case at each run that every gate can judge (and, for one with a
    tolerance, the runs either side), case-major; with `limit`, that many per step, evenly
    spaced over that order, so every case and the whole range of runs are still covered."""
    starts = range(
        max(gate.judged(history.runs, warmup).start + gate.tolerance for gate in every),
        min(gate.judged(history.runs, warmup).stop - gate.tolerance for gate in every),
    )
    grid = [(key, start) for key in history.cases for start in starts]
    if limit is not None and limit < len(grid):
        grid = [grid[index * len(grid) // limit] for index in range(limit)]
    return [Trial(key, start, step) for step in steps for key, start in grid]


@dataclass
class GateResult:
    judged: int = 0
    alarm_runs: int = 0
    common_judged: int = 0
    common_alarm_runs: int = 0
    """The same over the runs every gate judges."""
    undecided_runs: int = 0
    alarms: Counter[str] = field(default_factory=Counter)
    """Case -> runs it alarmed on, honest."""
    alarm_at: list[tuple[str, int]] = field(default_factory=list)
    detected: Counter[float] = field(default_factory=Counter)
    undecided: Counter[float] = field(default_factory=Counter)
    planted: Counter[float] = field(default_factory=Counter)


def honest(
    history: History, gate: Gate, warmup: int, result: GateResult, common: range | None = None
) -> None:
    """False alarms: each judged run alarms when any case does (undecided when none alarms
    and one is undecided); also counted over the `common` runs, those every gate judges."""
    runs = list(gate.judged(history.runs, warmup))
    by_run: dict[int, list[str]] = {run: [] for run in runs}
    for key, series in history.cases.items():
        for run, outcome in gate.outcomes(series, runs).items():
            by_run[run].append(outcome)
            if outcome == ALARM:
                result.alarms[key] += 1
                result.alarm_at.append((key, run))
    result.judged = len(runs)
    result.alarm_runs = sum(ALARM in outcomes for outcomes in by_run.values())
    result.undecided_runs = sum(
        ALARM not in outcomes and UNDECIDED in outcomes for outcomes in by_run.values()
    )
    shared = [run for run in runs if common is not None and run in common]
    result.common_judged = len(shared)
    result.common_alarm_runs = sum(ALARM in by_run[run] for run in shared)


def planted(
    history: History, every: Sequence[Gate], chosen: Sequence[Trial], results: dict[str, GateResult]
) -> None:
    """Each trial's planted series, made once and judged by every gate."""
    for trial in chosen:
        series = history.cases[trial.key].planted(trial.start, trial.step)
        for gate in every:
            near = range(trial.start - gate.tolerance, trial.start + gate.tolerance + 1)
            outcomes = gate.outcomes(series, list(near))
            result = results[gate.name]
            result.planted[trial.step] += 1
            result.detected[trial.step] += ALARM in outcomes.values()
            result.undecided[trial.step] += outcomes.get(trial.start) == UNDECIDED


def replay(
    history: History, warmup: int, steps: Sequence[float], limit: int | None = None
) -> tuple[dict[str, GateResult], list[Trial]]:
    every = gates()
    results = {gate.name: GateResult() for gate in every}
    spans = [gate.judged(history.runs, warmup) for gate in every]
    common = range(max(span.start for span in spans), min(span.stop for span in spans))
    for gate in every:
        honest(history, gate, warmup, results[gate.name], common)
    chosen = trials(history, every, warmup, steps, limit)
    planted(history, every, chosen, results)
    return results, chosen


def per_hundred(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}" if total else "-"


def table(history: History, results: dict[str, GateResult], steps: Sequence[float]) -> str:
    head = ["gate", "runs judged", "false-alarm runs /100", "on the runs all judge"]
    head += [f"detected at {step:.0%}" for step in steps] + ["undecided /100 (honest; planted)"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, result in results.items():
        row = [
            name,
            str(result.judged),
            f"{per_hundred(result.alarm_runs, result.judged)} ({result.alarm_runs})",
            f"{per_hundred(result.common_alarm_runs, result.common_judged)} "
            f"({result.common_alarm_runs}/{result.common_judged})",
        ]
        row += [
            f"{per_hundred(result.detected[step], result.planted[step])}% "
            f"({result.detected[step]}/{result.planted[step]})"
            for step in steps
        ]
        if name.startswith("labench"):
            planted_total = sum(result.planted.values())
            row.append(
                f"{per_hundred(result.undecided_runs, result.judged)}; "
                f"{per_hundred(sum(result.undecided.values()), planted_total)}"
            )
        else:
            row.append("-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def describe(history: History) -> str:
    starts = [load["start"] for load in history.loads if load and "start" in load]
    ends = [load["end"] for load in history.loads if load and "end" in load]
    loads = starts + ends
    load = (
        f"1-minute load average {min(loads):.2f} to {max(loads):.2f} (median of starts "
        f"{float(np.median(starts)):.2f})"
        if loads
        else "load average not recorded"
    )
    machine = history.machine
    processes = ", ".join(f"{k}: {v} runs" for k, v in sorted(Counter(history.processes).items()))
    return (
        f"suite {history.suite}: {history.runs} runs from {history.started[0]} to "
        f"{history.started[-1]}, {len(history.cases)} cases ok in every run (and "
        f"{len(history.left_out)} ok in some, left out); processes per run {processes}; "
        f"{machine.get('cpu')}, "
        f"{machine.get('cores_logical')} logical cores; {load}"
    )


def details(history: History, results: dict[str, GateResult]) -> None:
    """Which cases alarmed on the honest series, and, for labench's gate, on what evidence."""
    for name, result in results.items():
        top = ", ".join(f"{key} {count}" for key, count in result.alarms.most_common(6))
        print(f"  {name}: honest alarms by case: {top or 'none'}")
    for key, run in results["labench history gate"].alarm_at:
        series = history.cases[key]
        verdict = labench_verdict(series, run)
        base = history_series(series.plain[:run])
        level = "few" if base.process_medians is None else len(base.process_medians)
        window = series.plain[max(0, run - HISTORY_WINDOW) : run] / base.median
        new = np.asarray(verdict.new.process_medians) / base.median
        print(
            f"    run {run} {key}: x{verdict.ratio:.3f} p={verdict.p_value:.2g} "
            f"({verdict.basis}); level of {level} runs; earlier runs / level median "
            f"{np.round(window, 2).tolist()}; this run's draws {np.round(new, 2).tolist()}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("history", type=Path, nargs="+")
    parser.add_argument("--steps", type=float, nargs="+", default=[0.05, 0.10, 0.15])
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--trials", type=int, help="planted trials per step (default: all)")
    parser.add_argument("--cases", type=int, help="the first N cases only")
    parser.add_argument("--details", action="store_true", help="the cases that alarmed, honest")
    parser.add_argument(
        "--every-run",
        action="store_true",
        help="also plant steps at every run from the warm-up on, for the gates that judge a run "
        "when it comes (all but Perfherder)",
    )
    options = parser.parse_args()
    for path in options.history:
        history = read_history(path, options.cases)
        results, chosen = replay(history, options.warmup, options.steps, options.trials)
        print(describe(history))
        print(planted_line(options.warmup, chosen, len(options.steps)))
        print(table(history, results, options.steps))
        if options.details:
            details(history, results)
        if options.every_run:
            online_gates = [gate for gate in gates() if not gate.after]
            wider = {gate.name: results[gate.name] for gate in online_gates}
            for result in wider.values():
                result.detected, result.undecided, result.planted = Counter(), Counter(), Counter()
            chosen = trials(history, online_gates, options.warmup, options.steps, options.trials)
            planted(history, online_gates, chosen, wider)
            print(planted_line(options.warmup, chosen, len(options.steps)))
            print(table(history, wider, options.steps))
        print()
    return 0


def planted_line(warmup: int, chosen: Sequence[Trial], steps: int) -> str:
    if not chosen:
        return "no planted trial"
    starts = sorted({trial.start for trial in chosen})
    return (
        f"warm-up {warmup} runs; {len(chosen) // steps} planted trials per step, at runs "
        f"{starts[0]} to {starts[-1]} (counted from 0)"
    )


if __name__ == "__main__":
    sys.exit(main())
