"""Rendering an A/B run: compare's table, Markdown and JSON (present/comparison.py), plus the
pairing's own figures: the looks and their level, the rounds each case took, and how far each
side drifted from its first round to its last (which the pairing cancels)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from rich.console import Console

from labench.judge.compare import Comparison
from labench.judge.paired import Pairing
from labench.present.comparison import render_json, render_markdown, render_table


def _drift(factor: float | None) -> str:
    return "-" if factor is None else f"x{factor:.3f}"


def pairing_lines(pairing: Pairing) -> list[str]:
    """The pairing's figures, one sentence each."""
    looks = pairing.schedule.looks
    counts = Counter(pairing.rounds.values())
    taken = ", ".join(
        f"{rounds} rounds: {count} case(s)" for rounds, count in sorted(counts.items())
    )
    return [
        f"paired rounds, each case once per side per round in a fresh process, order "
        f"alternating; looks at {', '.join(map(str, looks))} rounds, each at p < "
        f"{pairing.level:.2g} (alpha {pairing.alpha:g} split over {len(looks)} looks: at most "
        f"{pairing.alpha:g} per case over all looks); {taken}",
        f"drift from the first round to the last (median over cases, cancelled by the "
        f"pairing): base {_drift(pairing.base_drift)}, new {_drift(pairing.new_drift)}",
    ]


def pairing_document(pairing: Pairing) -> dict[str, Any]:
    return {
        "looks": list(pairing.schedule.looks),
        "alpha": pairing.alpha,
        "level_per_look": pairing.level,
        "rounds": pairing.rounds,
        "drift": {"base": pairing.base_drift, "new": pairing.new_drift},
    }


def render_ab(
    comparison: Comparison, pairing: Pairing, ending: str, console: Console, output_format: str
) -> None:
    """Like compare's `render`, with the pairing's figures and the gate's last word (`ending`,
    present/comparison.gate_verdict): under the table, at the end of the Markdown, and as the
    JSON document's `pairing` and `gate`."""
    if output_format == "markdown":
        lines = "".join(f"{line}\n" for line in pairing_lines(pairing))
        print(render_markdown(comparison) + "\n" + lines + f"\n**{ending}**\n", end="")
    elif output_format == "json":
        document = json.loads(render_json(comparison))
        document["pairing"] = pairing_document(pairing)
        document["gate"] = ending
        print(json.dumps(document, indent=1))
    else:
        render_table(comparison, console)
        for line in pairing_lines(pairing):
            console.print(line, highlight=False, soft_wrap=True)
        console.print(ending, highlight=False, soft_wrap=True)
