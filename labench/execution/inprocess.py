"""Cases in this process: the cheapest strategy, and the one a hung kernel cannot be stopped in."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from labench.backends import release_all
from labench.core.progress import Observer
from labench.execution.base import here_first
from labench.measure.case import run_cases
from labench.results.model import CaseResult
from labench.suite.case import Case


class InProcess:
    """Run each case in the calling process (`labench run` without --isolate)."""

    stops_hung_cases = False

    def run(self, cases: Sequence[Case], observer: Observer) -> Iterator[CaseResult]:
        yield from run_cases(here_first(cases), observer)
        release_all()  # a cluster started for the pass's last cases must not outlive it

    def describe(self) -> str:
        return "in-process"

    def close(self) -> None:
        """A cluster a dask case started is closed with the run."""
        release_all()
