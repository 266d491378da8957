"""`--processes K`: every case measured in K fresh processes, merged into one result.

A process is a sample of the things one run cannot vary: where the allocator put the arrays
(cache-set and 4K aliasing), which physical pages back them, the state of the JIT cache. On a
shared machine these move a median by tens of percent from one process to the next while the
samples inside a process agree to 1-2%, so a confidence interval from one process is far too
narrow. Keeping each process's median lets `compare` judge with the variance between processes,
as pyperf does.

The rounds wrap any executor: the whole list runs K times, round-robin, each case taking 1/K of
its time budget per round, and every case is yielded once, merged, during the last round.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace

from labench.core.stats import summarize
from labench.execution.base import Executor
from labench.measure.runner import Observer, rates
from labench.results.model import CaseResult, Flag, Timing
from labench.suite.load import Case


class Rounds:
    """Run every case `processes` times through `inner`, which must give each benchmark fresh
    processes (an `Isolated` executor that spawns) for the rounds to be independent draws."""

    def __init__(self, inner: Executor, processes: int):
        self.inner = inner
        self.processes = processes
        self.stops_hung_cases = inner.stops_hung_cases

    def run(self, cases: Sequence[Case], observer: Observer) -> Iterator[CaseResult]:
        # Round-robin, so each case's processes are spread over the whole run rather than
        # clustered in the few seconds when a neighbour on a shared machine may be busy.
        # The inner executor decides how a round is split into workers (Isolated: one fresh
        # worker per benchmark, or one for all with `together`).
        shared = [_share(case, 1 / self.processes) for case in cases]
        measured: dict[str, list[CaseResult]] = {}
        for round_number in range(1, self.processes + 1):
            for result in self.inner.run(shared, observer):
                measured.setdefault(result.key, []).append(result)
                if round_number == self.processes:
                    yield merge_processes(measured.pop(result.key))

    def describe(self) -> str:
        return f"{self.inner.describe()}, {self.processes} processes in rounds"

    def close(self) -> None:
        self.inner.close()


def _share(case: Case, share: float) -> Case:
    """One process's part of the case's time budget, warm-up included, so a run in K processes
    takes about as long as the suite says."""
    settings = case.settings
    return replace(
        case,
        settings=replace(
            settings, max_time=settings.max_time * share, warmup=settings.warmup * share
        ),
    )


def merge_processes(measured: Sequence[CaseResult]) -> CaseResult:
    """One case from its runs in several processes: all samples pooled, each process's median
    kept (an input that was itself merged brings all of its process medians). A process that
    did not measure the case makes the whole case that status.

    Each process calibrates its own inner loop count; the smallest is kept, the conservative
    figure for the clock-resolution margin of the pooled samples. The contention seen is the
    worst of any process; the flags are those of most processes (`majority_flags`)."""
    for index, result in enumerate(measured, start=1):
        if result.status in ("wrong", "error"):
            reason = f"in process {index} of {len(measured)}: {result.reason}"
            return result.model_copy(update={"reason": reason})
        if result.status != "ok" or result.timing is None:
            return result
    timings = [result.timing for result in measured if result.timing is not None]
    samples = [sample for timing in timings for sample in timing.samples]
    summary = summarize(samples)
    timing = Timing(
        **summary.model_dump(),
        first_call=statistics.median(timing.first_call for timing in timings),
        inner_loops=min(timing.inner_loops for timing in timings),
        stopped_by=Counter(timing.stopped_by for timing in timings).most_common(1)[0][0],
        samples=samples,
        process_medians=[
            median for timing in timings for median in (timing.process_medians or [timing.median])
        ],
    )
    first = measured[0]
    metrics = first.metrics | rates(
        first.metrics.get("flops"), first.metrics.get("bytes"), summary.median
    )
    for name in ("others_cores", "steal"):
        seen = [result.metrics[name] for result in measured if result.metrics.get(name) is not None]
        if seen:
            metrics[name] = max(seen)
    return first.model_copy(
        update={"timing": timing, "metrics": metrics, "flags": majority_flags(measured)}
    )


def majority_flags(measured: Sequence[CaseResult]) -> list[Flag]:
    """The flags carried by more than half of the processes (a result weighs as many processes
    as it holds medians). Each process flags itself (`noisy`, `contended`); one that a neighbour
    disturbed is a slow outlier that the noise model between processes already discounts
    (compare.side_statistic), and flagging the whole case for it made more processes give a
    less certain verdict: on the quiet 2-core VM, merged over 11 to 13 processes, one flagged
    process left a steady case 20% slower `unsure`. A neighbour present throughout flags most
    processes, and the case with them."""
    weight: Counter[Flag] = Counter()
    total = 0
    for result in measured:
        count = len(result.timing.process_medians) if result.timing else 0
        total += count or 1
        weight.update({flag: count or 1 for flag in result.flags})
    return sorted(flag for flag, carried in weight.items() if 2 * carried > total)
