"""Rendering a comparison: a rich table for the terminal, Markdown for a pull request or
$GITHUB_STEP_SUMMARY, JSON for tools. Reads the comparison only."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from labench.judge.compare import (
    Comparison,
    Verdict,
    device_difference,
    environment_differences,
)
from labench.judge.drift import run_drift
from labench.judge.gates import benchmark_of
from labench.present.format import compact_table, format_seconds, kept_whole

STYLE = {
    "slower": "bold red",
    "broken": "bold red",
    "faster": "green",
    "fixed": "green",
    "same": "dim",
    "unsure": "yellow",
    "not comparable": "yellow",
    "excluded": "dim",
}


def ratio_interval(verdict: Verdict) -> str:
    """The ratio NEW/BASE with its 95% interval where there is one: `1.250 [1.180, 1.310]`."""
    if verdict.ratio is None:
        return "-"
    text = f"{verdict.ratio:.3f}"
    if verdict.ci95 is not None:
        text += f" [{verdict.ci95[0]:.3f}, {verdict.ci95[1]:.3f}]"
    return text


def p_text(verdict: Verdict) -> str:
    """The test's p-value, but none for a case measured in one process per run: its samples,
    however many, share one draw of the placement lottery, and a tiny p beside `unsure` would
    read as a contradiction (the JSON output keeps it)."""
    if verdict.p_value is None or verdict.basis == "one process":
        return "-"
    return f"{verdict.p_value:.2g}"


def comparison_rows(comparison: Comparison) -> list[list[str]]:
    """Two runs: one row per case with every statistic. More: one ratio column per run."""
    if len(comparison.verdicts) == 1:
        return [
            [
                v.key,
                format_seconds(v.base.median),
                format_seconds(v.new.median),
                ratio_interval(v),
                p_text(v),
                v.basis,
                v.verdict,
            ]
            for v in comparison.verdicts[0]
            if v.verdict != "skipped"  # counted in the summary line, not a row each
        ]
    by_key: dict[str, dict[int, Verdict]] = {}
    for column, verdicts in enumerate(comparison.verdicts):
        for verdict in verdicts:
            if verdict.verdict != "skipped":
                by_key.setdefault(verdict.key, {})[column] = verdict
    rows = []
    for key, columns in by_key.items():
        first = next(iter(columns.values()))
        cells = [key, format_seconds(first.base.median)]
        for column in range(len(comparison.verdicts)):
            found = columns.get(column)
            cells.append(
                "-"
                if found is None
                else f"{ratio_interval(found) if found.ratio else '-'} {found.verdict}"
            )
        rows.append(cells)
    return rows


def comparison_headers(comparison: Comparison) -> list[str]:
    if len(comparison.verdicts) == 1:
        return [
            "case",
            comparison.base.label,
            comparison.others[0].label,
            "ratio [95% CI]",
            "p",
            "based on",
            "verdict",
        ]
    return [
        "case",
        f"{comparison.base.label} (median)",
        *[f"{run.label} / {comparison.base.label}" for run in comparison.others],
    ]


UNSURE_NOTES = (
    (
        "looks_slower",
        "{count} case(s) look slower, but each side was measured in one process, and a median "
        "moves by tens of percent between processes (memory placement), so these files cannot "
        "tell a regression from noise. To decide: `labench run SUITE --baseline BASE.json` "
        "re-measures suspects in fresh processes, or compare runs made with `--processes 3` or "
        "more.",
    ),
    (
        "inconclusive",
        "{count} case(s) moved beyond the threshold across processes, but not significantly: "
        "their process medians spread too widely to tell the move from the lottery of where "
        "memory lands. More processes can tell (`--processes` for both runs, a gated run "
        "with more `--confirm-processes`, or `ab` with more `--max-rounds`).",
    ),
    (
        "unsteady",
        "{count} case(s) moved, but were measured noisily, while other processes took their "
        "cores, or while the GPU's clock was held down or shared (flagged `noisy`, `contended` "
        "or `throttled` in the result files), so the move may be the neighbour's or the "
        "clock's, not the code's: measure again on a quiet machine.",
    ),
    (
        "known_state",
        "{count} case(s) are slower than their level in the machine's history, but as slow as "
        "earlier runs of theirs after which they came back to that level: the machine has "
        "states that slow these cases, and a regression and such a state look alike. Re-measure "
        "when the machine is back in its usual state.",
    ),
)
"""Why `unsure` cases are unsure, and what to do: one line per reason that applies."""


def drift_lines(comparison: Comparison) -> list[str]:
    """Per compared run, its run-wide factor against the base, and where that factor is
    significant, which moves beyond the threshold it would bring back within it."""
    lines = []
    for run, verdicts in zip(comparison.others, comparison.verdicts, strict=True):
        drift = run_drift(verdicts)
        if drift is None:
            continue
        line = drift.describe(comparison.base.label, run.label)
        moved = [v for v in verdicts if v.verdict in ("slower", "unsure") and v.moved_slower]
        explained = [v.key for v in moved if drift.explains(v, comparison.threshold_of(v))]
        if explained:
            line += (
                f"; it would explain {len(explained)} of the {len(moved)} slow moves beyond "
                f"{threshold_text(comparison)}: " + ", ".join(explained)
            )
        lines.append(line)
    return lines


def percent(fraction: float) -> str:
    """0.15 -> '15%', 0.125 -> '12.5%': a threshold as its user wrote it."""
    return f"{fraction * 100:.4g}%"


def threshold_text(comparison: Comparison) -> str:
    """The threshold the cases were judged with: the comparison's, and the benchmarks' own
    where their suite set one (`10% (matvec: 15%)`)."""
    own = {
        benchmark_of(v.key): v.gate.threshold
        for run in comparison.verdicts
        for v in run
        if v.gate is not None and v.gate.own
    }
    text = f"{comparison.threshold:.0%}"
    if own:
        text += " (" + ", ".join(f"{name}: {percent(own[name])}" for name in sorted(own)) + ")"
    return text


def excluded_lines(comparison: Comparison) -> list[str]:
    """One line per benchmark whose suite excludes it from gating: its cases compared here,
    and the suite's reason, so a reader sees what the gate did not look at, and why."""
    reasons: dict[str, tuple[str, int]] = {}
    for verdict in comparison.excluded():
        assert verdict.gate is not None and verdict.gate.excluded is not None
        name = benchmark_of(verdict.key)
        count = reasons.get(name, (verdict.gate.excluded, 0))[1]
        reasons[name] = (verdict.gate.excluded, count + 1)
    return [
        f"not gated: {name} ({count} case{'s' * (count != 1)}): {reason}"
        for name, (reason, count) in reasons.items()
    ]


def comparison_summary(comparison: Comparison) -> str:
    counts: dict[str, int] = {}
    for verdicts in comparison.verdicts:
        for verdict in verdicts:
            counts[verdict.verdict] = counts.get(verdict.verdict, 0) + 1
    text = "".join(line + "\n" for line in drift_lines(comparison))
    text += ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
    text += (
        f" (slower/faster: ratio beyond {threshold_text(comparison)} and p < "
        f"{comparison.alpha:g} across processes)"
    )
    for attribute, note in UNSURE_NOTES:
        count = sum(getattr(verdict, attribute) for verdict in comparison.unsure())
        if count:
            text += "\n" + note.format(count=count)
    devices = device_difference([comparison.base, *comparison.others])
    if devices:
        text += "\nwarning: " + devices
    return text


def render_table(comparison: Comparison, console: Console) -> None:
    runs = [comparison.base, *comparison.others]
    differences = environment_differences(runs)
    if differences:
        environment = Table(title="environment differences", title_justify="left", show_edge=False)
        environment.add_column("")
        for run in runs:
            environment.add_column(run.label)
        for name, values in differences:
            environment.add_row(name, *values)
        console.print(environment)
        console.print()
    tables, said = comparison_tables(comparison)
    for index, table in enumerate(tables):
        if index:
            console.print()
        console.print(table)
    console.print()
    for line in said:
        console.print(line, style="dim", highlight=False)
    for line in excluded_lines(comparison):
        console.print(line, highlight=False)
    for label, keys in comparison.only_in.items():
        if keys:
            console.print(f"only in {label}: {', '.join(keys)}", highlight=False)
    console.print(comparison_summary(comparison), highlight=False)


@dataclass(frozen=True)
class KeyParts:
    """A case key taken apart: `matmul/n=64,transfers=False/float64/t1/numba` is benchmark
    `matmul`, coordinates n=64, transfers=False, dtype=float64, threads=1 (and cache=warm), and
    implementation `numba`."""

    benchmark: str
    coordinates: dict[str, str]
    implementation: str


def split_key(key: str) -> KeyParts | None:
    """The parts of a labench case key (`benchmark/params/dtype[+math]/t<threads>[/cold]/impl`);
    None for a key of another shape (a pytest-benchmark name), which is shown whole."""
    parts = key.split("/")
    cold = len(parts) >= 6 and parts[-2] == "cold"
    head = parts[:-2] if cold else parts[:-1]
    if len(head) < 4 or not re.fullmatch(r"t\w+", head[-1]) or not parts[-1]:
        return None
    listed = "/".join(head[1:-2])
    pairs = [item.split("=", 1) for item in re.split(r",(?=[^,=]+=)", listed)] if listed else []
    if any(len(pair) != 2 for pair in pairs):
        return None
    coordinates = {name: "default" if value == "None" else value for name, value in pairs}
    coordinates |= {"dtype": head[-2], "threads": head[-1][1:], "cache": "cold" if cold else "warm"}
    return KeyParts(head[0], coordinates, parts[-1])


SAID_ONCE = ("based on",)


def _why(basis: str) -> list[str]:
    """What a basis said once means for the p column."""
    if basis != "one process":
        return []
    return ["p: none shown; samples within one process cannot test a move between processes"]


"""Columns that, reading the same on every row, are said once under the tables instead."""


def comparison_tables(comparison: Comparison) -> tuple[list[RenderableType], list[str]]:
    """The comparison as the terminal shows it: one table per benchmark under its name, the
    coordinates constant across its rows on a line above it (as `show` does), those that vary
    and the implementation in columns of their own, so no width cuts a case's name; and the
    lines saying once what a SAID_ONCE column would repeat on every row. Keys of another shape
    stay whole in a `case` column. Markdown and JSON keep the full keys."""
    headers, rows = comparison_headers(comparison), comparison_rows(comparison)
    said = []
    for heading in SAID_ONCE:
        index = headers.index(heading) if heading in headers else -1
        if index > 0 and len(rows) > 1 and len({row[index] for row in rows}) == 1:
            said.append(f"{heading}: {rows[0][index]} (every case)")
            said += _why(rows[0][index])
            headers = headers[:index] + headers[index + 1 :]
            rows = [row[:index] + row[index + 1 :] for row in rows]
    groups: dict[str | None, list[tuple[KeyParts | None, list[str]]]] = {}
    for row in rows:
        parts = split_key(row[0])
        groups.setdefault(parts.benchmark if parts else None, []).append((parts, row))
    verdicts = len(comparison.verdicts) == 1
    tables: list[RenderableType] = [
        _benchmark_table(name, members, headers, verdicts)
        if name
        else _keys_table(members, headers)
        for name, members in groups.items()
    ]
    return tables, said


def _styled(cell: str) -> str:
    style = next((STYLE[name] for name in STYLE if cell.endswith(name)), "")
    return f"[{style}]{escape(cell)}[/]" if style else escape(cell)


def _stat_cells(row: list[str], two_runs: bool) -> list[str]:
    """A row's statistics, less its key: the verdict (of each run, beyond two) in colour."""
    cells = [escape(cell) for cell in row[1:]]
    if two_runs:
        return [*cells[:-1], _styled(row[-1])]
    return [cells[0], *(_styled(cell) for cell in row[2:])]


def _add_stat_columns(table: Table, headers: list[str], two_runs: bool) -> None:
    """The statistics' columns: medians and p right-aligned; beyond two runs, the base's
    `(median)` under its label, so that column is no wider than its figures."""
    for index, heading in enumerate(headers[1:]):
        numeric = index < 2 if two_runs else index == 0  # the medians
        shown = heading if two_runs or index else heading.replace(" (median)", "\n(median)")
        right = numeric or heading == "p"
        table.add_column(shown, justify="right" if right else "left", overflow="fold")


def _keys_table(members: list[tuple[KeyParts | None, list[str]]], headers: list[str]) -> Table:
    table = compact_table()
    table.add_column(headers[0], **kept_whole(headers[0], [row[0] for _, row in members]))
    two_runs = headers[-1] == "verdict"
    _add_stat_columns(table, headers, two_runs)
    for _, row in members:
        table.add_row(escape(row[0]), *_stat_cells(row, two_runs))
    return table


def _benchmark_table(
    benchmark: str,
    members: list[tuple[KeyParts | None, list[str]]],
    headers: list[str],
    two_runs: bool,
) -> Group:
    """One benchmark's rows: a column per coordinate that varies, then the implementation,
    then the statistics; a blank line between parameter points."""
    keyed = [(parts, row) for parts, row in members if parts is not None]
    names = list(dict.fromkeys(name for parts, _ in keyed for name in parts.coordinates))
    values = {name: [parts.coordinates.get(name, "-") for parts, _ in keyed] for name in names}
    varying = [name for name in names if len(set(values[name])) > 1]
    constants = " ".join(
        f"{name}={values[name][0]}"
        for name in names
        if name not in varying and (name, values[name][0]) != ("cache", "warm")
    )
    table = compact_table()
    for name in varying:
        table.add_column(name, justify="right" if name == "threads" else "left", overflow="fold")
    implementations = [parts.implementation for parts, _ in keyed]
    table.add_column("implementation", **kept_whole("implementation", implementations))
    _add_stat_columns(table, headers, two_runs)
    previous = None
    for parts, row in keyed:
        cells = [parts.coordinates.get(name, "-") for name in varying]
        point = [cell for name, cell in zip(varying, cells, strict=True) if name != "threads"]
        if previous is not None and point != previous:
            table.add_section()
        previous = point
        table.add_row(
            *map(escape, cells), escape(parts.implementation), *_stat_cells(row, two_runs)
        )
    lines = [Text(benchmark, style="bold"), *([Text(constants, style="dim")] if constants else [])]
    return Group(*lines, table)


def markdown_environment(comparison: Comparison) -> list[str]:
    """The environment fields that differ between the runs, as a Markdown table (none: no
    lines)."""
    runs = [comparison.base, *comparison.others]
    differences = environment_differences(runs)
    if not differences:
        return []
    lines = [
        "| environment | " + " | ".join(run.label for run in runs) + " |",
        "|---" * (len(runs) + 1) + "|",
    ]
    lines += [f"| {name} | " + " | ".join(values) + " |" for name, values in differences]
    return [*lines, ""]


def markdown_table(comparison: Comparison, rows: list[list[str]]) -> list[str]:
    """`rows` (of `comparison_rows`) as a Markdown table: keys in code, what needs a look in
    bold."""
    headers = comparison_headers(comparison)
    lines = ["| " + " | ".join(headers) + " |", "|---" * len(headers) + "|"]
    for row in rows:
        cells = [f"`{row[0]}`", *row[1:]]
        if cells[-1].endswith(("slower", "broken", "unsure")):
            cells[-1] = f"**{cells[-1]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_markdown(comparison: Comparison) -> str:
    lines = ["## labench comparison", "", *markdown_environment(comparison)]
    lines += [*markdown_table(comparison, comparison_rows(comparison)), ""]
    for label, keys in comparison.only_in.items():
        if keys:
            lines.append(f"Only in {label}: {', '.join(f'`{key}`' for key in keys)}")
    lines += excluded_lines(comparison)
    lines.append(comparison_summary(comparison))
    return "\n".join(lines) + "\n"


def render_json(comparison: Comparison) -> str:
    def verdict(v: Verdict) -> dict[str, Any]:
        return {
            "key": v.key,
            "base_median": v.base.median,
            "new_median": v.new.median,
            "ratio": v.ratio,
            "ci95": v.ci95,
            "p_value": v.p_value,
            "verdict": v.verdict,
            "basis": v.basis,
            "doubt": v.doubt or None,
            "threshold": comparison.threshold_of(v),
            "excluded": v.gate.excluded if v.gate is not None else None,
            "base_status": v.base.status,
            "new_status": v.new.status,
        }

    def drift(verdicts: list[Verdict]) -> dict[str, Any] | None:
        found = run_drift(verdicts)
        if found is None:
            return None
        return {
            "factor": found.factor,
            "ci95": found.ci95,
            "cases": found.cases,
            "significant": found.significant,
            "explains": [v.key for v in verdicts if found.explains(v, comparison.threshold_of(v))],
        }

    document = {
        "base": comparison.base.label,
        "threshold": comparison.threshold,
        "alpha": comparison.alpha,
        "environment_differences": dict(
            environment_differences([comparison.base, *comparison.others])
        ),
        "devices": {run.label: list(run.devices) for run in [comparison.base, *comparison.others]},
        "runs": [
            {"label": run.label, "drift": drift(verdicts), "cases": [verdict(v) for v in verdicts]}
            for run, verdicts in zip(comparison.others, comparison.verdicts, strict=True)
        ],
        "only_in": comparison.only_in,
        "regressions": [v.key for v in comparison.regressions()],
        "unsure": [v.key for v in comparison.unsure()],
        "excluded": {v.key: v.gate.excluded for v in comparison.excluded() if v.gate},
    }
    return json.dumps(document, indent=1)


def render(comparison: Comparison, console: Console, output_format: str) -> None:
    """A table on the console; Markdown (for a pull request comment) or JSON (for a script) on
    standard output, unstyled, so that a pipe gets exactly the document."""
    if output_format == "markdown":
        print(render_markdown(comparison), end="")
    elif output_format == "json":
        print(render_json(comparison))
    else:
        render_table(comparison, console)


def gate_verdict(comparison: Comparison, undecided: Sequence[str], decide: str) -> str:
    """A gated run's last word: PASS, REGRESSION or UNDECIDED, with the counts, the cases
    concerned and, where cases are undecided, the command that decides them."""
    compared = sum(
        verdict.verdict not in ("skipped", "excluded")
        for run in comparison.verdicts
        for verdict in run
    )
    beyond = f"beyond {threshold_text(comparison)}"
    regressions = comparison.regressions()
    if regressions:
        text = (
            f"REGRESSION: {len(regressions)} of {compared} cases slower than "
            f"{comparison.base.label} {beyond}, or newly broken: "
            + _named(verdict.key for verdict in regressions)
        )
        if undecided:
            text += f"; {len(undecided)} more undecided: {_named(undecided)}"
        return text
    if undecided:
        return (
            f"UNDECIDED: {len(undecided)} of {compared} cases moved the slow way {beyond} and "
            f"the measurements cannot tell it from noise: {_named(undecided)}. "
            f"To decide them: {decide}"
        )
    excluded = len(comparison.excluded())
    return f"PASS: none of {compared} cases is slower than {comparison.base.label} {beyond}" + (
        f"; {excluded} more not gated (their suite excludes them)" if excluded else ""
    )


def _named(keys: Iterable[str], most: int = 5) -> str:
    listed = list(keys)
    more = f" and {len(listed) - most} more" if len(listed) > most else ""
    return ", ".join(listed[:most]) + more
