"""The one interface every execution strategy offers, so the CLI and the runner never ask HOW
cases run: in this process, in forked workers, in rounds of fresh processes, or on a Dask fleet.

Modelled on asv's `Spawner`: a strategy runs cases and yields their results as they finish;
it says whether it can stop a hung case (only one that owns the process a case runs in can), how
it is described in the result file (so `--resume` can refuse to continue a run another way), and
releases what it holds when closed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from labench.results import CaseResult
from labench.runner import Observer
from labench.suite import Case


class Executor(Protocol):
    """How cases run."""

    stops_hung_cases: bool
    """True when a case past its timeout can be killed (it runs in a process this one owns)."""

    def run(self, cases: Sequence[Case], observer: Observer) -> Iterator[CaseResult]:
        """Measure `cases` in order, yielding each result as it finishes."""
        ...

    def describe(self) -> str:
        """The execution mode in words, recorded in the result as `run.execution`."""
        ...

    def close(self) -> None:
        """Release workers, clusters or connections; the executor is not used again."""
        ...
