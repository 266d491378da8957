"""A result grid rendered to fit the console: optional columns left out, in a set order, until it
fits, and said so under the table; `--full-table` keeps them all."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from labench.present.format import compact_table, dim_lines, kept_whole
from labench.present.grid import Grid, status_text

OPTIONAL = ("latency", "95% CI", "speedup", "GFLOP/s", "GB/s", "roof", "peak mem", "error")
"""Columns a table leaves out where every row reads `-` (no GFLOP/s for a gradient)."""


def trimmed(grid: Grid, full: bool) -> tuple[Grid, list[str]]:
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
        yield from dim_lines(notes)

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
    return status_text(text) if heading == "status" else escape(text)
