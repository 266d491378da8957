"""How numbers read in every table: seconds, plain figures and bytes, in one style; and the one
table style the terminal uses for results and comparisons."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def format_bytes(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.0f} B"


def format_relative(fraction: float | None) -> str:
    """A relative half-width: `±86%` from 10% up (a tenth of a percent would be noise on
    noise), `±4.2%` below."""
    if fraction is None:
        return "-"
    return f"±{fraction:.0%}" if fraction >= 0.1 else f"±{fraction:.1%}"


def compact_table(**options: Any) -> Table:
    """The terminal's table: a rule under the headings, two spaces between columns, no
    vertical lines and no margin, so a dozen columns fit 100 columns of terminal. Sections are
    set apart by a blank line."""
    return Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        padding=(0, 1),
        **options,
    )


def kept_whole(heading: str, cells: list[str]) -> dict[str, Any]:
    """Column options for text that must never be cut (an implementation, a case key): as wide
    as its longest cell, folded onto a second line, never cut short, where even the other
    columns' wrapping leaves too little room."""
    return {"width": max(cell_len(text) for text in [heading, *cells]), "overflow": "fold"}


def dim_lines(notes: list[str]) -> list[Text]:
    """Notes under a table, dimmed."""
    return [Text(note, style="dim") for note in notes]
