"""What `labench run` does once its options are parsed: plan every suite's run, look at the
machine, measure, confirm suspects against a baseline, judge claims, save, render and gate.

Apart from cli.py because it needs the whole measuring side of labench (NumPy, pydantic, the
runner, the executors), which `labench --help`, `validate` and `compare` should not wait for.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from labench.commands.fleet import FleetOptions, Output, refuse_single_file_options, run_on_fleet
from labench.commands.terminal import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    console,
    errors,
)
from labench.core import host
from labench.core.errors import InputError
from labench.core.progress import Observer
from labench.core.signals import Terminated, sigterm_interrupts
from labench.execution import Executor, choose, fresh_placements
from labench.execution.confirm import Judging, confirm, suspects
from labench.execution.resume import in_suite_order
from labench.execution.resume import resume as resumed
from labench.execution.session import new_result, run_suite
from labench.judge.claims import evaluate_all
from labench.judge.compare import Comparison, compare, parse_threshold
from labench.judge.roofline import add_roofline
from labench.measure import contention
from labench.measure.environment import fingerprint
from labench.present.comparison import render
from labench.present.report import progress_observer, render_result
from labench.results import ceilings
from labench.results import model as results
from labench.results.model import CaseResult, MachineLoad, Result
from labench.results.views import RunView, load_run, run_view
from labench.suite import shipped
from labench.suite.case import Case, Suite
from labench.suite.load import load_suite
from labench.suite.model import Measurement
from labench.suite.size import describe_budget

QUICK = {"max_time": 0.1, "warmup": 0.01, "min_samples": 5}


@dataclass(frozen=True)
class RunOptions:
    """The options of `labench run`, as parsed (cli.py documents each)."""

    suites: list[Path]
    output: Path | None
    filters: list[str]
    quick: bool
    max_time: float | None
    force: bool
    quiet: bool
    full_table: bool
    baseline: Path | None
    threshold: str
    alpha: float
    confirm_processes: int
    fail_on_claims: bool
    isolate: bool
    timeout: float | None
    resume: Path | None
    processes: int
    cluster: str | None
    retry_noisy: int
    latency: bool
    label: str | None

    def overrides(self) -> dict[str, Any]:
        """The suite's measurement settings that the command line replaces."""
        chosen: dict[str, Any] = dict(QUICK) if self.quick else {}
        if self.max_time is not None:
            chosen["max_time"] = self.max_time
        return chosen


def _select(cases: list[Case], patterns: list[str]) -> list[Case]:
    if not patterns:
        return cases
    return [
        case
        for case in cases
        if any(
            fnmatch.fnmatchcase(case.key, pattern) or fnmatch.fnmatchcase(case.benchmark, pattern)
            for pattern in patterns
        )
    ]


def _check_output(output: Path | None, force: bool) -> None:
    if output is None:
        return
    if output.is_dir():
        raise InputError(f"{output}: is a folder; expected a file name for the result")
    if output.exists() and not force:
        raise InputError(
            f"{output}: already exists; labench never overwrites a result "
            "(choose another -o, or pass --force to replace it)"
        )


@dataclass
class Plan:
    """One suite's run, decided before anything is measured."""

    suite: Suite
    planned: list[Case]
    cases: list[Case]
    output: Path | None
    """None: a fresh results/<suite>-<timestamp>.json, reserved when the run starts."""
    result: Result
    executor: Executor


@dataclass(frozen=True)
class Display:
    """How a run is shown: nothing but the essentials, every row, single-call latencies."""

    quiet: bool
    full_table: bool
    latency: bool


@dataclass(frozen=True)
class Gate:
    """`run --baseline`: the earlier run, how to judge against it, how to confirm suspects."""

    judging: Judging
    confirm_processes: int


def run(options: RunOptions) -> None:
    """Run every suite of `options`; raises typer.Exit with the code the run ends with."""
    if len(options.suites) > 1 and (options.output or options.baseline or options.resume):
        raise InputError(
            "-o, --baseline and --resume each concern one suite's run, but several suites were "
            "given; run them one at a time (without -o each gets results/<suite>-<timestamp>.json)"
        )
    _check_output(options.output, options.force)
    base_run = load_run(options.baseline) if options.baseline is not None else None
    limit = parse_threshold(options.threshold)
    overrides = options.overrides()
    timeout: dict[str, Any] = {"timeout": options.timeout} if options.timeout else {}
    settings = Measurement(**overrides, **timeout)
    loaded = [load_suite(shipped.resolve(path)) for path in options.suites]
    roofs = ceilings.load(fingerprint()["machine_id"])
    selections = []
    for suite in loaded:
        planned = suite.cases(settings)
        cases = _select(planned, options.filters)
        if not cases:
            raise InputError(
                f"{suite.path}: no case matches --filter {' '.join(options.filters)!r}"
            )
        selections.append((suite, planned, cases))
    if options.cluster is not None:
        _run_on_fleet(options, overrides, selections, limit)
        return
    plans = [_plan(options, overrides, *selection) for selection in selections]
    load = _machine_load(options.quiet)
    gate = (
        Gate(Judging(base_run, limit, options.alpha), options.confirm_processes)
        if base_run is not None
        else None
    )
    display = Display(options.quiet, options.full_table, options.latency)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    failed = False
    with sigterm_interrupts():
        for plan in plans:
            plan.result.run.load = load
            budget = describe_budget(plan.cases, options.retry_noisy)
            line = f"{plan.suite.name}: {len(plan.cases)} cases to run; {budget}"
            console.print(line, highlight=False, soft_wrap=True)
            path = plan.output
            try:
                path = path or results.reserve_path(Path("results"), plan.suite.name, stamp)
                failed |= _run_plan(
                    plan, path, options.retry_noisy, overrides, gate, roofs, display
                )
            except KeyboardInterrupt as stop:
                kept = (
                    f"{len(plan.result.cases)} cases kept in {path}; continue with --resume {path}"
                    if path
                    else "nothing measured yet"
                )
                signal_name, code = _interruption(stop)
                errors.print(
                    f"interrupted ({signal_name}): {kept}", highlight=False, soft_wrap=True
                )
                raise typer.Exit(code) from None
            finally:
                plan.executor.close()
            claims_failed = any(claim.status == "failed" for claim in plan.result.claims)
            failed |= options.fail_on_claims and claims_failed
    if failed:
        raise typer.Exit(EXIT_FAILED)


def _interruption(stop: KeyboardInterrupt) -> tuple[str, int]:
    """What stopped the run, in words, and the exit code that says so."""
    if isinstance(stop, Terminated):
        return "SIGTERM", EXIT_TERMINATED
    return "Ctrl-C", EXIT_INTERRUPTED


def _plan(
    options: RunOptions,
    overrides: dict[str, Any],
    suite: Suite,
    planned: list[Case],
    cases: list[Case],
) -> Plan:
    """How one suite runs here: its executor, and a fresh result or the one being resumed."""
    executor = choose(
        suite,
        overrides,
        isolate=options.isolate,
        processes=options.processes,
        timeout=options.timeout,
    )
    fresh = new_result(
        suite, overrides, options.processes, options.label, execution=executor.describe()
    )
    if options.resume is not None:
        resumption = resumed(options.resume, suite, cases, fresh.run, options.force)
        return Plan(suite, planned, resumption.todo, options.resume, resumption.result, executor)
    return Plan(suite, planned, cases, options.output, fresh, executor)


def _run_on_fleet(
    options: RunOptions,
    overrides: dict[str, Any],
    selections: list[tuple[Suite, list[Case], list[Case]]],
    limit: float,
) -> None:
    """`run --cluster`: every host of the cluster runs the suites (fleet_run.py)."""
    refuse_single_file_options(options.output, options.baseline, options.processes)
    try:
        with sigterm_interrupts():
            lost = run_on_fleet(
                FleetOptions(options.cluster or "", overrides, options.resume, options.force),
                selections,
                Output(console, errors, lambda runs: gate_and_render(runs, limit, options.alpha)),
            )
    except KeyboardInterrupt as stop:
        raise typer.Exit(_interruption(stop)[1]) from None
    if lost:
        raise typer.Exit(EXIT_FAILED)


def _describe_load(load: contention.Contention | None, per_core: float | None) -> str | None:
    if load is None and per_core is None:
        return None
    cores = len(host.allowed_cpus())
    parts = [load.describe(cores)] if load is not None else []
    if per_core is not None:
        parts.append(f"load average {per_core * cores:.1f} on {cores} cores")
    return ", ".join(parts)


def _machine_load(quiet: bool) -> MachineLoad:
    """Look at the machine before measuring, and say what was found."""
    load, per_core = contention.probe(), contention.load_per_core()
    text = _describe_load(load, per_core)
    busy = (load is not None and load.contended(1, len(host.allowed_cpus()))) or (
        per_core is not None and per_core > 1.0
    )
    if text and busy:
        errors.print(
            f"[bold yellow]busy machine:[/] {text}; cases measured under contention are marked "
            "`contended`, and verdicts built on them say so",
            highlight=False,
        )
    elif text and not quiet:
        console.print(f"[dim]machine: {text}[/]", highlight=False)
    return MachineLoad(
        others_cores=load.others_cores if load else None,
        steal=load.steal if load else None,
        load_per_core=per_core,
    )


def _run_plan(
    plan: Plan,
    path: Path,
    retry_noisy: int,
    overrides: dict[str, Any],
    gate: Gate | None,
    roofs: ceilings.Ceilings | None,
    display: Display,
) -> bool:
    """Measure one suite, confirm suspects, judge claims, save, render and gate; True when a
    case failed or the gate found a regression."""
    result = plan.result
    started = time.perf_counter()
    with progress_observer(console, plan.cases, enabled=not display.quiet) as observer:
        run_suite(plan.cases, result, path, observer, plan.executor.run, retry_noisy)
    if gate is not None and gate.confirm_processes > 0:
        measured = time.perf_counter() - started
        _confirm_suspects(plan, overrides, gate, measured, path, display.quiet)
    in_suite_order(result, plan.planned)
    add_roofline(result, roofs)
    result.claims = evaluate_all(plan.suite.model.claims, result.cases, plan.planned)
    results.save(result, path)
    if not display.quiet:
        render_result(result, console, display.full_table, display.latency)
    console.print(f"saved {path}", highlight=False)
    failed = any(case.status in ("wrong", "error") for case in result.cases)
    if gate is not None:
        console.print()
        judging = gate.judging
        runs = [judging.base, run_view(result, path.name)]
        failed |= bool(gate_and_render(runs, judging.threshold, judging.alpha).regressions())
    return failed


def _confirm_suspects(
    plan: Plan, overrides: dict[str, Any], gate: Gate, budget: float, path: Path, quiet: bool
) -> None:
    """Re-measure, in fresh processes, the cases that look slower than the baseline within one
    process, so the gate decides on the spread between processes (confirm.py)."""
    planned = {case.key: case for case in plan.planned}
    count = len(suspects(gate.judging.verdicts(plan.result, planned).values(), planned))
    if not count:
        return

    def measure(cases: Sequence[Case], observer: Observer, count: int) -> Iterable[CaseResult]:
        return fresh_placements(plan.suite, overrides, count).run(cases, observer)

    if not quiet:
        console.print(
            f"{count} case(s) look slower than {gate.judging.base.label} within one process; "
            f"confirming in {gate.confirm_processes} fresh processes",
            highlight=False,
        )
    outcome = confirm(
        plan.result, gate.judging, planned, measure, Observer(), budget, gate.confirm_processes
    )
    plan.result.run.confirmed += outcome.confirmed
    results.save(plan.result, path)
    if outcome.left:
        errors.print(
            f"[yellow]not confirmed[/] (beyond the time budget of {budget:.1f} s, or costlier "
            "than the suspects confirmed): "
            f"{len(outcome.left)} more case(s) that look slower stay `unsure`",
            highlight=False,
        )


def gate_and_render(runs: list[RunView], threshold: float, alpha: float) -> Comparison:
    """The gate's comparison, shown as a table; the caller decides what fails."""
    comparison = compare(runs, threshold, alpha)
    render(comparison, console, "table")
    return comparison
