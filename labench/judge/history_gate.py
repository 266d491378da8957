"""The machine's history as the baseline of a gate (`run --against DIR`).

A one-process baseline is one draw of the memory-placement lottery and of the machine's state
that day; a history of the same machine and suite holds many: each earlier run's median of a
case is one draw, taken on another day, in another process. Their spread is the noise a new
run's median must stand out of, placement and drift included, measured rather than assumed.
So the baseline of each case is its last runs as if they were processes of one run (compare's
`noise model`, and once suspects are confirmed in fresh processes, Welch's test on both sides'
process medians): no new statistics, the gate's own, with a better baseline.

Which runs: those of this machine (its fingerprint) on this BLAS, of this suite, the newest
`window` of them per case (a measurement flagged noisy, contended or throttled is left out: a
neighbour's time is not the code's, and one such run among thirty moves a mean of logarithms
more than a 15% regression does), and of those only the ones on the case's newest level: a step
detected in that window (`steps.detect_steps`) is accepted once its new level holds `minimum`
runs; before, the level before it stays the baseline (so a regression is not forgiven by the
run that brought it). A case with fewer than `minimum` runs on its level is judged as against a
one-process baseline, its suspects confirmed in fresh processes, and the header says so.

Reads the results store only; never runs a kernel.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labench.core.errors import InputError
from labench.judge.gate_settings import HISTORY_MINIMUM, HISTORY_WINDOW
from labench.judge.steps import detect_steps
from labench.results.model import Environment, Result
from labench.results.store import Store, StoredRun, blas_of, opened
from labench.results.views import PYTEST_SUITE, PytestRun, RunView, Series, load_any


@dataclass
class HistoryBaseline:
    """The history as one baseline run, and what the header says about it."""

    view: RunView
    runs_used: int
    """Runs of this machine, BLAS and suite in the folder (the newest `window` per case)."""
    left_out: list[str] = field(default_factory=list)
    """Why the folder's other runs are not in it."""
    few: list[str] = field(default_factory=list)
    """Cases with fewer than `minimum` runs on their level: judged as against one process."""
    pending: dict[str, float] = field(default_factory=dict)
    """Cases whose newest level is too young to be accepted -> its ratio to the level before."""

    def header(self, folder: Path, window: int, minimum: int) -> list[str]:
        lines = [
            f"baseline: the history in {folder}: {self.runs_used} runs of this machine and "
            f"suite; each case against its newest {window} on its current level"
        ]
        lines += [f"left out: {reason}" for reason in self.left_out]
        if self.few:
            lines.append(
                f"{len(self.few)} case(s) have fewer than {minimum} runs on their level, so the "
                "history cannot yet say `slower` on its own: judged as against a one-process "
                "baseline, suspects confirmed in fresh processes: " + ", ".join(self.few)
            )
        for key, ratio in self.pending.items():
            lines.append(
                f"{key}: its newest runs started a level {ratio:.3g}x the one before, with fewer "
                f"than {minimum} runs: not yet accepted, judged against the level before"
            )
        return lines


def folder_baseline(
    folder: Path, new: Result | PytestRun, window: int = HISTORY_WINDOW
) -> HistoryBaseline:
    """The baseline a folder's history gives a run (a labench result or a pytest-benchmark
    file): its machine's runs of its suite in the folder's results store."""
    suite = PYTEST_SUITE if isinstance(new, PytestRun) else new.suite.name
    with opened(folder) as store:
        return history_baseline(store, suite, new.environment, window)


def history_baseline(
    store: Store,
    suite: str,
    environment: Environment,
    window: int = HISTORY_WINDOW,
    minimum: int = HISTORY_MINIMUM,
    min_change: float = 0.05,
) -> HistoryBaseline:
    """Each case's baseline from the runs of this machine, BLAS and suite in the store (see the
    module docstring). An InputError when there are none, saying what the folder holds."""
    chosen, left_out = _chosen_runs(store, suite, environment)
    measured: dict[str, tuple[list[float], list[bool]]] = {}
    for case in store.cases([run.id for run in chosen]):  # oldest run first
        if case.median is None:
            continue
        medians, flagged = measured.setdefault(case.key, ([], []))
        medians.append(case.median)
        flagged.append(bool(case.flags))  # noisy, contended or throttled
    cases = {
        key: case_baseline(medians, flagged, window, minimum, min_change)
        for key, (medians, flagged) in measured.items()
    }
    unsteady = sum(case.unsteady_left_out for case in cases.values())
    if unsteady:
        left_out.append(
            f"{unsteady} case measurements flagged noisy, contended or throttled (a case keeps "
            f"them only while it has fewer than {minimum} steady ones)"
        )
    return HistoryBaseline(
        RunView(
            f"history ({len(chosen)} runs)",
            load_any(store.folder / chosen[-1].file).environment,
            {key: case.series for key, case in cases.items()},
        ),
        len(chosen),
        left_out,
        few=[key for key, case in cases.items() if case.few],
        pending={key: case.pending for key, case in cases.items() if case.pending is not None},
    )


def _chosen_runs(
    store: Store, suite: str, environment: Environment
) -> tuple[list[StoredRun], list[str]]:
    """The finished runs of this machine, BLAS and suite in the store, oldest first, and why
    the others are left out; an InputError when there are none."""
    every = store.runs()
    machine, blas = environment.machine_id, blas_of(environment)
    left = Counter(
        "of other machines"
        if run.machine != machine
        else f"on another BLAS ({run.blas})"
        if run.blas != blas
        else f"of another suite ({run.suite})"
        for run in every
        if (run.machine, run.blas, run.suite) != (machine, blas, suite)
    )
    left_out = [f"{count} runs {why}" for why, count in left.most_common()]
    chosen = [
        run
        for run in every
        if (run.machine, run.blas, run.suite) == (machine, blas, suite) and not run.interrupted
    ]
    interrupted = sum(
        run.interrupted
        for run in every
        if (run.machine, run.blas, run.suite) == (machine, blas, suite)
    )
    if interrupted:
        left_out.append(f"{interrupted} interrupted runs")
    if not chosen:
        held = ", ".join(left_out) or "no runs"
        raise InputError(
            f"{store.folder}: no earlier run of suite {suite!r} on this machine "
            f"({machine}, BLAS {blas}) to judge against (the folder holds {held}); "
            "save runs there first, or gate with --baseline FILE"
        )
    return chosen, left_out


@dataclass(frozen=True)
class CaseBaseline:
    """One case's baseline in a machine's history, and what the header says of it."""

    series: Series
    few: bool
    """Fewer than `minimum` runs on its level: judged as against one process."""
    pending: float | None
    """The ratio of a newest level too young to be accepted to the level before, if any."""
    unsteady_left_out: int
    """Flagged measurements left out of it."""


def case_baseline(
    medians: Sequence[float],
    flagged: Sequence[bool],
    window: int = HISTORY_WINDOW,
    minimum: int = HISTORY_MINIMUM,
    min_change: float = 0.05,
) -> CaseBaseline:
    """A case's baseline from its medians in the history, oldest first, and which of them were
    flagged: the steady ones while there are `minimum` of them, the newest `window` of those,
    and of those the runs of its accepted level (`current_level`), with the runs it holds for
    telling a state of the machine from a regression (`Series.history`)."""
    steady = [median for median, flag in zip(medians, flagged, strict=True) if not flag]
    chosen = steady if len(steady) >= minimum else list(medians)
    level, pending, settled = current_level(chosen[-window:], minimum, min_change)
    values = np.asarray(level)
    enough = len(values) >= minimum
    series = Series(
        status="ok",
        median=float(np.median(values)),
        samples=None,
        process_medians=values if enough else None,
        history=tuple(float(median) for median in settled),
    )
    return CaseBaseline(series, not enough, pending, len(medians) - len(chosen))


def current_level(
    medians: list[float], minimum: int, min_change: float
) -> tuple[list[float], float | None, list[float]]:
    """The runs of a case's accepted level, oldest first; when its newest level is too young
    to be accepted (fewer than `minimum` runs), that level's ratio to the one before; and the
    runs before any such young level (a regression's first runs are never a state of the
    machine that would excuse it: `compare.in_known_state`). When the level before a young one
    is short too (a case hopping between states), every run before the young level is the
    baseline: its spread holds the states, where one short level would stand for a single
    process."""
    starts = [0] + [step.index for step in detect_steps(medians, min_change=min_change).steps]
    if len(starts) == 1 or len(medians) - starts[-1] >= minimum:
        return medians[starts[-1] :], None, medians
    level, young = medians[starts[-2] : starts[-1]], medians[starts[-1] :]
    ratio = float(np.median(young) / np.median(level))
    if len(level) < minimum:
        level = medians[: starts[-1]]
    return level, ratio, medians[: starts[-1]]
