"""Performance over time: the runs of one machine in order, each case's series of medians, and
the steps where its level changed.

Reads results only (through `results.load`); the numerics live in `steps`. Runs are put in
commit order when every run recorded a commit that the current folder's git repository knows
(several runs of one commit keep their time order), else in time order.
"""

from __future__ import annotations

import fnmatch
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from labench.core.errors import InputError
from labench.core.provenance import commit_positions
from labench.core.stats import run_spread
from labench.judge.steps import Fit, Step, detect_steps, detect_steps_many
from labench.results import reader
from labench.results.model import Result
from labench.results.store import MEASURED_ROW, Store, blas_of

NEWEST_LEVEL_RECHECKED = 10
"""A slower newest level of at most this many runs is fitted again without the newest run, to
tell whether the newest run started it (`--fail-on-step`); a longer one was there before."""


@dataclass(frozen=True)
class RunRef:
    """What a history knows of a run: enough to order, name and split it (from a result file
    or from the results store alike)."""

    id: str
    suite: str
    started: str
    machine: str
    blas: str = "-"
    git_commit: str | None = None
    git_branch: str | None = None
    git_dirty: bool | None = None
    label: str | None = None


@dataclass(frozen=True)
class Measurements:
    """The measured cases of the runs a history reads, as columns: one row per case and run
    (`MEASURED_ROW`: series, run, median, CI bounds, the run's own spread), and the names of
    the series. A year of runs is an array, not half a million objects."""

    names: dict[int, tuple[str, str, str]]
    """Series id -> (suite, case key, benchmark)."""
    rows: np.ndarray
    """`run` is the index of the run in the list the history is built from."""


@dataclass(frozen=True)
class Point:
    run: int
    """Index of the run in `History.runs`."""
    median: float
    ci95: tuple[float, float] | None


@dataclass
class CaseHistory:
    suite: str
    key: str
    benchmark: str
    runs: np.ndarray
    """Where each measurement sits in `History.runs`, in order."""
    medians: np.ndarray
    ci95: np.ndarray
    """(low, high) per measurement; NaN where a run had no CI."""
    fit: Fit
    newest_starts_slower_step: bool = False
    """The newest run of the history is on a slower level first seen with it."""

    def change(self) -> float:
        """The latest level against the first one (above 1: slower now)."""
        return self.fit.levels[-1][2] / self.fit.levels[0][2]

    @cached_property
    def points(self) -> list[Point]:
        """The measurements one by one, for the tables and figures that show them all."""
        return [self.point(index) for index in range(len(self.runs))]

    def point(self, index: int) -> Point:
        low, high = self.ci95[index]
        return Point(
            int(self.runs[index]),
            float(self.medians[index]),
            None if math.isnan(low) else (float(low), float(high)),
        )

    def step_points(self) -> list[tuple[Step, Point]]:
        """Each step with the first point on its new level."""
        return [(step, self.point(step.index)) for step in self.fit.steps]


@dataclass
class History:
    machine: str
    runs: list[RunRef]
    ordered_by: str
    """'commit' or 'time'."""
    cases: list[CaseHistory] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    """Why runs of the files read are not in this history (another machine, another BLAS)."""
    _counted: Counter[str] | None = field(default=None, repr=False, compare=False)

    def run_name(self, index: int) -> str:
        """What to call a run: its label, else its commit (+ if dirty), else its id; with the id
        added when another run of the history would have the same name."""
        name = self._plain_name(index)
        if self._name_counts()[name] > 1:
            return f"{name} {self.runs[index].id}"
        return name

    def _name_counts(self) -> Counter[str]:
        if self._counted is None or sum(self._counted.values()) != len(self.runs):
            self._counted = Counter(self._plain_name(index) for index in range(len(self.runs)))
        return self._counted

    def _plain_name(self, index: int) -> str:
        run = self.runs[index]
        if run.label:
            return run.label
        if run.git_commit:
            return run.git_commit[:10] + ("+" if run.git_dirty else "")
        return run.id

    def changed(self) -> list[CaseHistory]:
        """Cases with a step, the largest change of level (latest against first) first."""
        moved = [case for case in self.cases if case.fit.steps]
        return sorted(moved, key=lambda case: -abs(math.log(case.change())))

    def gate(self) -> list[CaseHistory]:
        """Cases whose newest run starts a slower step: what `--fail-on-step` fails on."""
        return [case for case in self.cases if case.newest_starts_slower_step]


def machine_runs(runs: list[RunRef], machine: str | None) -> tuple[str, list[int], list[str]]:
    """Which runs (indices) a history follows: one machine's, and of those the ones on the BLAS
    of its newest run; without a choice there must be only one machine. Also says why the
    others were left out."""
    counts = Counter(run.machine for run in runs)
    if machine is None:
        if len(counts) > 1:
            listing = ", ".join(f"{name} ({count} runs)" for name, count in counts.most_common())
            raise InputError(
                f"the results come from {len(counts)} machines: {listing}; "
                "a history follows one machine: choose one with --machine ID"
            )
        machine = next(iter(counts))
    chosen = [index for index, run in enumerate(runs) if run.machine == machine]
    if not chosen:
        raise InputError(
            f"--machine {machine}: no run of that machine; the results hold "
            + ", ".join(sorted(counts))
        )
    newest = max(chosen, key=lambda index: runs[index].started)
    blas = runs[newest].blas
    others = Counter(runs[index].blas for index in chosen if runs[index].blas != blas)
    left_out = [
        f"{count} runs of machine {machine} on another BLAS ({name}) than its newest run ({blas})"
        for name, count in others.most_common()
    ]
    if len(chosen) < len(runs):
        left_out.insert(0, f"{len(runs) - len(chosen)} runs of other machines")
    return machine, [index for index in chosen if runs[index].blas == blas], left_out


def in_order(runs: list[RunRef], chosen: list[int], repository: Path) -> tuple[list[int], str]:
    """Commit order where git can place every run's commit, else time order."""
    by_time = sorted(chosen, key=lambda index: runs[index].started)
    commits = [runs[index].git_commit for index in by_time]
    known = [commit for commit in commits if commit is not None]
    if len(known) < len(commits):
        return by_time, "time"
    positions = commit_positions(repository, set(known))
    if positions is None:
        return by_time, "time"
    placed = sorted(zip(known, by_time, strict=True), key=lambda pair: positions[pair[0]])
    return [index for _, index in placed], "commit"


def _wanted(key: str, benchmark: str, patterns: list[str]) -> bool:
    return not patterns or any(
        fnmatch.fnmatchcase(key, pattern) or fnmatch.fnmatchcase(benchmark, pattern)
        for pattern in patterns
    )


def load_all(arguments: list[Path]) -> list[Result]:
    """Every result file named, or found in a named folder, read and validated."""
    return [reader.load(path) for path in reader.result_files(arguments)]


def from_results(loaded: Sequence[Result]) -> tuple[list[RunRef], Measurements]:
    """Runs and measured cases of result files, as a history reads them."""
    runs: list[RunRef] = []
    ids: dict[tuple[str, str], int] = {}
    names: dict[int, tuple[str, str, str]] = {}
    rows = []
    for index, result in enumerate(loaded):
        run = result.run
        suite = result.suite.name
        runs.append(
            RunRef(
                run.id,
                suite,
                run.started,
                result.environment.machine_id,
                blas_of(result.environment),
                run.git_commit,
                run.git_branch,
                run.git_dirty,
                run.label,
            )
        )
        for case in result.cases:
            timing = case.timing
            if case.status != "ok" or timing is None or timing.median <= 0:
                continue
            series = ids.setdefault((suite, case.key), len(ids))
            names[series] = (suite, case.key, case.benchmark)
            low, high = timing.ci95 if timing.ci95 is not None else (math.nan, math.nan)
            spread = run_spread(timing.process_medians, timing.ci95, timing.median)
            rows.append((series, index, timing.median, low, high, spread))
    return runs, Measurements(names, np.array(rows, dtype=MEASURED_ROW))


def from_store(
    store: Store, machine: str | None = None, with_ci: bool = True
) -> tuple[list[RunRef], Measurements]:
    """Runs and measured cases of a results store, as a history reads them: of one machine when
    given (the store's index answers that without reading the others); without the medians'
    CIs unless `with_ci` (only the series tables show them)."""
    stored = store.runs(machine)
    runs = [
        RunRef(
            run.run_id,
            run.suite,
            run.started,
            run.machine,
            run.blas,
            run.git_commit,
            run.git_branch,
            run.git_dirty,
            run.label,
        )
        for run in stored
    ]
    rows = store.measured(machine, with_ci)
    names = store.series_names()
    position = np.full(max((run.id for run in stored), default=0) + 1, -1, dtype=np.int64)
    position[[run.id for run in stored]] = np.arange(len(stored))
    rows = rows[(rows["run"] >= 0) & (rows["run"] < len(position))]
    rows["run"] = position[rows["run"]]
    # rows of no run or series read here (a damaged store's orphans) have nothing to join
    rows = rows[(rows["run"] >= 0) & np.isin(rows["series"], list(names))]
    return runs, Measurements(names, rows)


def build(
    loaded: list[Result] | tuple[list[RunRef], Measurements],
    machine: str | None = None,
    patterns: list[str] | None = None,
    min_change: float = 0.05,
    repository: Path | None = None,
) -> History:
    """Keep one machine's runs, in order, and fit every case's series."""
    runs, measured = from_results(loaded) if isinstance(loaded, list) else loaded
    if not runs:
        raise InputError("no runs to follow")
    chosen_machine, chosen, left_out = machine_runs(runs, machine)
    order, ordered_by = in_order(runs, chosen, repository or Path.cwd())
    history = History(chosen_machine, [runs[index] for index in order], ordered_by, [], left_out)
    place = np.full(len(runs), -1, dtype=np.int64)
    place[order] = np.arange(len(order))
    wanted = [
        series
        for series, (_, key, benchmark) in measured.names.items()
        if _wanted(key, benchmark, patterns or [])
    ]
    rows = measured.rows
    rows = rows[(place[rows["run"]] >= 0) & np.isin(rows["series"], wanted)]
    if not len(rows):
        raise InputError(
            "no measured case to follow"
            + (f" matches --filter {' '.join(patterns)!r}" if patterns else " in these results")
        )
    positions = place[rows["run"]]
    ordering = np.lexsort((positions, rows["series"]))
    rows, positions = rows[ordering], positions[ordering]
    starts = np.flatnonzero(np.diff(rows["series"])) + 1
    pieces = list(zip(np.split(rows, starts), np.split(positions, starts), strict=True))
    fits = detect_steps_many(
        [(piece["median"], piece["spread"]) for piece, _ in pieces], min_change
    )
    newest = len(order) - 1
    for (piece, where), fit in zip(pieces, fits, strict=True):
        suite, key, benchmark = measured.names[int(piece["series"][0])]
        followed = CaseHistory(
            suite,
            key,
            benchmark,
            where,
            piece["median"],
            np.stack([piece["ci_low"], piece["ci_high"]], axis=1),
            fit,
        )
        if (
            where[-1] == newest
            and fit.steps
            and fit.steps[-1].ratio > 1
            and len(where) - fit.steps[-1].index <= NEWEST_LEVEL_RECHECKED
        ):
            before = detect_steps(piece["median"][:-1], piece["spread"][:-1], min_change)
            first = fit.steps[-1].index
            followed.newest_starts_slower_step = not any(
                step.ratio > 1 and step.index >= first - 1 for step in before.steps
            )
        history.cases.append(followed)
    return history
