"""The `labench` command. Thin on purpose: parse, call the library, render, choose the exit code
(terminal.py lists them).

Each command imports what it needs when it runs, not here: `labench --help` and `labench run
--help` then cost typer and rich, not NumPy, pydantic models and the runner (measured in
benchmarks/startup.py; tests/test_startup.py keeps it so). `run` itself lives in run_command.py.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table
from typer._click.core import Command

from labench.commands import readers, store
from labench.commands.ab import ABOptions
from labench.commands.ci import CiOutputs, JunitFile, MarkdownFile, publish
from labench.commands.run_options import RunOptions, as_typer_parameters
from labench.commands.terminal import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    console,
    errors,
    interruption,
    reports_input_errors,
)
from labench.core.errors import InputError
from labench.core.pause import pause_at
from labench.core.signals import sigterm_interrupts

if TYPE_CHECKING:  # typer's own copy of click: its Command, for the hint only
    from typer._click.core import Command

    from labench.results.views import RunView

app = typer.Typer(
    help="Benchmark the linear algebra behind deep learning, honestly.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    invoke_without_command=True,
)

VERSIONED = ("numpy", "numba", "scipy", "cupy-cuda12x", "cupy-cuda13x", "cupy")
"""The packages `--version --verbose` names beside labench and Python, where installed."""


@app.callback()
def versions(
    context: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="With --version: also Python, NumPy, Numba, CuPy.")
    ] = False,
) -> None:
    """Benchmark the linear algebra behind deep learning, honestly."""
    from importlib import metadata

    if version:
        console.print(f"labench {metadata.version('labench')}", highlight=False)
        if verbose:
            console.print(f"Python {platform.python_version()}", highlight=False)
            for package in VERSIONED:
                try:
                    console.print(f"{package} {metadata.version(package)}", highlight=False)
                except metadata.PackageNotFoundError:
                    continue
        raise typer.Exit()
    if context.invoked_subcommand is None:
        console.print(context.get_help())
        raise typer.Exit()


@app.command()
@reports_input_errors
@as_typer_parameters(RunOptions)
def run(options: RunOptions) -> None:
    """Run suites, print the results and claims, and save them as JSON."""
    from labench.commands.run import run as run_suites

    run_suites(options)


@app.command("compare")
@reports_input_errors
def compare_runs(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="BASE then NEW (and more): labench or pytest-benchmark JSON files; or a folder "
            "of them (a history) then one NEW file."
        ),
    ],
    output_format: Annotated[
        str, typer.Option("--format", help="table, markdown or json.")
    ] = "table",
    fail_on_regression: Annotated[
        bool, typer.Option(help="Exit 1 when a case is significantly slower or newly broken.")
    ] = False,
    threshold: Annotated[
        str,
        typer.Option(
            help="Slowdown that counts, e.g. 10% or 0.1, for benchmarks whose suite sets none "
            "of their own (gate: in the suite)."
        ),
    ] = "10%",
    alpha: Annotated[float, typer.Option(help="Significance level.", min=1e-9, max=0.5)] = 0.01,
    fail_on_unsure: Annotated[
        bool,
        typer.Option(
            help="Also exit 1 when a case looks slower but the data cannot tell it from noise "
            "(verdict `unsure`: one process per run, or processes that spread too widely)."
        ),
    ] = False,
    junit: JunitFile = None,
    markdown: MarkdownFile = None,
) -> None:
    """Compare runs (and machines): ratios with confidence intervals, tests and verdicts.

    Each NEW file's benchmarks are judged with the gate settings its suite stored in it (a
    threshold of their own, or excluded with a reason); --threshold is the others'."""
    from labench.judge.compare import compare, parse_threshold
    from labench.present.comparison import render
    from labench.results.views import load_run

    if len(files) < 2:
        raise InputError("compare needs at least two result files: BASE NEW [MORE...]")
    if output_format not in ("table", "markdown", "json"):
        raise InputError(f"--format: expected table, markdown or json, got {output_format!r}")
    limit = parse_threshold(threshold)
    runs = _history_and_new(files) if files[0].is_dir() else [load_run(path) for path in files]
    seen: dict[Path, Path] = {}
    for path in files:
        twin = seen.setdefault(path.resolve(), path)
        if twin is not path:
            raise InputError(
                f"{path}: given twice (as {twin} too); a run compared with itself is the same "
                "in every case and says nothing: compare runs measured separately"
            )
    comparison = compare(runs, limit, alpha)
    render(comparison, console, output_format)
    decide = (
        f"labench run SUITE --baseline {files[0]} re-measures them in fresh processes; or "
        "compare runs made with --processes 3 or more"
    )
    # a document on standard output (markdown, json) keeps it whole: annotations go beside it
    stream = None if output_format == "table" else sys.stderr
    publish(comparison, CiOutputs.chosen(junit, markdown), decide, stream)
    if fail_on_regression and comparison.regressions():
        raise typer.Exit(EXIT_FAILED)
    if fail_on_unsure and any(verdict.might_be_slower for verdict in comparison.unsure()):
        raise typer.Exit(EXIT_FAILED)


def _history_and_new(files: list[Path]) -> list[RunView]:
    """`compare DIR NEW`: NEW judged against the history of its machine and suite in DIR (the
    folder's results store), as `run --against` judges, without re-measuring anything."""
    from labench.judge.gate_settings import HISTORY_MINIMUM, HISTORY_WINDOW
    from labench.judge.history_gate import folder_baseline
    from labench.results.views import as_view, load_any

    if len(files) != 2:
        raise InputError(
            f"{files[0]}: a folder as BASE is a history, judged against one NEW file; got "
            f"{len(files) - 1}: compare one run at a time"
        )
    new = load_any(files[1])
    found = folder_baseline(files[0], new)
    for line in found.header(files[0], HISTORY_WINDOW, HISTORY_MINIMUM):
        console.print(line, highlight=False, soft_wrap=True)
    return [found.view, as_view(new, files[1].name)]


@app.command("ab")
@reports_input_errors
@as_typer_parameters(ABOptions)
def ab(options: ABOptions) -> None:
    """Measure two revisions, folders or interpreters interleaved in one job, and judge each case
    on its per-round ratios: exit 1 on a regression, 3 when a case stays undecided."""
    from labench.commands.ab import run_ab

    run_ab(options)


app.command()(readers.history)
app.add_typer(store.app, name="store")


app.command()(readers.report)


app.command()(readers.export)


@app.command()
@reports_input_errors
def validate(
    suites: Annotated[list[Path], typer.Argument(help="Suite YAML files.", show_default=False)],
) -> None:
    """Check suites without running them."""
    from labench.suite import shipped
    from labench.suite.load import load_suite
    from labench.suite.size import describe_budget

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
@reports_input_errors
def list_workloads(
    suites: Annotated[
        bool, typer.Option("--suites", help="List the shipped suites instead of workloads.")
    ] = False,
) -> None:
    """Workloads, their implementations, and whether each backend can run here."""
    if suites:
        console.print(shipped_suites_table())
        return
    from labench.backends import BACKENDS, availability
    from labench.workloads import BUILTIN

    table = Table(show_edge=False)
    for column in ("workload", "implementation", "backend", "available", "summary"):
        table.add_column(column)
    unavailable: dict[str, str] = {}
    for name, workload in sorted(BUILTIN.items()):
        table.add_section()
        for implementation in workload.implementations.values():
            state = availability(implementation.backend)
            if not state.available:
                unavailable[implementation.backend] = state.reason
            available = "[green]yes[/]" if state.available else "[yellow]no[/]"
            table.add_row(
                name, implementation.name, implementation.backend, available, implementation.summary
            )
    console.print(table)
    for backend, reason in sorted(unavailable.items()):
        console.print(f"[yellow]{backend}[/]: not available here: {escape(reason)}")
    console.print(
        f"backends: {', '.join(sorted(BACKENDS))}; a suite may also name a user "
        "workload as 'module:ClassName'"
    )


def shipped_suites_table() -> Table:
    from labench.suite import shipped

    table = Table(show_edge=False, title="shipped suites: labench run NAME", title_justify="left")
    for column in ("name", "description", "file"):
        table.add_column(column, overflow="fold")
    for suite in shipped.shipped_suites():
        table.add_row(suite.name, escape(suite.description), str(suite.path))
    return table


@app.command()
@reports_input_errors
def env(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The environment fingerprint stored with every run."""
    from labench.measure.environment import fingerprint
    from labench.present.machine import environment_table

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
    device: Annotated[
        int | None,
        typer.Option(
            help="The GPU to measure, numbered as CUDA counts the devices it can see; "
            "default: CUDA's first.",
            min=0,
        ),
    ] = None,
) -> None:
    """Measure this machine's compute and memory ceilings for the roofline (stored per machine;
    later runs add each case's `roofline_frac`). The GPU's clocks while its roofs were timed
    are stored with them."""
    from labench.machine.ceilings import default_thread_counts, measure
    from labench.measure.environment import fingerprint
    from labench.present.machine import ceilings_table
    from labench.results import ceilings

    if show_only:
        machine = fingerprint()["machine_id"]
        stored = ceilings.load(machine)
        if stored is None:
            raise InputError(f"no ceilings stored for machine {machine}: run `labench calibrate`")
        console.print(ceilings_table(stored))
        return
    if device is not None:
        from labench.backends.cupy_gpu import choose_device

        choose_device(device, os.environ)
    measured = measure(threads or default_thread_counts(), gpu)
    path = ceilings.save(measured)
    console.print(ceilings_table(measured))
    console.print(f"saved {path}", highlight=False)


app.command()(readers.plot)


app.command()(readers.show)


@app.command()
@reports_input_errors
def schema() -> None:
    """JSON Schema of the suite format, for editor completion and validation."""
    from labench.suite.model import SuiteModel

    document = SuiteModel.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "labench suite"
    print(json.dumps(document, indent=2))


def main() -> None:
    """The console script: any command, with SIGTERM stopping it as Ctrl-C does (signals.py)
    and either signal ending it with its own exit code and one line, wherever it lands."""
    try:
        with sigterm_interrupts():
            try:
                pause_at("startup")
                command = typer.main.get_command(app)
                plain_flags(command)
                command()
            except KeyboardInterrupt as stop:  # before any command began: nothing to keep
                name, code = interruption(stop)
                errors.print(f"interrupted ({name})", highlight=False)
                sys.exit(code)
    finally:
        # Past this point only the interpreter's shutdown runs (worker pools, atexit hooks): a
        # signal there ends the process with the code that signal means, never with a
        # traceback or a death by SIGINT.
        signal.signal(signal.SIGINT, lambda *_: os._exit(EXIT_INTERRUPTED))
        signal.signal(signal.SIGTERM, lambda *_: os._exit(EXIT_TERMINATED))


def plain_flags(command: Command) -> None:
    """Help that reads as prose: no `<bool>` type beside an on/off flag (`--quick / --no-quick`
    says it all), and a docstring's wrapped lines joined into paragraphs, so `--help` does not
    break a sentence where the source file did. (typer carries its own copy of click, so
    options are recognised by what they are.)"""
    for param in command.params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    if command.help:
        paragraphs = command.help.strip().split("\n\n")
        command.help = "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)
    for sub in getattr(command, "commands", {}).values():
        plain_flags(sub)
