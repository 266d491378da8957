"""What `labench run` does once its options are parsed: plan every suite's run, look at the
machine, measure, confirm suspects against a baseline, judge claims, save, render and gate.

Apart from cli.py because it needs the whole measuring side of labench (NumPy, pydantic, the
runner, the executors), which `labench --help`, `validate` and `compare` should not wait for.
"""

from __future__ import annotations

import fnmatch
import os
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from labench.backends.cupy_gpu import choose_device
from labench.backends.dask_cluster import Tls
from labench.commands.ci import CiOutputs, publish
from labench.commands.fleet import FleetOptions, Output, refuse_single_file_options, run_on_fleet
from labench.commands.run_options import RunOptions
from labench.commands.terminal import (
    EXIT_FAILED,
    EXIT_UNDECIDED,
    EXIT_USAGE,
    console,
    errors,
    interruption,
)
from labench.core import host
from labench.core.errors import InputError
from labench.core.files import refuse_to_overwrite
from labench.core.pause import pause_at
from labench.core.progress import Observer
from labench.core.signals import sigterm_interrupts
from labench.execution import Executor, choose, fresh_placements
from labench.execution.confirm import Judging, confirm, suspects
from labench.execution.resume import resume as resumed
from labench.execution.session import finish, new_result, run_suite
from labench.judge.compare import Comparison, compare, parse_threshold
from labench.judge.gate_settings import CONFIRM_PROCESSES, HISTORY_MINIMUM
from labench.judge.roofline import add_roofline
from labench.measure import contention
from labench.measure.environment import fingerprint
from labench.present.comparison import gate_verdict, render
from labench.present.progress import progress_observer
from labench.present.report import render_result
from labench.results import ceilings
from labench.results import model as results
from labench.results.model import CaseResult, Environment, MachineLoad, Result
from labench.results.store import index_saved
from labench.results.views import RunView, load_run, run_view
from labench.suite import shipped
from labench.suite.case import Case, Suite
from labench.suite.load import load_suite
from labench.suite.model import Measurement
from labench.suite.size import describe_budget


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
    complete: bool = False
    """Claims judged and the file saved: a signal after this point loses nothing."""


@dataclass(frozen=True)
class Display:
    """How a run is shown: nothing but the essentials, every row, single-call latencies."""

    quiet: bool
    full_table: bool
    latency: bool


@dataclass(frozen=True)
class Gate:
    """`run --baseline` or `--against`: what to judge against and how, how to confirm suspects."""

    judging: Judging
    source: list[str]
    """The options that name the baseline: --baseline FILE or --against DIR."""
    confirm_processes: int
    budget: float | None
    """A user's cap on confirming, in seconds; None examines every suspect."""
    outputs: CiOutputs
    """Where the gate's comparison goes besides the terminal (JUnit, comment, GitHub)."""


@dataclass(frozen=True)
class Ending:
    """How one suite's run ends: failed (exit 1) wins over undecided (exit 3)."""

    failed: bool
    undecided: bool = False


def run(options: RunOptions) -> None:
    """Run every suite of `options`; raises typer.Exit with the code the run ends with."""
    if len(options.suites) > 1 and (
        options.output or options.baseline or options.against or options.resume
    ):
        raise InputError(
            "-o, --baseline, --against and --resume each concern one suite's run, but several "
            "suites were given; run them one at a time (without -o each gets "
            "results/<suite>-<timestamp>.json)"
        )
    if options.baseline is not None and options.against is not None:
        raise InputError(
            "--baseline and --against each name what the run is judged against: give one"
        )
    if options.against is not None and options.cluster is not None:
        raise InputError(
            "--against judges a run against the history of the machine it ran on; a fleet's "
            "hosts are several machines: gate each host's results with `labench compare`"
        )
    if options.output is not None:
        refuse_to_overwrite(options.output, options.force)
    if options.device is not None:  # before anything starts CUDA, which reads it once
        choose_device(options.device, os.environ)
    if options.baseline is None and options.against is None and (options.junit or options.markdown):
        raise InputError(
            "--junit and --markdown report a gate's verdicts: they need --baseline or --against"
        )
    base_run = load_run(options.baseline) if options.baseline is not None else None
    limit = parse_threshold(options.threshold)
    overrides = options.overrides()
    timeout: dict[str, Any] = {"timeout": options.timeout} if options.timeout else {}
    selections = _selections(options, Measurement(**overrides, **timeout))
    pause_at("planning")
    if options.cluster is not None:
        _run_on_fleet(options, overrides, selections, limit)
        return
    plans = [_plan(options, overrides, *selection) for selection in selections]
    load = _machine_load(options.quiet)
    gate = _gate(options, base_run, limit, plans[0].suite.name if plans else None)
    roofs = ceilings.load(fingerprint()["machine_id"])
    display = Display(options.quiet, options.full_table, options.latency)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    with sigterm_interrupts():
        endings = []
        for plan in plans:
            plan.result.run.load = load
            endings.append(_run_saved(plan, stamp, options, Steps(overrides, gate, roofs, display)))
    if any(ending.failed for ending in endings):
        raise typer.Exit(EXIT_FAILED)
    if any(ending.undecided for ending in endings) and not options.allow_undecided:
        raise typer.Exit(EXIT_UNDECIDED)


def _gate(
    options: RunOptions, base_run: RunView | None, limit: float, suite: str | None
) -> Gate | None:
    """What the run is judged against: a baseline file, the machine's history, or nothing."""
    if base_run is not None and options.baseline is not None:
        source = ["--baseline", str(options.baseline)]
        judging = Judging(base_run, limit, options.alpha)
    elif options.against is not None and suite is not None:
        from labench.judge.history_gate import history_baseline
        from labench.results.store import opened

        with opened(options.against) as store:
            found = history_baseline(
                store, suite, Environment.model_validate(fingerprint()), options.against_runs
            )
        for line in found.header(options.against, options.against_runs, HISTORY_MINIMUM):
            console.print(line, highlight=False, soft_wrap=True)
        source = ["--against", str(options.against)]
        judging = Judging(found.view, limit, options.alpha)
    else:
        return None
    return Gate(
        judging,
        source,
        options.confirm_processes,
        options.confirm_budget,
        CiOutputs.chosen(options.junit, options.markdown),
    )


def _selections(
    options: RunOptions, settings: Measurement
) -> list[tuple[Suite, list[Case], list[Case]]]:
    """Each suite with the cases it plans and those `--filter` keeps; none kept is an error."""
    selections = []
    for path in options.suites:
        pause_at("loading")
        suite = load_suite(shipped.resolve(path))
        planned = suite.cases(settings)
        cases = _select(planned, options.filters or [])
        if not cases:
            raise InputError(
                f"{suite.path}: no case matches --filter {' '.join(options.filters or [])!r}"
            )
        selections.append((suite, planned, cases))
    return selections


@dataclass(frozen=True)
class Steps:
    """What every suite's run does after measuring, the same for each suite of the command."""

    overrides: dict[str, Any]
    gate: Gate | None
    roofs: ceilings.Ceilings | None
    display: Display


def _run_saved(plan: Plan, stamp: str, options: RunOptions, steps: Steps) -> Ending:
    """One suite's run into its file; an interruption says what was kept and exits with the
    signal's code. Failed when a case failed, a claim failed (unless not asked to fail on it)
    or the gate found a regression; undecided when the gate could not decide a suspect."""
    budget = describe_budget(plan.cases, options.retry_noisy)
    line = f"{plan.suite.name}: {len(plan.cases)} cases to run; {budget}"
    console.print(line, highlight=False, soft_wrap=True)
    path = plan.output
    try:
        path = path or results.reserve_path(Path("results"), plan.suite.name, stamp)
        ending = _run_plan(plan, path, options, steps)
    except KeyboardInterrupt as stop:
        _mark_unfinished(plan, path)
        if plan.complete:
            kept = f"the run was complete, saved in {path}"
        elif path:
            kept = f"{len(plan.result.cases)} cases kept in {path}; continue with --resume {path}"
        else:
            kept = "nothing measured yet"
        signal_name, code = interruption(stop)
        errors.print(f"interrupted ({signal_name}): {kept}", highlight=False, soft_wrap=True)
        raise typer.Exit(code) from None
    except OSError as error:  # the disk filled up or failed mid-run
        where = error.filename or path
        errors.print(
            f"[bold red]error:[/] {where}: cannot write: {error.strerror or error}; the run "
            f"stopped. Cases measured so far are kept in its journal beside {path}: "
            f"free the space, then continue with --resume {path}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_USAGE) from None
    finally:
        plan.executor.close()
    claims_failed = any(claim.status == "failed" for claim in plan.result.claims)
    return Ending(ending.failed or (options.fail_on_claims and claims_failed), ending.undecided)


def _mark_unfinished(plan: Plan, path: Path | None) -> None:
    """A signal after the cases were saved but before the run's end (confirming suspects,
    judging claims, saving): the file says it is not complete, and holds no claims judged on
    it, so `--resume` finishes it and judges them."""
    if plan.complete or path is None or not path.exists() or plan.result.run.interrupted:
        return
    plan.result.run.interrupted = True
    plan.result.claims = []
    results.save(plan.result, path)


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
                FleetOptions(
                    options.cluster or "",
                    overrides,
                    options.resume,
                    options.force,
                    Tls.of(options.tls_ca_file, options.tls_cert, options.tls_key),
                ),
                selections,
                Output(console, errors, lambda runs: gate_and_render(runs, limit, options.alpha)),
            )
    except KeyboardInterrupt as stop:
        raise typer.Exit(interruption(stop)[1]) from None
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


def _run_plan(plan: Plan, path: Path, options: RunOptions, steps: Steps) -> Ending:
    """Measure one suite, confirm suspects, judge claims, save, render and gate."""
    result, gate, display = plan.result, steps.gate, steps.display
    with progress_observer(console, plan.cases, enabled=not display.quiet) as observer:
        run_suite(
            plan.cases,
            result,
            path,
            observer,
            plan.executor.run,
            options.retry_noisy,
            options.throttle_recovery,
        )
    if gate is not None and gate.confirm_processes > 0:
        _confirm_suspects(plan, steps.overrides, gate, path, display.quiet)
    add_roofline(result, steps.roofs)
    failed = finish(result, plan.planned, plan.suite.model.claims, path)
    plan.complete = True
    pause_at("printing")
    if not display.quiet:
        render_result(result, console, display.full_table, display.latency)
    console.print(f"saved {path}", highlight=False)
    unindexed = index_saved(result, path)
    if unindexed:
        console.print(f"[yellow]warning:[/] {escape(unindexed)}")
    if gate is None:
        return Ending(failed)
    console.print()
    judging = gate.judging
    runs = [judging.base, run_view(result, path.name)]
    comparison = gate_and_render(runs, judging.threshold, judging.alpha)
    undecided = [verdict.key for verdict in comparison.undecided()]
    decide = _decide_command(plan.suite, gate, undecided)
    console.print(gate_verdict(comparison, undecided, decide), highlight=False, soft_wrap=True)
    publish(comparison, gate.outputs, decide)
    return Ending(failed or bool(comparison.regressions()), bool(undecided))


def _decide_command(suite: Suite, gate: Gate, undecided: Sequence[str]) -> str:
    """The command that measures only the undecided cases again, with twice the processes."""
    words = ["labench", "run", str(suite.path), *gate.source]
    for key in undecided:
        words += ["-k", key]
    words += ["--confirm-processes", str(2 * max(gate.confirm_processes, CONFIRM_PROCESSES))]
    return shlex.join(words)


def _confirm_suspects(
    plan: Plan, overrides: dict[str, Any], gate: Gate, path: Path, quiet: bool
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
        plan.result, gate.judging, planned, measure, Observer(), gate.budget, gate.confirm_processes
    )
    plan.result.run.confirmed += outcome.confirmed
    results.save(plan.result, path)
    if outcome.left:
        errors.print(
            f"[yellow]not confirmed[/] (beyond --confirm-budget {gate.budget} s): "
            f"{len(outcome.left)} more case(s) that look slower stay `unsure`, undecided",
            highlight=False,
        )


def gate_and_render(runs: list[RunView], threshold: float, alpha: float) -> Comparison:
    """The gate's comparison, shown as a table; the caller decides what fails."""
    comparison = compare(runs, threshold, alpha)
    render(comparison, console, "table")
    return comparison
