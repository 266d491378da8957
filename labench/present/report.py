"""Rendering results for people: rich tables, a progress bar, environment summaries.

Reads results only; never runs a kernel. Speedups are computed here from the stored medians,
inside each group (cases differing only by implementation), against the suite's baseline.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from labench.core.stats import NOISY_REL_CI
from labench.judge.scaling import fitted_exponents, swept
from labench.judge.speedups import speedups, unsteady
from labench.present import gpu_state
from labench.present.claims import CLAIM_STYLE, claims_table
from labench.present.fitted import FittedTable, trimmed
from labench.present.format import (
    compact_table,
    dim_lines,
    format_seconds,
    kept_whole,
)
from labench.present.grid import (
    CACHE_MARK,
    CACHE_NOTE,
    CLOCK_MARK,
    CLOCK_NOTE,
    COLD_NOTE,
    ERROR_NOTE,
    STATUS_STYLE,
    Grid,
    grid_title,
    make_grid,
    named_params,
    params_text,
)
from labench.results.model import CaseResult, Result


def results_tables(
    result: Result, full: bool = False, latency: bool = False
) -> Iterator[RenderableType]:
    """One table per benchmark under its title, its constants on a line of their own (a
    table's own title would wrap at the table's width) and its notes below; a benchmark of
    more than SUMMARY_ABOVE cases is summarised unless `full`; `latency` as in `make_grid`.

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
            yield Group(Text(grid_title(result, benchmark, cases), style="bold"), *dim_lines(notes))
            continue
        grid, said = trimmed(make_grid(result, benchmark, shown, gains, shaky, latency), full)
        notes = said + notes + _mark_notes(grid, shown)
        if not explained and any(heading == "error" for heading, _ in grid.columns):
            notes.append(ERROR_NOTE)
            explained = True
        constants = [Text(grid.constants, style="dim")] if grid.constants else []
        yield Group(Text(grid.title, style="bold"), *constants, FittedTable(grid, notes, full))


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


def _mark_notes(grid: Grid, cases: list[CaseResult]) -> list[str]:
    """What the roof column's marks mean, where a row carries one; what `cold` means, where a
    cold case is in the table."""
    cells = [cell for section in grid.sections for row in section for cell in row]
    cached = any(CACHE_MARK in cell for cell in cells)
    clocked = any(CLOCK_MARK in cell for cell in cells)
    cold = any(case.cache == "cold" for case in cases)
    return [CACHE_NOTE] * cached + [CLOCK_NOTE] * clocked + [COLD_NOTE] * cold


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
    named = [name for name in named_params(cases) if name not in parameters]
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
            params_text(dict(fixed)),
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
    where = params_text({name: case.params[name] for name in parameters}) or "-"
    return f"{where}: {format_seconds(case.timing.median)}"


def render_result(
    result: Result, console: Console, full: bool = False, latency: bool = False
) -> None:
    environment = result.environment
    console.print(
        f"[bold]{result.suite.name}[/] on {environment.cpu or '?'} "
        f"({environment.cores_usable or '?'} cores, machine {environment.machine_id})\n"
        + (f"{escape(device)}\n" if (device := gpu_state.device_line(result)) else "")
        + f"[dim]run {result.run.id}, started {result.run.started}[/]"
        + (" [bold yellow](interrupted)[/]" if result.run.interrupted else "")
    )
    for table in results_tables(result, full, latency):
        console.print()
        console.print(table)
    if gpu_state.gpu_cases(result):
        console.print()
        console.print(gpu_state_table(result))
    flagged = [case for case in result.cases if case.flags]
    throttled = any("throttled" in case.flags for case in flagged)
    if flagged:
        console.print(
            f"\n[yellow]{len(flagged)} case(s) flagged[/]: noisy = 95% CI wider than "
            f"±{NOISY_REL_CI:.0%};\nbusy = contended, other processes took the cores it "
            "needed;"
            + (
                "\nthrottled = the GPU's clock fell below its threshold or another process "
                "used the device;\na speedup built on any of them ends in `?`."
                if throttled
                else " a speedup built on either ends in `?`."
            )
            + "\nMeasure them again on a quiet machine before quoting them.",
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


def gpu_state_table(result: Result) -> Group:
    """The GPU cases' device state while sampled, a row each, with its notes below; only the
    notes when no state could be read."""
    notes = dim_lines(gpu_state.notes(result))
    rows = gpu_state.state_rows(result)
    if not rows:
        return Group(*notes)
    table = compact_table(title="GPU state while sampled", title_justify="left")
    first, *others = gpu_state.HEADERS
    table.add_column(first, **kept_whole(first, [row[0] for row in rows]))
    for heading in others:
        table.add_column(heading, overflow="fold")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return Group(table, *notes)
