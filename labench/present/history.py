"""Rendering a history for people: the runs, each case's series, and the steps.

Reads a `History` only; the terminal tables here and the HTML report share `step_rows`, so both
say the same thing about each step.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labench.judge.history import CaseHistory, History
from labench.present.format import format_number, format_seconds


def ratio_text(ratio: float, ci95: tuple[float, float]) -> str:
    return f"{format_number(ratio)}x [{format_number(ci95[0])}, {format_number(ci95[1])}]"


def step_rows(history: History) -> list[dict[str, str]]:
    """One row per step: the case, where it happened, from what to what, the ratio with its CI."""
    rows = []
    for case in history.cases:
        for step, point in case.step_points():
            run = history.runs[point.run]
            rows.append(
                {
                    "case": case.key,
                    "suite": case.suite,
                    "run": history.run_name(point.run),
                    "commit": (run.git_commit or "-")[:10],
                    "started": run.started,
                    "from": format_seconds(step.before),
                    "to": format_seconds(step.after),
                    "ratio": ratio_text(step.ratio, step.ci95),
                    "direction": "slower" if step.ratio > 1 else "faster",
                    "gate": "newest run"
                    if case.newest_starts_slower_step and step is case.fit.steps[-1]
                    else "",
                }
            )
    return rows


def runs_table(history: History) -> Table:
    table = Table(
        title=f"{len(history.runs)} runs of machine {history.machine}, "
        f"in {history.ordered_by} order",
        title_justify="left",
        show_edge=False,
    )
    for column in ("#", "run", "suite", "commit", "branch", "started"):
        table.add_column(column, justify="right" if column == "#" else "left")
    for index, run in enumerate(history.runs):
        table.add_row(
            str(index + 1),
            escape(history.run_name(index)),
            escape(run.suite),
            (run.git_commit or "-")[:10] + ("+dirty" if run.git_dirty else ""),
            escape(run.git_branch or "-"),
            run.started,
        )
    return table


def series_table(history: History, case: CaseHistory) -> Table:
    """A case's medians run by run, the fitted level, and a mark where a step starts."""
    table = Table(title=f"{escape(case.key)} [dim]({escape(case.suite)})[/]", title_justify="left")
    for column in ("#", "run", "median", "95% CI", "level", "step"):
        table.add_column(column, justify="left" if column in ("run", "step") else "right")
    starts = {step.index: step for step in case.fit.steps}
    levels = {
        index: level for first, stop, level in case.fit.levels for index in range(first, stop)
    }
    for position, point in enumerate(case.points):
        step = starts.get(position)
        mark = ""
        if step is not None:
            style = "bold red" if step.ratio > 1 else "green"
            mark = (
                f"[{style}]{'▲' if step.ratio > 1 else '▼'} {ratio_text(step.ratio, step.ci95)}[/]"
            )
        ci = point.ci95
        table.add_row(
            str(point.run + 1),
            escape(history.run_name(point.run)),
            format_seconds(point.median),
            "-" if ci is None else f"{format_seconds(ci[0])} - {format_seconds(ci[1])}",
            format_seconds(levels[position]),
            mark,
        )
    return table


def steps_table(history: History) -> Table:
    table = Table(title="Steps", title_justify="left", show_edge=False)
    for column in ("case", "at run", "commit", "from", "to", "ratio [95% CI]", "", "gate"):
        table.add_column(column, overflow="fold")
    for row in step_rows(history):
        style = "bold red" if row["direction"] == "slower" else "green"
        table.add_row(
            escape(row["case"]),
            escape(row["run"]),
            row["commit"],
            row["from"],
            row["to"],
            row["ratio"],
            f"[{style}]{row['direction']}[/]",
            f"[bold red]{row['gate']}[/]" if row["gate"] else "",
        )
    return table


def changes_table(history: History) -> Table:
    """One line per case whose level changed, the largest change first: its steps (where, by
    how much) and its latest level against its first."""
    table = Table(
        title="Cases whose level changed, largest change first",
        title_justify="left",
        show_edge=False,
    )
    for column in (
        "case",
        "first level",
        "latest level",
        "change",
        "steps (at run: ratio)",
        "gate",
    ):
        table.add_column(column, overflow="fold")
    for case in history.changed():
        change = case.change()
        style = "bold red" if change > 1 else "green"
        steps = ", ".join(
            f"{escape(history.run_name(point.run))}: {format_number(step.ratio)}x"
            for step, point in case.step_points()
        )
        table.add_row(
            escape(case.key),
            format_seconds(case.fit.levels[0][2]),
            format_seconds(case.fit.levels[-1][2]),
            f"[{style}]{format_number(change)}x[/]",
            steps,
            "[bold red]newest run[/]" if case.newest_starts_slower_step else "",
        )
    return table


def render_history(history: History, console: Console, show_all: bool) -> None:
    """The header (which runs, in what order, which were left out and why); then, by default,
    the cases that changed and a count of the others, so an unchanged history fits one screen;
    with `show_all`, every run and every series as well."""
    newest, oldest = history.runs[-1], history.runs[0]
    console.print(
        f"{len(history.runs)} runs of machine {history.machine} in {history.ordered_by} order, "
        f"from {oldest.started} to {newest.started}",
        highlight=False,
    )
    for reason in history.left_out:
        console.print(f"left out: {reason}", highlight=False)
    if show_all:
        console.print(runs_table(history))
        for case in history.cases:
            console.print()
            console.print(series_table(history, case))
    rows = step_rows(history)
    changed = history.changed()
    if show_all and rows:
        console.print()
        console.print(steps_table(history))
    elif changed:
        console.print()
        console.print(changes_table(history))
    slower = sum(row["direction"] == "slower" for row in rows)
    console.print(
        f"\n{len(history.cases)} cases: {len(changed)} changed level, "
        f"{len(history.cases) - len(changed)} unchanged; {len(rows)} steps ({slower} slower, "
        f"{len(rows) - slower} faster); the newest run starts a slower step in "
        f"{len(history.gate())} cases",
        highlight=False,
    )
