"""Confirm on suspicion: the gate's answer to the memory-placement lottery at one run's cost.

A plain run is one process, one draw of where the allocator and the kernel put its arrays, and
on a shared machine that draw moves a small kernel's median by tens of percent
(execution/rounds.py).
Measuring every case in several processes (`--processes K`) sees that spread but costs K times
the run. Most cases of an honest run do not look slower than their baseline, though, and those
need no more evidence. So `run --baseline` re-measures only the suspects (cases that moved the
slow way beyond the threshold, within one process) in a few freshly drawn processes, and judges
them on the spread between processes that it has then measured (compare's `noise model`).

Two stages, because the lottery can be lopsided. A one-process baseline is a single draw; when it
drew a rare fast placement (a 64x64 Numba matmul at 34 us where most processes give 56 us), six
fresh draws can all land in the common slow mode, agree closely, and call the baseline's luck a
regression. So every case that stage one finds slower is measured again, all of them together,
in CHECK_PROCESSES more processes before the gate may fail on it: a fast mode that exists shows
up among thirteen draws with high probability, widens the spread on the baseline's side and
clears the case; a real regression stays slower in every draw.

Stage two also takes, as far as the budget allows, what stage one could not decide: cases that
moved the slow way beyond the threshold across the seven draws, but not significantly
(`unsure`, doubt `spread`). Seven draws of a case whose processes land in two placements left
real 17% slowdowns at p = 0.016-0.056; thirteen settle it either way. Measured with
gate_noise.py on the 2-core VM on a day it ran a plain quick suite in 4.0-5.4 s rather than its
usual 3.5 s: with stage two for slower cases only, 30 of 30 honest pairs passed and 26 of 30
x1.176 slowdowns were caught (each miss examined ended with such cases); with them, 29 of 30
and 30 of 30, and budgeted (`second_look`), 20 of 20 and 20 of 20 (README).

Both stages' sizes were chosen on measured data (gate_settings.py). Every suspect is examined:
the cost follows the number of suspects, so an honest run, where few cases look slower, stays
cheap, and a budget never turns an unexamined suspect into a pass. A user may cap the time
(`run --confirm-budget`): then stage one takes suspects (the cheapest to confirm first, see
`suspects`) in batches for half the cap, on the clock, and stage two the rest; what the cap
leaves unexamined is named, and the run ends UNDECIDED rather than passing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from labench.backends import BACKENDS
from labench.core.host import usable_cores
from labench.core.progress import Observer
from labench.judge.compare import Verdict, judge_gated
from labench.judge.gate_settings import (
    BATCH,
    CHECK_PROCESSES,
    CONFIRM_PROCESSES,
    FIRST_LOOK_SHARE,
    MIN_BUDGET,
)
from labench.judge.gates import case_gate
from labench.results.merge import merge_processes
from labench.results.model import CaseResult, Result
from labench.results.views import RunView, run_view
from labench.suite.case import Case

Measure = Callable[[Sequence[Case], Observer, int], Iterable[CaseResult]]
"""Runs cases in that many fresh processes and yields each merged result (execution/rounds.py)."""


@dataclass
class Confirmation:
    confirmed: list[str] = field(default_factory=list)
    """Keys re-measured in fresh processes."""
    checked: list[str] = field(default_factory=list)
    """Keys stage one did not clear (`second_look`), measured again in CHECK_PROCESSES more
    processes."""
    left: list[str] = field(default_factory=list)
    """Suspects a user's cap (`budget`) did not reach."""


def suspects(verdicts: Iterable[Verdict], planned: dict[str, Case]) -> list[Verdict]:
    """Cases that look slower with one process per run, in the order they are best confirmed:

    - the cheapest first: those whose backend loads no compiled code in a fresh process (a
      fresh fork measuring a NumPy case cost 0.05 s here, a Numba one 0.45 s);
    - then those that leave a core free: a case on every core feels any other tenant of the
      machine, and such a state can outlast a whole gated run. On the 2-core VM the two-thread
      256 x 256 NumPy matmul took 355 us in most runs and 540 us in 2 of 10, every fresh
      process of such a run included, with its one-thread twin unmoved: confirmed first, it
      raised 2 false alarms in 10 honest pairs;
    - the longest-running first, so a budget that runs out leaves the quickest kernels, whose
      medians move most with placement."""
    found = [verdict for verdict in verdicts if verdict.looks_slower]
    cores = usable_cores()
    return sorted(
        found,
        key=lambda verdict: (
            jit(planned, verdict.key),
            planned[verdict.key].threads >= cores > 1,
            -(verdict.base.median or 0.0),
        ),
    )


def jit(planned: dict[str, Case], key: str) -> bool:
    """Whether the case's backend loads compiled code in each fresh process (`Backend.jit`)."""
    return BACKENDS[planned[key].backend].jit


def fresh_cost(result: Result, key: str) -> float:
    """Seconds measuring the case again in one fresh process should take: what making its
    inputs and measuring it took in this run (`runner.with_costs`)."""
    case = next(case for case in result.cases if case.key == key)
    return (case.metrics.get("setup_seconds") or 0.0) + (case.metrics.get("measure_seconds") or 0.0)


def next_batch(
    pending: Sequence[str], planned: dict[str, Case], costs: dict[str, float], left: float
) -> list[str]:
    """The next suspects to measure together, in order, skipping any whose planned cost
    (`costs`) no longer fits in `left` seconds: up to BATCH of one kind, and a case whose
    backend loads compiled code in each fresh process alone (five fresh processes cost such a
    case about 2.5 s here, so batching it with cheap ones would hold them all up)."""
    kind = jit(planned, pending[0])
    batch: list[str] = []
    for key in pending:
        if len(batch) == (1 if kind else BATCH) or jit(planned, key) != kind:
            break
        if costs[key] <= left:
            batch.append(key)
            left -= costs[key]
    return batch


def remeasure(
    result: Result,
    keys: Sequence[str],
    planned: dict[str, Case],
    measure: Measure,
    observer: Observer,
    processes: int,
) -> list[str]:
    """Measure `keys` in `processes` fresh processes and fold the measurements into `result`:
    each case then carries every process median it has (the run's own first) and the samples
    of every process. A case that fails in a fresh process keeps what it had."""
    position = {case.key: index for index, case in enumerate(result.cases)}
    done = []
    for measured in measure([planned[key] for key in keys], observer, processes):
        index = position[measured.key]
        original = result.cases[index]
        if measured.status == "ok" and original.status == "ok":
            result.cases[index] = merge_processes([original, measured])
            done.append(measured.key)
    return done


@dataclass(frozen=True)
class Judging:
    """How the gate compares: against which run, with what threshold and significance."""

    base: RunView
    threshold: float
    alpha: float

    def verdicts(self, result: Result, keys: Iterable[str]) -> dict[str, Verdict]:
        """The verdicts of `keys` (those in both runs) only: judged once per look, so each
        look costs the few cases it asks about, not a comparison of the whole run. Each case
        under its suite's gate setting as the new run stores it: its benchmark's threshold,
        and an excluded case is `excluded`, so it is never a suspect to confirm."""
        new = run_view(result, "new").cases
        gates = result.suite.gates
        return {
            key: judge_gated(
                key,
                self.base.cases[key],
                new[key],
                case_gate(gates, key, self.threshold),
                self.alpha,
            )
            for key in keys
            if key in self.base.cases and key in new
        }


def second_look(found: dict[str, Verdict], costs: dict[str, float], left: float) -> list[str]:
    """What stage two measures again, in stage one's order: every case stage one found slower
    (the gate never fails on a case only stage one saw slower), then, while their planned cost
    (`costs`) fits in the `left` seconds of the budget, the cases it could not decide: moved the
    slow way, not significantly (`Verdict.might_be_slower`). Those are for power, not for
    safety, so they must not take the gate beyond its budget (a Numba case checked in six more
    fresh processes cost 3 s, and took honest gated runs to 2.6x a plain run); without a cap
    `left` is infinite and every one is measured again."""
    slower = [key for key, verdict in found.items() if verdict.verdict == "slower"]
    left -= sum(costs[key] for key in slower)
    undecided = []
    for key, verdict in found.items():
        if verdict.might_be_slower and costs[key] <= left:
            undecided.append(key)
            left -= costs[key]
    return slower + undecided


def confirm(
    result: Result,
    judging: Judging,
    planned: dict[str, Case],
    measure: Measure,
    observer: Observer,
    budget: float | None = None,
    processes: int = CONFIRM_PROCESSES,
    clock: Callable[[], float] = time.perf_counter,
) -> Confirmation:
    """Both stages (see the module docstring) on the suspects of `result` against the base,
    every suspect examined unless `budget` caps the seconds they may take. Under a cap, stage
    one plans each batch by what its cases cost in this run, within what `clock` says is left
    of its share of the cap, and scales later plans by how far the real cost of earlier batches
    exceeded theirs; a suspect that does not fit is `left`. Stage two plans the same way within
    what is left of the whole cap (`second_look`)."""
    started = clock()
    cap = math.inf if budget is None else max(budget, MIN_BUDGET)
    verdicts = judging.verdicts(result, planned).values()
    pending = [verdict.key for verdict in suspects(verdicts, planned)]
    outcome = Confirmation()
    share, scale = cap * FIRST_LOOK_SHARE, 1.0
    costs = {key: processes * fresh_cost(result, key) for key in pending}
    while pending:
        left = share - (clock() - started)
        batch = next_batch(pending, planned, costs, left / scale) if left > 0 else []
        if not batch:
            break
        pending = [key for key in pending if key not in batch]
        began = clock()
        outcome.confirmed += remeasure(result, batch, planned, measure, observer, processes)
        # what the batch really took against its plan: later plans are scaled by it
        scale = max(scale, (clock() - began) / max(sum(costs[key] for key in batch), 1e-9))
    outcome.left = pending
    found = judging.verdicts(result, outcome.confirmed)
    # stage one's costs and their measured overrun, for CHECK_PROCESSES instead of `processes`
    checks = {key: costs[key] * scale * CHECK_PROCESSES / processes for key in found}
    outcome.checked = second_look(found, checks, cap - (clock() - started))
    if outcome.checked:  # the gate never fails on a case only stage one saw slower
        remeasure(result, outcome.checked, planned, measure, observer, CHECK_PROCESSES)
    return outcome
