"""Rendering results for people: rich tables, a progress bar, environment summaries.

Reads results only; never runs a kernel. Speedups are computed here from the stored medians,
inside each group (cases differing only by implementation), against the suite's baseline.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from labench.core.dtypes import DEFAULT_MATH
from labench.core.stats import NOISY_REL_CI
from labench.judge.scaling import fitted_exponents, swept
from labench.judge.speedups import speedups, unsteady
from labench.present.format import (
    compact_table,
    format_bytes,
    format_number,
    format_relative,
    format_seconds,
    kept_whole,
)
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
    return format_relative(case.timing.rel_ci if case.timing else None)


def _percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction:.0%}"


CACHE_MARK = "ᶜ"
CACHE_NOTE = (
    f"{CACHE_MARK} working set fits in the last-level cache (cache_resident): "
    "it may beat the memory roof"
)
COLD_NOTE = "cold: the cache is evicted before every call"
ERROR_NOTE = (
    "error: relative error against the float64 reference (0 = exact); status ok = within tolerance"
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


def _title(result: Result, benchmark: str, cases: list[CaseResult]) -> str:
    baseline = result.suite.baselines.get(benchmark, "")
    return f"{benchmark} ({cases[0].workload}, baseline {baseline})"


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
        title=_title(result, benchmark, cases),
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
    table's own title would wrap at the table's width) and its notes below; a benchmark of
    more than SUMMARY_ABOVE cases is summarised unless `full`; `latency` as in `_grid`.

    Unless `full`, the cases of a backend that cannot run here are one note under the table,
    not rows of `skipped`; columns empty throughout, and the speedup of a lone implementation,
    are left out; a status every row shares is said once; and a table wider than the console
    leaves out its least needed columns (see `FittedTable`). The error column is explained
    under the first table that shows it."""
    gains, shaky = speedups(result), unsteady(result)
    explained = False
    for benchmark, group in itertools.groupby(result.cases, key=lambda case: case.benchmark):
        cases = list(group)
        if len(cases) > SUMMARY_ABOVE and not full:
            yield summary_table(benchmark, cases, result.suite.baselines.get(benchmark, ""))
            continue
        shown = cases if full else [case for case in cases if _unavailable(case) is None]
        notes = [] if full else _not_run_notes(cases)
        if not shown:
            yield Group(Text(_title(result, benchmark, cases), style="bold"), *_lines(notes))
            continue
        grid, said = _trimmed(_grid(result, benchmark, shown, gains, shaky, latency), full)
        notes = said + notes + _cache_notes(grid, shown)
        if not explained and any(heading == "error" for heading, _ in grid.columns):
            notes.append(ERROR_NOTE)
            explained = True
        constants = [Text(grid.constants, style="dim")] if grid.constants else []
        yield Group(Text(grid.title, style="bold"), *constants, FittedTable(grid, notes, full))


def _lines(notes: list[str]) -> list[Text]:
    return [Text(note, style="dim") for note in notes]


def _unavailable(case: CaseResult) -> str | None:
    """Why the case's backend cannot run on this machine, for a case skipped for that alone
    (CuPy not installed, say); None for any other case, a case too large for memory included."""
    prefix = f"backend {case.backend} unavailable: "
    if case.status != "skipped" or not (case.reason or "").startswith(prefix):
        return None
    return (case.reason or "")[len(prefix) :]


def _not_run_notes(cases: list[CaseResult]) -> list[str]:
    """One line per backend that cannot run here: `cupy: not run, CuPy is not installed`,
    naming its implementations where they are not simply the backend's name."""
    missing: dict[tuple[str, str], list[str]] = {}
    for case in cases:
        reason = _unavailable(case)
        if reason is not None:
            names = missing.setdefault((case.backend, reason), [])
            names += [] if case.implementation in names else [case.implementation]
    return [
        (backend if names == [backend] else f"{backend} ({', '.join(names)})")
        + f": not run, {_without_hint(reason)}"
        for (backend, reason), names in missing.items()
    ]


def _without_hint(reason: str) -> str:
    """A reason less its closing parenthesis (`(pip install 'labench[gpu]')`): the run's last
    lines give each reason whole, once."""
    return re.sub(r"\s*\([^()]*\)$", "", reason) or reason


OPTIONAL = ("latency", "95% CI", "speedup", "GFLOP/s", "GB/s", "roof", "peak mem", "error")
"""Columns a table leaves out where every row reads `-` (no GFLOP/s for a gradient)."""


def _trimmed(grid: Grid, full: bool) -> tuple[Grid, list[str]]:
    """The grid less its columns empty throughout and the speedup of a lone implementation,
    and unless `full`, less a status column that reads the same on every row (said once, in
    the line returned, instead)."""
    rows = [row for section in grid.sections for row in section]
    headings = [heading for heading, _ in grid.columns]
    values = {heading: {row[index] for row in rows} for index, heading in enumerate(headings)}
    dropped = {heading for heading in OPTIONAL if values.get(heading) == {"-"}}
    if len(values["implementation"]) == 1:
        dropped.add("speedup")
    said = []
    if not full and len(rows) > 1 and len(values["status"]) == 1:
        dropped.add("status")
        status, *flags = values["status"].pop().split()
        said.append(
            f"every case here is {status}" + (f", flagged {' and '.join(flags)}" if flags else "")
        )
    return _without(grid, dropped), said


def _without(grid: Grid, headings: Collection[str]) -> Grid:
    kept = [index for index, (heading, _) in enumerate(grid.columns) if heading not in headings]
    return Grid(
        grid.title,
        grid.constants,
        [grid.columns[index] for index in kept],
        [[[row[index] for index in kept] for row in section] for section in grid.sections],
        list(grid.keys),
    )


def _cache_notes(grid: Grid, cases: list[CaseResult]) -> list[str]:
    """What the roof column's mark means, where a row carries it; what `cold` means, where a
    cold case is in the table."""
    rows = [row for section in grid.sections for row in section]
    marked = any(cell.endswith(CACHE_MARK) for row in rows for cell in row)
    cold = any(case.cache == "cold" for case in cases)
    return [CACHE_NOTE] * marked + [COLD_NOTE] * cold


HIDE_FIRST = ("peak mem", "GB/s", "GFLOP/s", "roof", "latency")
"""Columns a table too wide for the console leaves out, first to last, saying so under it. The
case's coordinates, implementation, median, CI, speedup, error and status always stay."""


@dataclass
class FittedTable:
    """A grid as a terminal table, fitted at render time to the console's width: where it is
    wider, the HIDE_FIRST columns go one by one until it fits, named under the table (`full`
    keeps them all). No cell is ever cut short: folded, at worst, onto a second line, and the
    implementation column keeps the width of its longest name."""

    grid: Grid
    notes: list[str]
    full: bool = False

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        hidden: list[str] = []
        table = self.table(hidden)
        headings = [heading for heading, _ in self.grid.columns]
        for heading in () if self.full else HIDE_FIRST:
            if Measurement.get(console, options.update_width(10**4), table).maximum <= (
                options.max_width
            ):
                break
            if heading in headings:
                hidden.append(heading)
                table = self.table(hidden)
        yield table
        notes = [*self.notes]
        if hidden:
            notes.append(
                f"left out to fit {options.max_width} columns: {', '.join(hidden)} "
                f"(a wider COLUMNS or --full-table shows {'it' if len(hidden) == 1 else 'them'})"
            )
        yield from _lines(notes)

    def table(self, hidden: list[str]) -> Table:
        shown = [i for i, (heading, _) in enumerate(self.grid.columns) if heading not in hidden]
        rows = [row for section in self.grid.sections for row in section]
        table = compact_table()
        for index in shown:
            heading, justify = self.grid.columns[index]
            whole = kept_whole(heading, [row[index] for row in rows])
            table.add_column(
                heading,
                justify="right" if justify == "right" else "left",
                **(whole if heading == "implementation" else {"overflow": "fold"}),
            )
        for number, section in enumerate(self.grid.sections):
            if number:
                table.add_section()
            for row in section:
                table.add_row(*(_cell(self.grid.columns[i][0], row[i]) for i in shown))
        return table


def _cell(heading: str, text: str) -> str:
    return _status_text(text) if heading == "status" else escape(text)


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
        f"({environment.cores_usable or '?'} cores, machine {environment.machine_id})\n"
        f"[dim]run {result.run.id}, started {result.run.started}[/]"
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
