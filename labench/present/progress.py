"""The live progress bar of a run, offered to the runner as an observer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from labench.core.progress import Observer
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
        yield Observer(
            started=lambda case: progress.update(task, description=case.key),
            finished=lambda result: progress.advance(task),
        )
