"""Rendering results for people: rich tables, a progress bar, environment summaries.

Reads results only; never runs a kernel. Speedups are computed here from the stored medians,
inside each group (cases differing only by implementation), against the suite's baseline.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from labench.core.dtypes import DEFAULT_MATH
from labench.core.stats import NOISY_REL_CI
from labench.judge.scaling import fitted_exponents, swept
from labench.judge.speedups import speedups, unsteady
from labench.present.format import format_bytes, format_number, format_seconds
from labench.results.model import CaseResult, ClaimResult, Result

STATUS_STYLE = {"ok": "green", "skipped": "yellow", "error": "bold red", "wrong": "bold red"}
CLAIM_STYLE = {"held": "green", "failed": "bold red", "unmeasured": "yellow"}


FLAG_LABELS = {"noisy": "noisy", "contended": "busy"}
"""How a flag reads in a table's status column (short, so quick's tables fit 120 columns)."""


def _status_text(cell: str) -> str:
    """A grid's status cell (`ok`, or `ok noisy busy`) in colour: flags in yellow."""
    status, *flags = cell.split()
    text = f"[{STATUS_STYLE[status]}]{status}[/]"
    return text + (f" [yellow]{' '.join(flags)}[/]" if flags else "")


def _ci_text(case: CaseResult) -> str:
    relative = case.timing.rel_ci if case.timing else None
    return "-" if relative is None else f"±{relative:.1%}"


def _percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction:.0%}"


CACHE_MARK = "ᶜ"
CACHE_NOTE = (
    f"{CACHE_MARK} working set fits in the last-level cache (cache_resident): "
    "it may beat the memory roof; cold: cache evicted before every call"
)


def _roof_text(case: CaseResult) -> str:
    """The roofline share, marked when the data can come from cache rather than memory."""
    text = _percent(case.metrics.get("roofline_frac"))
    return text + CACHE_MARK if case.metrics.get("cache_resident") and text != "-" else text


def _value_text(value: Any) -> str:
    return "default" if value is None else str(value)


def _params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{name}={_value_text(value)}" for name, value in params.items())


@dataclass
class Grid:
    """One benchmark's table, free of any output format, so the terminal and the HTML report
    show the same cells. Coordinates that are the same on every row are said once, in
    `constants`, instead of repeating (and wrapping) on each row."""

    title: str
    constants: str
    columns: list[tuple[str, str]]
    """(heading, justify) pairs; justify is "left" or "right"."""
    sections: list[list[list[str]]] = field(default_factory=list)
    """Rows grouped by parameter point; each row's last cell is the case's status."""
    keys: list[str] = field(default_factory=list)
    """The case key of each row, in order across sections."""


def _coordinates(cases: list[CaseResult]) -> tuple[list[str], str]:
    """The parameters (and dtype, threads) that vary within these cases, and the text of those
    that do not."""
    names = _named_params(cases)
    values = {name: {_value_text(case.params.get(name)) for case in cases} for name in names}
    varying = [name for name in names if len(values[name]) > 1]
    constants = [f"{name}={values[name].pop()}" for name in names if len(values[name]) == 1]
    for name, found in (
        ("dtype", {_dtype_text(case) for case in cases}),
        ("threads", {str(case.threads) for case in cases}),
        ("cache", {case.cache for case in cases}),
    ):
        if len(found) > 1:
            varying.append(name)
        elif found != {"warm"}:  # the default cache mode goes without saying
            constants.append(f"{name}={found.pop()}")
    return varying, " ".join(constants)


def _named_params(cases: list[CaseResult]) -> list[str]:
    """The parameters of these cases worth naming, in order: one that a workload keeps out of
    case keys at its default (dask's `chunks`, `Param.in_key_at_default`) goes without saying,
    like the default cache mode, while every case leaves it there. The case key itself says
    which parameters it names, so no workload needs importing to know."""
    names = dict.fromkeys(name for case in cases for name in case.params)
    return [name for name in names if any(name in _keyed_params(case) for case in cases)]


def _keyed_params(case: CaseResult) -> set[str]:
    """The parameter names in a case's key (`benchmark/n=64,transfers=False/float64/...`)."""
    parts = case.key.split("/")
    listed = parts[1] if len(parts) > 1 else ""
    return {item.split("=", 1)[0] for item in listed.split(",") if "=" in item}


def _dtype_text(case: CaseResult) -> str:
    """The dtype, and the math mode when it is not the default one: `float32+tf32`."""
    return case.dtype + ("" if case.math == DEFAULT_MATH else f"+{case.math}")


def _coordinate(case: CaseResult, name: str) -> str:
    if name == "dtype":
        return _dtype_text(case)
    if name == "threads":
        return str(case.threads)
    if name == "cache":
        return case.cache
    return _value_text(case.params.get(name))


def _grid(
    result: Result,
    benchmark: str,
    cases: list[CaseResult],
    gains: dict[str, float],
    shaky: set[str],
    latency: bool,
) -> Grid:
    """One benchmark's grid, a section per parameter point; with `latency`, a column of
    single-call latencies (GPU cases) beside the pipelined medians."""
    varying, constants = _coordinates(cases)
    roofline = any("roofline_frac" in case.metrics for case in cases)
    grid = Grid(
        title=f"{benchmark} ({cases[0].workload}, baseline "
        f"{result.suite.baselines.get(benchmark, '')})",
        constants=constants,
        columns=[
            *[(name, "right" if name == "threads" else "left") for name in varying],
            ("implementation", "left"),
            ("median", "right"),
            *([("latency", "right")] if latency else []),
            ("95% CI", "right"),
            ("speedup", "right"),
            ("GFLOP/s", "right"),
            ("GB/s", "right"),
            *([("roof", "right")] if roofline else []),
            ("peak mem", "right"),
            ("error", "right"),
            ("status", "left"),
        ],
    )
    previous = None
    for case in cases:
        point = [_coordinate(case, name) for name in varying if name != "threads"]
        if point != previous:
            grid.sections.append([])
        previous = point
        timing = case.timing
        gain = gains.get(case.key)
        grid.keys.append(case.key)
        grid.sections[-1].append(
            [
                *[_coordinate(case, name) for name in varying],
                case.implementation,
                format_seconds(timing.median if timing else None),
                *([format_seconds(case.metrics.get("latency"))] if latency else []),
                _ci_text(case),
                "-" if gain is None else f"{gain:.3g}x" + ("?" if case.key in shaky else ""),
                format_number(case.metrics.get("gflops")),
                format_number(case.metrics.get("gbps")),
                *([_roof_text(case)] if roofline else []),
                format_bytes(case.metrics.get("peak_bytes")),
                format_number(case.metrics.get("error_rel"), 2),
                " ".join([case.status, *(FLAG_LABELS[flag] for flag in case.flags)]),
            ]
        )
    return grid


def result_grids(result: Result) -> Iterator[Grid]:
    """Every benchmark's grid, in full, with latencies where the run has any (the HTML
    report's tables)."""
    gains, shaky = speedups(result), unsteady(result)
    latency = any("latency" in case.metrics for case in result.cases)
    for benchmark, cases in itertools.groupby(result.cases, key=lambda case: case.benchmark):
        yield _grid(result, benchmark, list(cases), gains, shaky, latency)


def results_tables(
    result: Result, full: bool = False, latency: bool = False
) -> Iterator[RenderableType]:
    """One table per benchmark under its title, its constants on a line of their own (a
    table's own title would wrap at the table's width); a benchmark of more than
    SUMMARY_ABOVE cases is summarised unless `full`; `latency` as in `_grid`."""
    gains, shaky = speedups(result), unsteady(result)
    for benchmark, group in itertools.groupby(result.cases, key=lambda case: case.benchmark):
        cases = list(group)
        if len(cases) > SUMMARY_ABOVE and not full:
            yield summary_table(benchmark, cases, result.suite.baselines.get(benchmark, ""))
            continue
        grid = _grid(result, benchmark, cases, gains, shaky, latency)
        roofline = any(heading == "roof" for heading, _ in grid.columns)
        table = Table(
            show_edge=False, caption=CACHE_NOTE if roofline else None, caption_justify="left"
        )
        for column, justify in grid.columns:
            table.add_column(column, justify="right" if justify == "right" else "left")
        for index, section in enumerate(grid.sections):
            if index:
                table.add_section()
            for *cells, status in section:
                table.add_row(*(escape(cell) for cell in cells), _status_text(status))
        heading = Text(grid.title, style="bold")
        constants = [Text(grid.constants, style="dim")] if grid.constants else []
        yield Group(heading, *constants, table)


SUMMARY_ABOVE = 60
"""More cases than this in one benchmark is a sweep no one reads row by row."""


def summary_table(benchmark: str, cases: list[CaseResult], baseline: str) -> Table:
    """A large benchmark in a few rows: per implementation (and dtype, threads and whatever
    else is not swept), how many points were measured, the fitted scaling exponent of each
    swept parameter, and the fastest and slowest points."""
    parameters = swept(cases)
    table = Table(
        title=f"{benchmark} [dim]({cases[0].workload}, baseline {baseline}): {len(cases)} cases "
        "summarised; --full-table shows each[/]",
        title_justify="left",
        show_edge=False,
    )
    columns = ("implementation", "dtype", "thr", "fixed", "ok", "scaling", "fastest", "slowest")
    for column in columns:
        table.add_column(column, justify="right" if column in ("thr", "ok") else "left")
    lines: dict[tuple[Any, ...], list[CaseResult]] = {}
    named = [name for name in _named_params(cases) if name not in parameters]
    for case in cases:
        fixed = tuple((name, case.params.get(name)) for name in named)
        lines.setdefault((case.implementation, case.dtype, case.threads, fixed), []).append(case)
    for (implementation, dtype, threads, fixed), line in lines.items():
        timed = [case for case in line if case.status == "ok" and case.timing]
        exponents = fitted_exponents(timed, parameters) or {}
        ordered = sorted(timed, key=_median)
        table.add_row(
            implementation,
            dtype,
            str(threads),
            _params_text(dict(fixed)),
            f"{len(timed)}/{len(line)}",
            " ".join(f"~{name}^{power:.2f}" for name, power in exponents.items()) or "-",
            _point_text(ordered[0] if ordered else None, parameters),
            _point_text(ordered[-1] if ordered else None, parameters),
        )
    return table


def _median(case: CaseResult) -> float:
    """The median of a case `summary_table` kept as timed."""
    assert case.timing is not None, f"{case.key} has no timing"
    return case.timing.median


def _point_text(case: CaseResult | None, parameters: list[str]) -> str:
    if case is None or case.timing is None:
        return "-"
    where = _params_text({name: case.params[name] for name in parameters}) or "-"
    return f"{where}: {format_seconds(case.timing.median)}"


def render_result(
    result: Result, console: Console, full: bool = False, latency: bool = False
) -> None:
    environment = result.environment
    console.print(
        f"[bold]{result.suite.name}[/] on {environment.cpu or '?'} "
        f"({environment.cores_usable or '?'} cores, "
        f"machine {environment.machine_id})"
        f" — run {result.run.id}, started {result.run.started}"
        + (" [bold yellow](interrupted)[/]" if result.run.interrupted else "")
    )
    for table in results_tables(result, full, latency):
        console.print()
        console.print(table)
    flagged = [case for case in result.cases if case.flags]
    if flagged:
        console.print(
            f"\n[yellow]{len(flagged)} case(s) flagged[/]: noisy = 95% CI wider than "
            f"±{NOISY_REL_CI:.0%};\nbusy = contended, other processes took the cores it "
            "needed; a speedup built on either ends in `?`.\nMeasure them again on a quiet "
            "machine before quoting them.",
            highlight=False,
        )
    notes: dict[tuple[str, str], list[str]] = {}
    for case in result.cases:
        if case.reason:
            notes.setdefault((case.status, case.reason), []).append(case.key)
    if notes:
        console.print()
        for (status, reason), keys in notes.items():
            style = STATUS_STYLE[status]
            where = escape(keys[0]) if len(keys) == 1 else f"{len(keys)} cases"
            console.print(f"[{style}]{status}[/] {where}: {escape(reason)}")
    if result.claims:
        console.print()
        console.print(claims_table(result.claims))
    counts = {
        status: sum(case.status == status for case in result.cases)
        for status in ("ok", "wrong", "error", "skipped")
    }
    counts |= {
        f"claims {status}": sum(claim.status == status for claim in result.claims)
        for status in CLAIM_STYLE
    }
    console.print(
        "\n" + ", ".join(f"{count} {status}" for status, count in counts.items() if count)
    )


def claim_value_text(claim: ClaimResult) -> str:
    """The measured value, with the CI of a speedup: `2.41 [2.30, 2.52]`, plain text."""
    if claim.value is None:
        return "-"
    text = format_number(claim.value)
    if claim.ci is not None:
        text += f" [{format_number(claim.ci[0])}, {format_number(claim.ci[1])}]"
    if claim.at:
        text += f"\nat {claim.at}"
    return text


def claims_table(claims: Sequence[ClaimResult]) -> Table:
    table = Table(title="Claims", title_justify="left")
    for column in ("claim", "statement", "measured", "bound", "status"):
        table.add_column(column, overflow="fold")
    for claim in claims:
        status = f"[{CLAIM_STYLE[claim.status]}]{claim.status}[/]"
        if claim.reason:
            status += f"\n[dim]{escape(claim.reason)}[/]"
        table.add_row(
            escape(claim.id),
            escape(claim.text),
            escape(claim_value_text(claim)),
            claim.bound,
            status,
        )
    return table


