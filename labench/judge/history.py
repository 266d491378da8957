"""Performance over time: the runs of one machine in order, each case's series of medians, and
the steps where its level changed.

Reads results only (through `results.load`); the numerics live in `steps`. Runs are put in
commit order when every run recorded a commit that the current folder's git repository knows
(several runs of one commit keep their time order), else in time order.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from labench.core.errors import InputError
from labench.core.provenance import commit_positions
from labench.judge.steps import Fit, Step, detect_steps, run_spread
from labench.results import reader
from labench.results.model import Result


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
    points: list[Point]
    fit: Fit
    newest_starts_slower_step: bool = False
    """The newest run of the history is on a slower level first seen with it."""

    def step_points(self) -> list[tuple[Step, Point]]:
        """Each step with the first point on its new level."""
        return [(step, self.points[step.index]) for step in self.fit.steps]


@dataclass
class History:
    machine: str
    runs: list[Result]
    ordered_by: str
    """'commit' or 'time'."""
    cases: list[CaseHistory] = field(default_factory=list)

    def run_name(self, index: int) -> str:
        """What to call a run: its label, else its commit (+ if dirty), else its id; with the id
        added when another run of the history would have the same name."""
        name = self._plain_name(index)
        if sum(self._plain_name(other) == name for other in range(len(self.runs))) > 1:
            return f"{name} {self.runs[index].run.id}"
        return name

    def _plain_name(self, index: int) -> str:
        run = self.runs[index].run
        if run.label:
            return run.label
        if run.git_commit:
            return run.git_commit[:10] + ("+" if run.git_dirty else "")
        return run.id

    def gate(self) -> list[CaseHistory]:
        """Cases whose newest run starts a slower step: what `--fail-on-step` fails on."""
        return [case for case in self.cases if case.newest_starts_slower_step]


def result_files(arguments: list[Path]) -> list[Path]:
    """Files as given, and every *.json file in a given folder."""
    files: list[Path] = []
    for argument in arguments:
        if argument.is_dir():
            found = sorted(argument.glob("*.json"))
            if not found:
                raise InputError(f"{argument}: no result files (*.json) in this folder")
            files += found
        else:
            files.append(argument)
    return files


def machine_runs(loaded: list[Result], machine: str | None) -> tuple[str, list[Result]]:
    """The runs of the chosen machine; without a choice there must be only one machine."""
    counts = Counter(result.environment.machine_id for result in loaded)
    if machine is None:
        if len(counts) > 1:
            listing = ", ".join(f"{name} ({count} runs)" for name, count in counts.most_common())
            raise InputError(
                f"the results come from {len(counts)} machines: {listing}; "
                "a history follows one machine: choose one with --machine ID"
            )
        machine = next(iter(counts))
    chosen = [result for result in loaded if result.environment.machine_id == machine]
    if not chosen:
        raise InputError(
            f"--machine {machine}: no run of that machine; the results hold "
            + ", ".join(sorted(counts))
        )
    return machine, chosen


def in_order(runs: list[Result], repository: Path) -> tuple[list[Result], str]:
    """Commit order where git can place every run's commit, else time order."""
    by_time = sorted(runs, key=lambda result: result.run.started)
    commits = [result.run.git_commit for result in by_time]
    known = [commit for commit in commits if commit is not None]
    if len(known) < len(commits):
        return by_time, "time"
    positions = commit_positions(repository, set(known))
    if positions is None:
        return by_time, "time"
    placed = sorted(zip(known, by_time, strict=True), key=lambda pair: positions[pair[0]])
    return [result for _, result in placed], "commit"


def _wanted(key: str, benchmark: str, patterns: list[str]) -> bool:
    return not patterns or any(
        fnmatch.fnmatchcase(key, pattern) or fnmatch.fnmatchcase(benchmark, pattern)
        for pattern in patterns
    )


def load_all(arguments: list[Path]) -> list[Result]:
    """Every result file named, or found in a named folder, read and validated."""
    return [reader.load(path) for path in result_files(arguments)]


def build(
    loaded: list[Result],
    machine: str | None = None,
    patterns: list[str] | None = None,
    min_change: float = 0.05,
    repository: Path | None = None,
) -> History:
    """Keep one machine's runs, in order, and fit every case's series."""
    chosen, runs = machine_runs(loaded, machine)
    runs, ordered_by = in_order(runs, repository or Path.cwd())
    history = History(chosen, runs, ordered_by)
    series: dict[tuple[str, str], list[Point]] = {}
    spreads: dict[tuple[str, str], list[float]] = {}
    benchmarks: dict[tuple[str, str], str] = {}
    for index, result in enumerate(runs):
        for case in result.cases:
            timing = case.timing
            if case.status != "ok" or timing is None or timing.median <= 0:
                continue
            if not _wanted(case.key, case.benchmark, patterns or []):
                continue
            name = (result.suite.name, case.key)
            series.setdefault(name, []).append(Point(index, timing.median, timing.ci95))
            spreads.setdefault(name, []).append(
                run_spread(timing.process_medians, timing.ci95, timing.median)
            )
            benchmarks[name] = case.benchmark
    if not series:
        raise InputError(
            "no measured case to follow"
            + (f" matches --filter {' '.join(patterns)!r}" if patterns else " in these results")
        )
    newest = len(runs) - 1
    for (suite, key), points in series.items():
        medians = [point.median for point in points]
        fit = detect_steps(medians, spreads[(suite, key)], min_change)
        followed = CaseHistory(suite, key, benchmarks[(suite, key)], points, fit)
        if points[-1].run == newest and fit.steps and fit.steps[-1].ratio > 1:
            before = detect_steps(medians[:-1], spreads[(suite, key)][:-1], min_change)
            first = fit.steps[-1].index
            followed.newest_starts_slower_step = not any(
                step.ratio > 1 and step.index >= first - 1 for step in before.steps
            )
        history.cases.append(followed)
    return history
