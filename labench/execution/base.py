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

from labench.backends import computes_elsewhere
from labench.core.progress import Observer
from labench.results.model import CaseResult
from labench.suite.case import Case


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


def here_first(cases: Sequence[Case]) -> list[Case]:
    """`cases` with those computed on other machines (a dask cluster) moved to the end, each
    group in its given order. A LocalCluster's workers are processes on this machine, idle but
    awake (event loops, heartbeats); on a 16-core H200 host, every all-core case measured after
    the first dask case was flagged `contended` while the cluster lived. So a pass measures
    what runs here first, then starts the cluster, and lets it go when the pass ends (the
    result keeps the suite's order: resume.in_suite_order)."""
    return sorted(cases, key=lambda case: computes_elsewhere(case.backend))
