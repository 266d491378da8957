"""`labench report`: one self-contained static HTML page to share a set of runs.

The page leads with the answer: what changed (each comparison's verdict, then its table; the
history's steps; the claims), then the machines, the runs' result tables, and the figures last.
No server, no network: styles and the little script that sorts tables are inline, figures are
inline SVG. Everything is readable with JavaScript off (sorting is the only thing it adds).
The page is rendered by a Jinja2 template (`templates/report.html.j2`) from plain rows built
here out of the same pieces the terminal uses (`report.result_grids`, `compare`, the history),
so the page and the terminal say the same thing. Reads results only; never runs a kernel.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labench.core.errors import InputError
from labench.judge.compare import Comparison, compare, environment_differences
from labench.judge.history import History, build
from labench.present import gpu_state
from labench.present.claims import claim_value_text
from labench.present.comparison import comparison_headers, comparison_rows, comparison_summary
from labench.present.grid import result_grids
from labench.present.history import step_rows
from labench.present.machine import environment_rows
from labench.results import ceilings, reader
from labench.results import model as results
from labench.results.model import Result
from labench.results.views import RunView, run_view

HISTORY_MIN_RUNS = 3
"""Runs of one machine from which the page holds a history section."""

VERDICTS = ("slower", "broken", "faster", "fixed", "same", "unsure", "comparable", "skipped")
"""The last word of a comparison cell that names its verdict (`not comparable`: the last word),
which colours the cell."""


@dataclass
class RunSection:
    path: Path
    result: Result
    grids: list[Any]
    claims: list[dict[str, str]]
    notes: list[dict[str, Any]]
    """The cases with a reason (skipped, failed), one line per status, backend and reason."""
    figures: list[tuple[str, str, str]] = field(default_factory=list)
    """(name, title in words, inline SVG) triples."""
    gpu_rows: list[list[str]] = field(default_factory=list)
    """The GPU cases' device state while sampled (present/gpu_state.py), a row each."""
    gpu_notes: list[str] = field(default_factory=list)
    device: str | None = None
    """The GPU devices the cases ran on, by name and UUID."""


def inline_code(text: str) -> Any:
    """Plain text as HTML (a markupsafe.Markup), its `backticked` spans as <code> (the
    terminal's notation for a command or a flag); text with an unmatched backtick is shown as
    it is. MarkupSafe comes with Jinja2, so it is imported only once a page is rendered."""
    from markupsafe import Markup, escape

    parts = text.split("`")
    if len(parts) % 2 == 0:
        return escape(text)
    return Markup("").join(
        escape(part) if index % 2 == 0 else Markup("<code>%s</code>") % part
        for index, part in enumerate(parts)
    )


def breakable(text: str) -> Any:
    """A case key that may wrap after each / and , (a <wbr>), not inside a name or a value."""
    import re

    from markupsafe import Markup, escape

    return Markup("<wbr>").join(escape(part) for part in re.split(r"(?<=[/,])", text))


def _svg(figure: Any) -> str:
    """A matplotlib figure as an inline <svg> element (text kept as text: smaller, selectable)."""
    import matplotlib

    stream = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(stream, format="svg")
    text = stream.getvalue()
    return text[text.index("<svg") :]


def _plotting() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _roofs(machine: str) -> ceilings.Ceilings | None:
    """This machine's stored ceilings for the roofline; a page is still worth writing without
    them (the roofline then says to run `labench calibrate`), so a damaged store is skipped."""
    try:
        return ceilings.load(machine)
    except InputError:
        return None


def _claim_rows(result: Result) -> list[dict[str, str]]:
    return [
        {
            "id": claim.id,
            "text": claim.text,
            "measured": claim_value_text(claim),
            "bound": claim.bound,
            "status": claim.status,
            "reason": claim.reason or "",
        }
        for claim in result.claims
    ]


def _note_rows(result: Result) -> list[dict[str, Any]]:
    """Cases with a reason, grouped: 14 cases skipped because CuPy is not installed are one
    line with their count (the keys folded away), not 14 lines saying the same."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for case in result.cases:
        if case.reason:
            groups.setdefault((case.status, case.backend, case.reason), []).append(case.key)
    return [
        {"status": status, "backend": backend, "reason": reason, "keys": keys}
        for (status, backend, reason), keys in groups.items()
    ]


def _run_section(path: Path, result: Result, figures: bool) -> RunSection:
    from labench.present.plot import figures as run_figures
    from labench.present.plot import title

    section = RunSection(
        path,
        result,
        list(result_grids(result)),
        _claim_rows(result),
        _note_rows(result),
        gpu_rows=gpu_state.state_rows(result),
        gpu_notes=gpu_state.notes(result),
        device=gpu_state.device_line(result),
    )
    if figures:
        for made in run_figures(result, _roofs(result.environment.machine_id)):
            made.figure.suptitle(title(result), fontsize=9)
            section.figures.append((made.name, made.title, _svg(made.figure)))
    return section


def _headline(comparison: Comparison) -> tuple[str, str]:
    """The comparison's answer in one line, with the class that colours it."""
    compared = sum(v.verdict != "skipped" for run in comparison.verdicts for v in run)
    beyond = f"beyond {comparison.threshold:.0%}"
    base = comparison.base.label
    regressions = comparison.regressions()
    if regressions:
        keys = [verdict.key for verdict in regressions]
        named = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        return (
            "slower",
            f"{len(keys)} of {compared} compared cases slower than {base} {beyond} "
            f"or newly broken: {named}",
        )
    unsure = comparison.unsure()
    if unsure:
        return (
            "unsure",
            f"No case shown slower than {base} {beyond}; {len(unsure)} of {compared} compared "
            "cases unsure (below: why, and what decides them)",
        )
    return "same", f"No case slower than {base} {beyond}: {compared} cases compared"


def _comparisons(paths: list[Path], loaded: list[Result]) -> list[dict[str, Any]]:
    """Runs of the same suite compared with the first of them given, as `labench compare`."""
    by_suite: dict[str, list[RunView]] = {}
    for path, result in zip(paths, loaded, strict=True):
        by_suite.setdefault(result.suite.name, []).append(run_view(result, path.name))
    found: list[dict[str, Any]] = []
    for suite, runs in by_suite.items():
        if len(runs) < 2:
            continue
        try:
            comparison = compare(runs)
        except InputError as error:  # e.g. runs of one suite with disjoint --filter
            found.append({"suite": suite, "problem": " ".join(error.problems)})
            continue
        found.append(
            {
                "suite": suite,
                "headline": _headline(comparison),
                "summary": [
                    inline_code(line)
                    for line in comparison_summary(comparison).splitlines()
                    if line.strip()
                ],
                "differences": environment_differences(runs),
                "only_in": {label: keys for label, keys in comparison.only_in.items() if keys},
                "labels": [run.label for run in runs],
                "headers": comparison_headers(comparison),
                "rows": comparison_rows(comparison),
                "problem": "",
            }
        )
    return found


def _histories(loaded: list[Result], figures: bool) -> list[dict[str, Any]]:
    """A history per machine with enough runs: the steps table and the charts."""
    from labench.present.plot_history import history_figures

    machines: dict[str, list[Result]] = {}
    for result in loaded:
        machines.setdefault(result.environment.machine_id, []).append(result)
    found = []
    for machine, runs in machines.items():
        if len(runs) < HISTORY_MIN_RUNS:
            continue
        history: History = build(runs, machine)
        measured = {case.key: case for result in runs for case in result.cases}
        found.append(
            {
                "machine": machine,
                "runs": [(history.run_name(index), run) for index, run in enumerate(history.runs)],
                "ordered_by": history.ordered_by,
                "steps": step_rows(history),
                "figures": [
                    (made.name, made.title, _svg(made.figure))
                    for made in history_figures(history, measured)
                ]
                if figures
                else [],
            }
        )
    return found


def _newest_of_each(loaded: list[Result]) -> set[int]:
    """The newest run of each suite on each machine: the runs whose figures the page shows
    (older runs of the same suite and machine live on in the history charts)."""
    newest: dict[tuple[str, str], int] = {}
    for index, result in enumerate(loaded):
        where = (result.environment.machine_id, result.suite.name)
        if where not in newest or result.run.started >= loaded[newest[where]].run.started:
            newest[where] = index
    return set(newest.values())


def render(paths: Iterable[Path]) -> str:
    """The page for these result files (and folders of them)."""
    try:
        import jinja2
    except ImportError:
        raise InputError("labench report needs Jinja2: pip install 'labench[report]'") from None
    files = reader.result_files(list(paths))
    loaded = [reader.load(path) for path in files]
    figures = _plotting()
    newest = _newest_of_each(loaded)
    machines: dict[str, dict[str, Any]] = {}
    for result in loaded:
        machines.setdefault(result.environment.machine_id, result.environment.model_dump())
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("labench.present", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["code"] = inline_code
    environment.filters["breakable"] = breakable
    runs = [
        _run_section(path, result, figures and index in newest)
        for index, (path, result) in enumerate(zip(files, loaded, strict=True))
    ]
    return environment.get_template("report.html.j2").render(
        generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        files=files,
        machines={name: environment_rows(found) for name, found in machines.items()},
        runs=runs,
        claims=[section for section in runs if section.claims],
        comparisons=_comparisons(files, loaded),
        verdicts=VERDICTS,
        histories=_histories(loaded, figures),
        figures=figures,
        gpu_headers=gpu_state.HEADERS,
    )


def write(paths: Iterable[Path], output: Path) -> None:
    """Write the page atomically, readable by all: it is made to be published."""
    results.write_atomically(output, render(paths))
    output.chmod(0o644)
