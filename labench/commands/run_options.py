"""The options of `labench run`, each declared once: its type, its help and its default.

typer reads this dataclass's fields as the command's parameters (`as_typer_parameters`), and
the command's body receives one `RunOptions`; nothing copies an option field by field. Light on
purpose, like the app: `labench run --help` imports typer and this, not NumPy or the runner.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from labench.commands.ci import JunitFile, MarkdownFile
from labench.judge.gate_settings import CONFIRM_PROCESSES, HISTORY_WINDOW

QUICK = {"max_time": 0.1, "warmup": 0.01, "min_samples": 5}
"""The settings `--quick` stands for: smoke-test timings."""

THROTTLE_RECOVERY = 5.0
"""Seconds a GPU rests before throttled cases are measured again: a power cap lifts within
milliseconds, but a thermal slowdown lasts until the die has cooled, seconds on an air-cooled
card; paid once per retry round, and only when a case was throttled."""

FullTable = Annotated[
    bool,
    typer.Option(
        help="Every row and column: each case of a large benchmark, cases of backends missing "
        "here, columns left out to fit the width."
    ),
]


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The options of `labench run`, as parsed."""

    suites: Annotated[
        list[Path],
        typer.Argument(
            help="Suite YAML files, or names of shipped suites (labench list --suites).",
            show_default=False,
        ),
    ]
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Result file (one suite only). Default: results/<suite>-<timestamp>.json",
        ),
    ] = None
    filters: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            "-k",
            help="Run only cases whose benchmark id or key matches this glob; repeatable.",
        ),
    ] = None
    quick: Annotated[
        bool, typer.Option(help="Smoke-test timings: 0.1 s per case, fewer samples.")
    ] = False
    max_time: Annotated[
        float | None,
        typer.Option(help="Seconds of sampling per case (overrides the suite).", min=0.001),
    ] = None
    force: Annotated[bool, typer.Option(help="Replace an existing -o file.")] = False
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no tables.")] = (
        False
    )
    full_table: FullTable = False
    baseline: Annotated[
        Path | None,
        typer.Option(help="Compare with this earlier result and exit 1 on a regression."),
    ] = None
    against: Annotated[
        Path | None,
        typer.Option(
            help="Judge each case against its earlier runs on this machine in this folder of "
            "results (its results store), and exit 1 on a regression.",
            file_okay=False,
        ),
    ] = None
    against_runs: Annotated[
        int,
        typer.Option(help="With --against: each case's newest runs judged against.", min=2),
    ] = HISTORY_WINDOW
    threshold: Annotated[
        str,
        typer.Option(
            help="With --baseline or --against: slowdown that counts, for benchmarks whose "
            "suite sets none of their own (gate: in the suite)."
        ),
    ] = "10%"
    alpha: Annotated[
        float, typer.Option(help="With --baseline: significance level.", min=1e-9, max=0.5)
    ] = 0.01
    confirm_processes: Annotated[
        int,
        typer.Option(
            help="With --baseline: fresh processes that re-measure each case that looks slower "
            "before it is judged (0: judge without confirming).",
            min=0,
        ),
    ] = CONFIRM_PROCESSES
    confirm_budget: Annotated[
        float | None,
        typer.Option(
            help="With --baseline: cap, in seconds, on re-measuring suspects (default: none, "
            "every suspect is examined); suspects beyond it end the run UNDECIDED (exit 3).",
            min=0.0,
        ),
    ] = None
    junit: JunitFile = None
    markdown: MarkdownFile = None
    allow_undecided: Annotated[
        bool,
        typer.Option(
            help="With --baseline: exit 0 rather than 3 when a case that moved the slow way "
            "could not be decided (it is still named)."
        ),
    ] = False
    fail_on_claims: Annotated[
        bool, typer.Option(help="Exit 1 when a claim of the suite fails on this machine.")
    ] = True
    isolate: Annotated[
        bool,
        typer.Option(help="Run each benchmark in a fresh worker process; crashes are recorded."),
    ] = False
    timeout: Annotated[
        float | None,
        typer.Option(help="Kill a case after this many seconds (needs --isolate).", min=0.001),
    ] = None
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Continue this interrupted result: run only cases not ok in it (with --cluster: "
            "any host's file of the fleet run; every host continues its own)."
        ),
    ] = None
    processes: Annotated[
        int,
        typer.Option(
            help="Measure each benchmark in this many fresh processes (implies --isolate), "
            "so comparisons see the variance between processes.",
            min=1,
        ),
    ] = 1
    cluster: Annotated[
        str | None,
        typer.Option(
            help="Run the suite on every host of this Dask cluster (tcp://host:8786, or "
            "tls://host:8786 with --tls-*), or on 'local' / 'local:N' stand-in hosts: one result "
            "per host, then their comparison.",
        ),
    ] = None
    tls_ca_file: Annotated[
        Path | None,
        typer.Option(
            envvar="LABENCH_TLS_CA_FILE",
            help="With --cluster tls://...: the CA certificate (PEM) that signed the "
            "scheduler's and workers' certificates.",
        ),
    ] = None
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            envvar="LABENCH_TLS_CERT",
            help="With --cluster tls://...: this machine's certificate (PEM), signed by that CA.",
        ),
    ] = None
    tls_key: Annotated[
        Path | None,
        typer.Option(
            envvar="LABENCH_TLS_KEY",
            help="With --cluster tls://...: the private key of --tls-cert, unless that file "
            "holds it.",
        ),
    ] = None
    retry_noisy: Annotated[
        int,
        typer.Option(
            help="Measure cases marked noisy, contended or throttled again at the end of the "
            "run, up to this many times, keeping the steadier measurement.",
            min=0,
        ),
    ] = 1
    device: Annotated[
        int | None,
        typer.Option(
            help="The GPU to run on, numbered as CUDA counts the devices it can see (those "
            "CUDA_VISIBLE_DEVICES lists, when set); default: CUDA's first.",
            min=0,
        ),
    ] = None
    throttle_threshold: Annotated[
        float | None,
        typer.Option(
            help="Flag a GPU case throttled when its SM clock falls below this share of its "
            "maximum while sampled (overrides the suite; default 0.75).",
            min=0.01,
            max=1.0,
        ),
    ] = None
    throttle_recovery: Annotated[
        float,
        typer.Option(
            help="Seconds the GPU rests before throttled cases are measured again.", min=0.0
        ),
    ] = THROTTLE_RECOVERY
    latency: Annotated[
        bool,
        typer.Option(help="Add a column of single-call latencies (GPU cases) to the tables."),
    ] = False
    label: Annotated[
        str | None,
        typer.Option(help="Name this run (a version, a setting); history and reports show it."),
    ] = None

    def overrides(self) -> dict[str, Any]:
        """The suite's measurement settings that the command line replaces."""
        chosen: dict[str, Any] = dict(QUICK) if self.quick else {}
        if self.max_time is not None:
            chosen["max_time"] = self.max_time
        if self.throttle_threshold is not None:
            chosen["throttle_threshold"] = self.throttle_threshold
        return chosen


Options = typing.TypeVar("Options")


def as_typer_parameters(
    options: type[Options],
) -> Callable[[Callable[[Options], None]], Callable[..., None]]:
    """Give a command taking one options object the dataclass's fields as its parameters.

    typer builds a command from `inspect.signature` and the annotations of the function it
    is given; the wrapper carries the fields' (`Annotated`) types and defaults as both, and
    calls the body with the options assembled from whatever typer parsed.
    """
    hints = typing.get_type_hints(options, include_extras=True)
    fields = dataclasses.fields(options)  # type: ignore[arg-type]
    parameters = [
        inspect.Parameter(
            field.name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=hints[field.name],
            default=inspect.Parameter.empty
            if field.default is dataclasses.MISSING
            else field.default,
        )
        for field in fields
    ]

    def decorate(body: Callable[[Options], None]) -> Callable[..., None]:
        def command(**parsed: Any) -> None:
            body(options(**parsed))

        command.__name__ = body.__name__
        command.__qualname__ = body.__qualname__
        command.__doc__ = body.__doc__
        command.__module__ = body.__module__
        command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {field.name: hints[field.name] for field in fields}
        return command

    return decorate
