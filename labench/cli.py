"""The `labench` command. Thin on purpose: parse, call the library, render, choose the exit code.

Exit codes: 0 ok; 1 a case was wrong or errored, a claim failed, or a regression was found;
2 unusable input; 130 interrupted.
"""

from __future__ import annotations

import fnmatch
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labench import ceilings, contention, results, shipped
from labench.backends import BACKENDS, availability
from labench.claims import evaluate_all
from labench.compare import Comparison, compare, parse_threshold
from labench.compare_report import render_json, render_markdown, render_table
from labench.confirm import CONFIRM_PROCESSES, Judging, confirm, suspects
from labench.environment import fingerprint
from labench.errors import InputError
from labench.execution import Executor, choose, fresh_placements
from labench.fleet_run import FleetOptions, Output, refuse_single_file_options, run_on_fleet
from labench.interop import RunView, load_run, run_view, to_pytest_benchmark
from labench.plot import FIGURE_FORMATS, write_figures
from labench.report import ceilings_table, environment_table, progress_observer, render_result
from labench.results import CaseResult, MachineLoad, Result
from labench.resume import in_suite_order
from labench.resume import resume as resumed
from labench.runner import Observer, new_result, run_suite
from labench.signals import Terminated, sigterm_interrupts
from labench.suite import Case, Measurement, Suite, SuiteModel, load_suite
from labench.suite_size import describe_budget
from labench.workloads import BUILTIN

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 1, 2, 130, 143
QUICK = {"max_time": 0.1, "warmup": 0.01, "min_samples": 5}

app = typer.Typer(
    help="Benchmark the linear algebra behind deep learning, honestly.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Logs and pipes get a wide fixed width instead of rich's 80 columns, so tables stay readable.
console = Console(width=None if Console().is_terminal else 150)
errors = Console(stderr=True, width=None if Console(stderr=True).is_terminal else 150)

Command = TypeVar("Command", bound=Callable[..., Any])
FullTable = Annotated[bool, typer.Option(help="Every case of a large benchmark, not its summary.")]


def reports_input_errors(command: Command) -> Command:
    """Unusable input is a message and exit code 2, never a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except InputError as error:
            for problem in error.problems:
                errors.print(
                    f"[bold red]error:[/] {escape(problem)}", highlight=False, soft_wrap=True
                )
            raise typer.Exit(EXIT_USAGE) from None

    return wrapper  # type: ignore[return-value]


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


def _describe_load(load: contention.Contention | None, per_core: float | None) -> str | None:
    if load is None and per_core is None:
        return None
    cores = len(contention.allowed_cpus())
    parts = [load.describe(cores)] if load is not None else []
    if per_core is not None:
        parts.append(f"load average {per_core * cores:.1f} on {cores} cores")
    return ", ".join(parts)


def _machine_load(quiet: bool) -> MachineLoad:
    """Look at the machine before measuring, and say what was found."""
    load, per_core = contention.probe(), contention.load_per_core()
    text = _describe_load(load, per_core)
    busy = (load is not None and load.contended(1, len(contention.allowed_cpus()))) or (
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


@app.command()
@reports_input_errors
def run(
    suites: Annotated[
        list[Path],
        typer.Argument(
            help="Suite YAML files, or names of shipped suites (labench list --suites).",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Result file (one suite only). Default: results/<suite>-<timestamp>.json",
        ),
    ] = None,
    filters: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            "-k",
            help="Run only cases whose benchmark id or key matches this glob; repeatable.",
        ),
    ] = None,
    quick: Annotated[
        bool, typer.Option(help="Smoke-test timings: 0.1 s per case, fewer samples.")
    ] = False,
    max_time: Annotated[
        float | None,
        typer.Option(help="Seconds of sampling per case (overrides the suite).", min=0.001),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing -o file.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar and no tables.")
    ] = False,
    full_table: FullTable = False,
    baseline: Annotated[
        Path | None,
        typer.Option(help="Compare with this earlier result and exit 1 on a regression."),
    ] = None,
    threshold: Annotated[str, typer.Option(help="With --baseline: slowdown that counts.")] = "10%",
    alpha: Annotated[
        float, typer.Option(help="With --baseline: significance level.", min=1e-9, max=0.5)
    ] = 0.01,
    confirm_processes: Annotated[
        int,
        typer.Option(
            help="With --baseline: fresh processes that re-measure each case that looks slower "
            "before it is judged (0: judge without confirming).",
            min=0,
        ),
    ] = CONFIRM_PROCESSES,
    fail_on_claims: Annotated[
        bool, typer.Option(help="Exit 1 when a claim of the suite fails on this machine.")
    ] = True,
    isolate: Annotated[
        bool,
        typer.Option(help="Run each benchmark in a fresh worker process; crashes are recorded."),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(help="Kill a case after this many seconds (needs --isolate).", min=0.001),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Continue this interrupted result: run only cases not ok in it (with --cluster: "
            "any host's file of the fleet run; every host continues its own)."
        ),
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            help="Measure each benchmark in this many fresh processes (implies --isolate), "
            "so comparisons see the variance between processes.",
            min=1,
        ),
    ] = 1,
    cluster: Annotated[
        str | None,
        typer.Option(
            help="Run the suite on every host of this Dask cluster (tcp://host:8786), or on "
            "'local' / 'local:N' stand-in hosts: one result per host, then their comparison.",
        ),
    ] = None,
    retry_noisy: Annotated[
        int,
        typer.Option(
            help="Measure cases marked noisy or contended again at the end of the run, up to "
            "this many times, keeping the steadier measurement.",
            min=0,
        ),
    ] = 1,
    latency: Annotated[
        bool,
        typer.Option(help="Add a column of single-call latencies (GPU cases) to the tables."),
    ] = False,
    label: Annotated[
        str | None,
        typer.Option(help="Name this run (a version, a setting); history and reports show it."),
    ] = None,
) -> None:
    """Run suites, print the results and claims, and save them as JSON."""
    if len(suites) > 1 and (output or baseline or resume):
        raise InputError(
            "-o, --baseline and --resume each concern one suite's run, but several suites were "
            "given; run them one at a time (without -o each gets results/<suite>-<timestamp>.json)"
        )
    _check_output(output, force)
    base_run = load_run(baseline) if baseline is not None else None
    limit = parse_threshold(threshold)
    overrides: dict[str, Any] = dict(QUICK) if quick else {}
    if max_time is not None:
        overrides["max_time"] = max_time
    settings = Measurement(**overrides, **({"timeout": timeout} if timeout else {}))
    loaded = [load_suite(shipped.resolve(path)) for path in suites]
    roofs = ceilings.load(fingerprint()["machine_id"])
    selections = []
    for suite in loaded:
        planned = suite.cases(settings)
        cases = _select(planned, filters or [])
        if not cases:
            raise InputError(f"{suite.path}: no case matches --filter {' '.join(filters or [])!r}")
        selections.append((suite, planned, cases))
    if cluster is not None:
        refuse_single_file_options(output, baseline, processes)
        try:
            with sigterm_interrupts():
                lost = run_on_fleet(
                    FleetOptions(cluster, overrides, resume, force),
                    selections,
                    Output(console, errors, lambda runs: _gate(runs, limit, alpha, "table")),
                )
        except KeyboardInterrupt as stop:
            raise typer.Exit(
                EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
            ) from None
        if lost:
            raise typer.Exit(EXIT_FAILED)
        return
    plans = []
    for suite, planned, cases in selections:
        executor = choose(suite, overrides, isolate=isolate, processes=processes, timeout=timeout)
        fresh = new_result(suite, overrides, processes, label, execution=executor.describe())
        if resume is not None:
            resumption = resumed(resume, suite, cases, fresh.run, force)
            plans.append(Plan(suite, planned, resumption.todo, resume, resumption.result, executor))
        else:
            plans.append(Plan(suite, planned, cases, output, fresh, executor))
    load = _machine_load(quiet)
    gate = (
        Gate(Judging(base_run, limit, alpha), confirm_processes) if base_run is not None else None
    )
    display = Display(quiet, full_table, latency)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    failed = False
    with sigterm_interrupts():
        for plan in plans:
            plan.result.run.load = load
            budget = describe_budget(plan.cases, retry_noisy)
            line = f"{plan.suite.name}: {len(plan.cases)} cases to run; {budget}"
            console.print(line, highlight=False, soft_wrap=True)
            path = plan.output
            try:
                path = path or results.reserve_path(Path("results"), plan.suite.name, stamp)
                failed |= _run_plan(plan, path, retry_noisy, overrides, gate, roofs, display)
            except KeyboardInterrupt as stop:
                signal_name, code = (
                    ("SIGTERM", EXIT_TERMINATED)
                    if isinstance(stop, Terminated)
                    else ("Ctrl-C", EXIT_INTERRUPTED)
                )
                kept = (
                    f"{len(plan.result.cases)} cases kept in {path}; continue with --resume {path}"
                )
                errors.print(
                    f"interrupted ({signal_name}): {kept if path else 'nothing measured yet'}",
                    highlight=False,
                    soft_wrap=True,
                )
                raise typer.Exit(code) from None
            finally:
                plan.executor.close()
            failed |= fail_on_claims and any(c.status == "failed" for c in plan.result.claims)
    if failed:
        raise typer.Exit(EXIT_FAILED)


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
    ceilings.add_roofline(result, roofs)
    result.claims = evaluate_all(plan.suite.model.claims, result.cases, plan.planned)
    results.save(result, path)
    if not display.quiet:
        render_result(result, console, display.full_table, display.latency)
    console.print(f"saved {path}", highlight=False)
    failed = any(case.status in ("wrong", "error") for case in result.cases)
    if gate is not None:
        console.print()
        judging = gate.judging
        judged = _gate(
            [judging.base, run_view(result, path.name)], judging.threshold, judging.alpha, "table"
        )
        failed |= bool(judged.regressions())
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


def _gate(runs: list[RunView], threshold: float, alpha: float, output_format: str) -> Comparison:
    """Compare and render; the caller decides what fails."""
    comparison = compare(runs, threshold, alpha)
    if output_format == "markdown":
        print(render_markdown(comparison), end="")
    elif output_format == "json":
        print(render_json(comparison))
    else:
        render_table(comparison, console)
    return comparison


@app.command("compare")
@reports_input_errors
def compare_runs(
    files: Annotated[
        list[Path],
        typer.Argument(help="BASE then NEW (and more): labench or pytest-benchmark JSON files."),
    ],
    output_format: Annotated[
        str, typer.Option("--format", help="table, markdown or json.")
    ] = "table",
    fail_on_regression: Annotated[
        bool, typer.Option(help="Exit 1 when a case is significantly slower or newly broken.")
    ] = False,
    threshold: Annotated[str, typer.Option(help="Slowdown that counts, e.g. 10% or 0.1.")] = "10%",
    alpha: Annotated[float, typer.Option(help="Significance level.", min=1e-9, max=0.5)] = 0.01,
    fail_on_unsure: Annotated[
        bool,
        typer.Option(
            help="Also exit 1 when a case looks slower but one process per run cannot tell it "
            "from noise (verdict `unsure`)."
        ),
    ] = False,
) -> None:
    """Compare runs (and machines): ratios with confidence intervals, tests and verdicts."""
    if len(files) < 2:
        raise InputError("compare needs at least two result files: BASE NEW [MORE...]")
    if output_format not in ("table", "markdown", "json"):
        raise InputError(f"--format: expected table, markdown or json, got {output_format!r}")
    limit = parse_threshold(threshold)
    comparison = _gate([load_run(path) for path in files], limit, alpha, output_format)
    if fail_on_regression and comparison.regressions():
        raise typer.Exit(EXIT_FAILED)
    if fail_on_unsure and any(verdict.looks_slower for verdict in comparison.unsure()):
        raise typer.Exit(EXIT_FAILED)


@app.command()
@reports_input_errors
def history(
    sources: Annotated[
        list[Path],
        typer.Argument(
            help="Result files, or folders of them (every *.json inside).", show_default=False
        ),
    ],
    filters: Annotated[
        list[str] | None,
        typer.Option("--filter", "-k", help="Only cases whose benchmark id or key matches."),
    ] = None,
    machine: Annotated[
        str | None, typer.Option(help="The machine to follow (needed when runs come from several).")
    ] = None,
    threshold: Annotated[
        str, typer.Option(help="Smallest change of level reported as a step.")
    ] = "5%",
    fail_on_step: Annotated[
        bool, typer.Option(help="Exit 1 when the newest run starts a slower step.")
    ] = False,
    series: Annotated[
        bool, typer.Option(help="Show every case's series run by run, not only the steps.")
    ] = True,
) -> None:
    """Each case over the runs of one machine (in commit order when git knows the commits,
    else in time order): medians with CIs, and the steps where the level changed."""
    from labench.history import build, load_all
    from labench.history_report import render_history

    found = build(load_all(sources), machine, filters or [], parse_threshold(threshold))
    render_history(found, console, series)
    if fail_on_step and found.gate():
        raise typer.Exit(EXIT_FAILED)


@app.command()
@reports_input_errors
def report(
    sources: Annotated[
        list[Path],
        typer.Argument(
            help="Result files, or folders of them (every *.json inside).", show_default=False
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write.")],
    force: Annotated[bool, typer.Option(help="Replace an existing file.")] = False,
) -> None:
    """One self-contained HTML page: machines, result tables, claims, comparisons, figures and,
    with several runs of a machine, its history with the steps marked."""
    from labench.html_report import write

    if output.exists() and not force:
        raise InputError(f"{output}: already exists (pass --force to replace it)")
    write(sources, output)
    console.print(f"wrote {output}", highlight=False)


@app.command()
@reports_input_errors
def export(
    result_file: Annotated[Path, typer.Argument(help="A labench result JSON file.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")],
    output_format: Annotated[
        str, typer.Option("--format", help="pytest-benchmark (the only format so far).")
    ] = "pytest-benchmark",
    force: Annotated[bool, typer.Option(help="Replace an existing file.")] = False,
) -> None:
    """Write a labench run in another tool's format."""
    if output_format != "pytest-benchmark":
        raise InputError(f"--format: expected pytest-benchmark, got {output_format!r}")
    if output.exists() and not force:
        raise InputError(f"{output}: already exists (pass --force to replace it)")
    document = to_pytest_benchmark(results.load(result_file))
    output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    console.print(f"wrote {len(document['benchmarks'])} benchmarks to {output}", highlight=False)


@app.command()
@reports_input_errors
def validate(
    suites: Annotated[list[Path], typer.Argument(help="Suite YAML files.", show_default=False)],
) -> None:
    """Check suites without running them."""
    problems: list[str] = []
    for path in suites:
        try:
            suite = load_suite(shipped.resolve(path))
        except InputError as error:
            problems += error.problems
            continue
        cases = suite.cases()
        console.print(
            f"{path}: ok, {len(suite.model.benchmarks)} benchmarks, {len(cases)} cases, "
            f"{len(suite.model.claims)} claims; {describe_budget(cases)}",
            highlight=False,
            soft_wrap=True,
        )
    if problems:
        raise InputError(problems)


@app.command("list")
def list_workloads(
    suites: Annotated[
        bool, typer.Option("--suites", help="List the shipped suites instead of workloads.")
    ] = False,
) -> None:
    """Workloads, their implementations, and whether each backend can run here."""
    if suites:
        console.print(shipped_suites_table())
        return
    table = Table(show_edge=False)
    for column in ("workload", "implementation", "backend", "available", "summary"):
        table.add_column(column)
    for name, workload in sorted(BUILTIN.items()):
        table.add_section()
        for implementation in workload.implementations.values():
            state = availability(implementation.backend)
            available = (
                "[green]yes[/]" if state.available else f"[yellow]no[/]: {escape(state.reason)}"
            )
            table.add_row(
                name, implementation.name, implementation.backend, available, implementation.summary
            )
    console.print(table)
    console.print(
        f"backends: {', '.join(sorted(BACKENDS))}; a suite may also name a user "
        "workload as 'module:ClassName'"
    )


def shipped_suites_table() -> Table:
    table = Table(show_edge=False, title="shipped suites: labench run NAME", title_justify="left")
    for column in ("name", "description", "file"):
        table.add_column(column, overflow="fold")
    for suite in shipped.shipped_suites():
        table.add_row(suite.name, escape(suite.description), str(suite.path))
    return table


@app.command()
def env(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The environment fingerprint stored with every run."""
    found = fingerprint()
    if as_json:
        console.print_json(json.dumps(found))
    else:
        console.print(environment_table(found))


@app.command()
@reports_input_errors
def calibrate(
    threads: Annotated[
        list[int] | None,
        typer.Option(
            "--threads", "-t", min=1, help="Thread counts; repeatable. Default: 1, 2, 4... all."
        ),
    ] = None,
    gpu: Annotated[bool, typer.Option(help="Also measure a GPU through CuPy, if any.")] = True,
    show_only: Annotated[
        bool, typer.Option("--show", help="Print the stored ceilings; measure nothing.")
    ] = False,
) -> None:
    """Measure this machine's compute and memory ceilings for the roofline (stored per machine;
    later runs add each case's `roofline_frac`)."""
    if show_only:
        machine = fingerprint()["machine_id"]
        stored = ceilings.load(machine)
        if stored is None:
            raise InputError(f"no ceilings stored for machine {machine}: run `labench calibrate`")
        console.print(ceilings_table(stored))
        return
    measured = ceilings.measure(threads or ceilings.default_thread_counts(), gpu)
    path = ceilings.save(measured)
    console.print(ceilings_table(measured))
    console.print(f"saved {path}", highlight=False)


@app.command()
@reports_input_errors
def plot(
    result_file: Annotated[Path, typer.Argument(help="A labench result JSON file.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the figures.")],
    formats: Annotated[
        list[str] | None, typer.Option("--format", help="png (default), svg or pdf; repeatable.")
    ] = None,
) -> None:
    """Figures of a run: scaling, gradient error vs step, low-rank error and speedup vs rank,
    speedups, and the roofline under this machine's measured ceilings."""
    chosen = formats or ["png"]
    unknown = sorted(set(chosen) - set(FIGURE_FORMATS))
    if unknown:
        raise InputError(
            f"--format {', '.join(unknown)}: expected one of {', '.join(FIGURE_FORMATS)}"
        )
    result = results.load(result_file)
    roofs = ceilings.load(result.environment.machine_id)
    written = write_figures(result, output, chosen, roofs)
    for path in written:
        console.print(f"wrote {path}", highlight=False)
    if not written:
        console.print("nothing to plot: the run has no measured case")


@app.command()
@reports_input_errors
def show(
    result_file: Annotated[Path, typer.Argument(help="A labench result JSON file.")],
    full_table: FullTable = False,
    latency: Annotated[
        bool,
        typer.Option(help="Add a column of single-call latencies (GPU cases) to the tables."),
    ] = False,
) -> None:
    """Re-render a saved run."""
    render_result(results.load(result_file), console, full_table, latency)


@app.command()
def schema() -> None:
    """JSON Schema of the suite format, for editor completion and validation."""
    document = SuiteModel.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "labench suite"
    print(json.dumps(document, indent=2))


def main() -> None:
    app()
