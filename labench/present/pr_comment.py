"""A gate's comparison as a compact pull request comment (also the GitHub step summary): the
gate's verdict line first, then what needs a look (regressions, undecided cases), then
improvements, the benchmarks the suite does not gate with their reasons, and the unchanged
cases folded away. Tables and lines are those of `comparison.render_markdown`, cut by verdict.
"""

from __future__ import annotations

from collections import Counter

from labench.judge.compare import Comparison, Verdict
from labench.present.comparison import (
    comparison_rows,
    comparison_summary,
    excluded_lines,
    gate_verdict,
    markdown_environment,
    markdown_table,
)

SECTIONS = ("Regressions", "Undecided", "Improvements", "Not gated")
"""The sections shown open, in order, each only when it has cases; the rest is folded."""


def pr_comment(comparison: Comparison, decide: str) -> str:
    """The comment's Markdown; `decide` is the command that would decide undecided cases
    (`gate_verdict`)."""
    sections = _sections(comparison)
    undecided = [verdict.key for verdict in comparison.undecided()]
    headline, _, rest = gate_verdict(comparison, undecided, decide).partition(": ")
    lines = [f"**labench {headline}**: {rest}", "", *markdown_environment(comparison)]
    rows = comparison_rows(comparison)
    for title in SECTIONS:
        chosen = [row for row in rows if sections.get(row[0]) == title]
        if not chosen:
            continue
        lines += [f"#### {title} ({len(chosen)})", ""]
        if title == "Not gated":
            lines += [*excluded_lines(comparison), ""]
        lines += [*markdown_table(comparison, chosen), ""]
    rest_rows = [row for row in rows if row[0] not in sections]
    if rest_rows:
        lines += [
            "<details>",
            f"<summary>{_folded(comparison, [row[0] for row in rest_rows])}</summary>",
            "",
            *markdown_table(comparison, rest_rows),
            "",
            "</details>",
            "",
        ]
    lines.append(comparison_summary(comparison))
    return "\n".join(lines) + "\n"


def _sections(comparison: Comparison) -> dict[str, str]:
    """Each key that needs a section, by the first that claims it: a case regressed against
    one run and improved against another is a regression."""
    chosen: dict[str, str] = {}
    groups: tuple[tuple[str, list[Verdict]], ...] = (
        ("Regressions", comparison.regressions()),
        ("Undecided", comparison.undecided()),
        ("Improvements", _improvements(comparison)),
        ("Not gated", comparison.excluded()),
    )
    for title, verdicts in groups:
        for verdict in verdicts:
            chosen.setdefault(verdict.key, title)
    return chosen


def _improvements(comparison: Comparison) -> list[Verdict]:
    return [v for run in comparison.verdicts for v in run if v.verdict in ("faster", "fixed")]


def _folded(comparison: Comparison, keys: list[str]) -> str:
    """The folded block's title: how many cases, and of what verdicts when not all `same`."""
    wanted = set(keys)
    counts = Counter(v.verdict for run in comparison.verdicts for v in run if v.key in wanted)
    if set(counts) == {"same"}:
        return f"{len(keys)} unchanged"
    listed = ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
    return f"{len(keys)} other cases ({listed})"
