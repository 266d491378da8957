"""The claims of a run as a table: what each states, the value measured, and whether it held."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table

from labench.present.format import format_number
from labench.results.model import ClaimResult

CLAIM_STYLE = {"held": "green", "failed": "bold red", "unmeasured": "yellow"}


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
