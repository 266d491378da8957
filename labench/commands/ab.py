"""`labench ab`: two revisions, folders or interpreters measured interleaved in one job, judged
in pairs. Thin: the sides are made by execution/sides.py, measured by execution/ab.py, judged by
judge/paired.py and shown by present/pairing.py. Light at import, like the app: the measuring
side is imported when the command runs.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from labench.commands.ci import JunitFile, MarkdownFile
from labench.commands.run_options import QUICK
from labench.commands.terminal import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_UNDECIDED,
    console,
    errors,
)
from labench.core.errors import InputError

if TYPE_CHECKING:
    from labench.execution.ab import Measured
    from labench.judge.compare import Comparison
    from labench.judge.paired import Schedule

SIDE_HELP = (
    "a git revision of this repository (checked out in a temporary worktree, always removed), "
    "a folder, or a Python interpreter (another virtual environment, with labench installed)"
)


@dataclasses.dataclass(frozen=True)
class ABOptions:
    """The options of `labench ab`, as parsed."""

    suite: Annotated[
        Path,
        typer.Argument(
            help="The suite, relative to each side's folder (for a revision: the same place in "
            "its checkout as the current folder in the repository).",
            show_default=False,
        ),
    ]
    base: Annotated[
        str | None,
        typer.Option(help=f"The base side: {SIDE_HELP}. Default: the merge base with main."),
    ] = None
    new: Annotated[
        str | None,
        typer.Option(help=f"The new side: {SIDE_HELP}. Default: the working tree."),
    ] = None
    rounds: Annotated[
        int, typer.Option(help="Rounds before the first look (each side once per round).")
    ] = 6
    step: Annotated[int, typer.Option(help="Rounds between later looks.")] = 6
    max_rounds: Annotated[
        int, typer.Option(help="Rounds at most: a case undecided then ends the run UNDECIDED.")
    ] = 12
    threshold: Annotated[
        str,
        typer.Option(
            help="Slowdown that counts, e.g. 5% or 0.05, for benchmarks whose suite (on the new "
            "side) sets none of their own (gate: in the suite)."
        ),
    ] = "10%"
    alpha: Annotated[
        float,
        typer.Option(help="False-alarm rate per case over all looks.", min=1e-9, max=0.5),
    ] = 0.01
    allow_undecided: Annotated[
        bool,
        typer.Option(help="Exit 0 rather than 3 when a case is undecided at --max-rounds."),
    ] = False
    filters: Annotated[
        list[str] | None,
        typer.Option("--filter", "-k", help="Only cases whose benchmark id or key matches."),
    ] = None
    quick: Annotated[bool, typer.Option(help="Smoke-test timings: 0.1 s per case.")] = False
    max_time: Annotated[
        float | None,
        typer.Option(help="Seconds of sampling per case and side, over the first look's rounds."),
    ] = None
    output_format: Annotated[
        str, typer.Option("--format", help="table, markdown or json (on standard output).")
    ] = "table"
    results: Annotated[Path, typer.Option(help="Folder for each side's result file.")] = Path(
        "results"
    )
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False
    junit: JunitFile = None
    markdown: MarkdownFile = None

    def overrides(self) -> dict[str, Any]:
        chosen: dict[str, Any] = dict(QUICK) if self.quick else {}
        if self.max_time is not None:
            chosen["max_time"] = self.max_time
        return chosen


def run_ab(options: ABOptions) -> None:
    """Measure, judge, save, render; raises typer.Exit with the code the run ends with."""
    from labench.core.signals import Terminated, sigterm_interrupts
    from labench.execution.ab import Request, measure_ab
    from labench.execution.sides import sides
    from labench.judge.compare import parse_threshold
    from labench.judge.paired import Schedule

    if options.output_format not in ("table", "markdown", "json"):
        raise InputError(
            f"--format: expected table, markdown or json, got {options.output_format!r}"
        )
    limit = parse_threshold(options.threshold)
    schedule = Schedule(options.rounds, options.step, options.max_rounds)
    request = Request(str(options.suite), options.overrides(), "ab (interleaved rounds)")

    def progress(line: str) -> None:
        if not options.quiet:
            errors.print(f"[dim]{line}[/]", highlight=False)

    try:
        with sigterm_interrupts(), sides(options.base, options.new) as pair:
            measured = measure_ab(
                pair, request, schedule, (limit, options.alpha), options.filters or [], progress
            )
    except KeyboardInterrupt as stop:
        signal_name = "SIGTERM" if isinstance(stop, Terminated) else "Ctrl-C"
        errors.print(f"interrupted ({signal_name}): nothing saved", highlight=False)
        code = EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
        raise typer.Exit(code) from None
    comparison = judge_and_render(options, measured, schedule, limit)
    if comparison.regressions():
        raise typer.Exit(EXIT_FAILED)
    if comparison.undecided() and not options.allow_undecided:
        raise typer.Exit(EXIT_UNDECIDED)


def judge_and_render(
    options: ABOptions, measured: Measured, schedule: Schedule, limit: float
) -> Comparison:
    """Save each side's result, judge the pairs, show them with the gate's last word, and
    write the CI outputs asked for (commands/ci.py: JUnit, a pull request comment, GitHub's
    step summary and annotations)."""
    from labench.commands.ci import CiOutputs, publish
    from labench.judge.paired import paired_comparison
    from labench.present.comparison import gate_verdict
    from labench.present.pairing import render_ab
    from labench.results import model as results
    from labench.results.views import run_view

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    views = []
    for name, result in (("base", measured.base), ("new", measured.new)):
        path = results.reserve_path(options.results, f"{result.suite.name}-{name}", stamp)
        results.save(result, path)
        errors.print(f"saved {path}", highlight=False)
        views.append(run_view(result, path.name))
    base, new = views
    comparison, pairing = paired_comparison(
        base, new, measured.rounds, measured.only_in, schedule, limit, options.alpha
    )
    undecided = [verdict.key for verdict in comparison.undecided()]
    decide = decide_command(options, undecided)
    ending = gate_verdict(comparison, undecided, decide)
    render_ab(comparison, pairing, ending, console, options.output_format)
    # a document on standard output (markdown, json) keeps it whole: annotations go beside it
    stream = None if options.output_format == "table" else sys.stderr
    publish(comparison, CiOutputs.chosen(options.junit, options.markdown), decide, stream)
    return comparison


def decide_command(options: ABOptions, undecided: list[str]) -> str:
    """The command that measures only the undecided cases again, with the same settings and
    twice the rounds."""
    words = ["labench", "ab", str(options.suite)]
    for name in ("base", "new"):
        value = getattr(options, name)
        if value is not None:
            words += [f"--{name}", value]
    for key in undecided:
        words += ["-k", key]
    words += ["--threshold", options.threshold, "--alpha", f"{options.alpha:g}"]
    words += ["--quick"] if options.quick else []
    words += ["--max-time", f"{options.max_time:g}"] if options.max_time is not None else []
    words += ["--rounds", str(options.rounds), "--step", str(options.step)]
    return shlex.join([*words, "--max-rounds", str(2 * options.max_rounds)])
