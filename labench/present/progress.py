"""The live progress bar of a run, offered to the runner as an observer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from labench.core.progress import Observer
from labench.results.model import CaseResult
from labench.suite.case import Case


@contextmanager
def progress_observer(console: Console, cases: Sequence[Case], enabled: bool) -> Iterator[Observer]:
    """A progress bar with ETA on a terminal; silent otherwise (CI logs, pipes, --quiet)."""
    if not enabled or not console.is_terminal:
        yield Observer()
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("starting", total=len(cases))
        measured: set[str] = set()
        compiled: set[str] = set()

        def started(case: Case) -> None:
            description = case.key
            if case.key in measured:  # a noisy case measured again: one more step, not past the end
                progress.update(task, total=(progress.tasks[task].total or 0) + 1)
                description = f"again: {case.key}"
            elif case.backend == "numba" and "numba" not in compiled:
                compiled.add("numba")
                description = f"{case.key} (Numba compiles its kernels on first use)"
            progress.update(task, description=description)

        def finished(result: CaseResult) -> None:
            measured.add(result.key)
            progress.advance(task)

        yield Observer(started=started, finished=finished)
