"""The commands that only read result files: history, report, export, plot and show.

None of them imports the measuring side of labench (tests/test_startup.py checks it); each
imports what it needs when it runs, so `labench --help` waits for none of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from labench.commands.run_options import FullTable
from labench.commands.terminal import EXIT_FAILED, console, reports_input_errors
from labench.core.errors import InputError


@reports_input_errors
def history(
    sources: Annotated[
        list[Path],
        typer.Argument(
            help="A folder of result files (read through its results store), or result files.",
            show_default=False,
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
    show_all: Annotated[
        bool,
        typer.Option("--all", help="Every run and every case's series, not only what changed."),
    ] = False,
) -> None:
    """Each case over the runs of one machine (in commit order when git knows the commits,
    else in time order): one line per case whose level changed, largest change first, and the
    count of unchanged ones; `--all` shows every series."""
    from labench.judge.compare import parse_threshold
    from labench.judge.history import build, from_store, load_all
    from labench.present.history import render_history
    from labench.results.store import opened

    if len(sources) == 1 and sources[0].is_dir():
        with opened(sources[0]) as store:
            found = build(
                from_store(store, machine, show_all),
                machine,
                filters or [],
                parse_threshold(threshold),
            )
    else:
        found = build(load_all(sources), machine, filters or [], parse_threshold(threshold))
    render_history(found, console, show_all)
    if fail_on_step and found.gate():
        raise typer.Exit(EXIT_FAILED)


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
    from labench.core.files import refuse_to_overwrite
    from labench.present.html import write

    refuse_to_overwrite(output, force, "a report")
    write(sources, output)
    console.print(f"wrote {output}", highlight=False)


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
    from labench.core.files import refuse_to_overwrite
    from labench.results import reader
    from labench.results.views import to_pytest_benchmark

    if output_format != "pytest-benchmark":
        raise InputError(f"--format: expected pytest-benchmark, got {output_format!r}")
    refuse_to_overwrite(output, force, "a file")
    document = to_pytest_benchmark(reader.load(result_file))
    output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    console.print(f"wrote {len(document['benchmarks'])} benchmarks to {output}", highlight=False)


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
    from labench.present.plot import FIGURE_FORMATS, write_figures
    from labench.results import ceilings, reader

    chosen = formats or ["png"]
    unknown = sorted(set(chosen) - set(FIGURE_FORMATS))
    if unknown:
        raise InputError(
            f"--format {', '.join(unknown)}: expected one of {', '.join(FIGURE_FORMATS)}"
        )
    result = reader.load(result_file)
    roofs = ceilings.load(result.environment.machine_id)
    written = write_figures(result, output, chosen, roofs)
    for path in written:
        console.print(f"wrote {path}", highlight=False)
    if not written:
        console.print("nothing to plot: the run has no measured case")


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
    from labench.present.report import render_result
    from labench.results import reader

    render_result(reader.load(result_file), console, full_table, latency)
