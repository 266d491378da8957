"""Confirm on suspicion: the gate's answer to the memory-placement lottery at one run's cost.

A plain run is one process, one draw of where the allocator and the kernel put its arrays, and
on a shared machine that draw moves a small kernel's median by tens of percent
(execution/rounds.py).
Measuring every case in several processes (`--processes K`) sees that spread but costs K times
the run. Most cases of an honest run do not look slower than their baseline, though, and those
need no more evidence. So `run --baseline` re-measures only the suspects (cases that moved the
slow way beyond the threshold, within one process) in a few freshly spawned processes, each a new
draw of the lottery, and judges them on the spread between processes that it has then measured.

Suspects are confirmed largest apparent slowdown first, within a time budget (as long again as
the run's own measurement, at least MIN_BUDGET), so the gate costs at most about twice a plain run
even when every case looks slower; suspects left over stay `unsure`, and are named as such.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from labench.compare import Comparison, Verdict
from labench.execution.rounds import merge_processes
from labench.results import CaseResult, Result
from labench.runner import Observer
from labench.suite import Case

MIN_BUDGET = 2.0
"""Seconds of confirmation a run always gets, however short its own measurement was."""
CONFIRM_PROCESSES = 4
"""Fresh processes per suspect; with the run's own, five process medians (4 degrees of
freedom for the t prediction interval against a one-process baseline)."""

Measure = Callable[[Sequence[Case], Observer, int], Iterable[CaseResult]]
"""Runs cases in that many fresh processes and yields each merged result (execution/rounds.py)."""


@dataclass(frozen=True)
class Confirmation:
    confirmed: list[str]
    """Keys re-measured in fresh processes."""
    left: list[str]
    """Suspects the budget did not reach."""


def suspects(comparison: Comparison) -> list[Verdict]:
    """Cases that look slower with one process per run, the largest apparent slowdown first."""
    found = [verdict for verdict in comparison.unsure() if verdict.looks_slower]
    return sorted(found, key=lambda verdict: -(verdict.ratio or 0.0))


def case_cost(case: Case) -> float:
    """Seconds a case may take to measure: its warm-up and sampling budget (the K processes
    share it, as with --processes)."""
    return case.settings.max_time + case.settings.warmup


def within_budget(keys: Sequence[str], planned: dict[str, Case], budget: float) -> list[str]:
    """The longest prefix of `keys` whose cases fit in `budget` seconds (at least one)."""
    chosen, spent = [], 0.0
    for key in keys:
        cost = case_cost(planned[key])
        if chosen and spent + cost > budget:
            break
        chosen.append(key)
        spent += cost
    return chosen


def confirm(
    result: Result,
    keys: Sequence[str],
    planned: dict[str, Case],
    measure: Measure,
    observer: Observer,
    budget: float,
    processes: int = CONFIRM_PROCESSES,
) -> Confirmation:
    """Re-measure the suspects that fit in `budget` in `processes` fresh processes and fold
    those measurements into `result`: each confirmed case then carries its process medians
    (the run's own first) and the samples of every process."""
    chosen = within_budget(keys, planned, max(budget, MIN_BUDGET))
    position = {case.key: index for index, case in enumerate(result.cases)}
    done = []
    for measured in measure([planned[key] for key in chosen], observer, processes):
        index = position[measured.key]
        original = result.cases[index]
        if measured.status == "ok" and original.status == "ok":
            result.cases[index] = merge_processes([original, measured])
            done.append(measured.key)
    return Confirmation(done, [key for key in keys if key not in chosen])
