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

from collections.abc import Iterator, Sequence
from dataclasses import replace

from labench.core.progress import Observer
from labench.execution.base import Executor
from labench.results.merge import merge_processes
from labench.results.model import CaseResult
from labench.suite.case import Case


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
        shared = [share(case, 1 / self.processes) for case in cases]
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


def share(case: Case, part: float) -> Case:
    """One process's part of the case's time budget, warm-up included, so a run in K processes
    takes about as long as the suite says."""
    settings = case.settings
    return replace(
        case,
        settings=replace(
            settings, max_time=settings.max_time * part, warmup=settings.warmup * part
        ),
    )
