"""A figure as the renderers share it, and how its cases are named: by what varies among them.

matplotlib is imported only when a figure is drawn (`new_figure`), so reading results never
waits for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labench.results.model import CaseResult


@dataclass
class Figure:
    name: str
    """A slug: the file name `labench plot` writes, an anchor on the page."""
    figure: Any  # matplotlib.figure.Figure
    title: str = ""
    """What the figure shows, in words: its heading, and its caption on the page."""


def new_figure(name: str, heading: str) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure as MatplotlibFigure

    figure = MatplotlibFigure(figsize=(7, 4.5), layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(heading, fontsize=10)
    return Figure(name, figure, heading), axes


def _coordinates(case: CaseResult) -> dict[str, str]:
    """Where a case's group sits, each coordinate written for a reader."""
    found = {name: f"{name}={value}" for name, value in case.params.items()}
    found["threads"] = f"{case.threads} thread" + ("s" if case.threads != 1 else "")
    found["dtype"] = case.dtype
    found["cache"] = f"{case.cache} cache"
    found["math"] = case.math
    return found


def varying_names(cases: list[CaseResult]) -> list[str]:
    """The coordinates that take more than one value across these cases."""
    seen: dict[str, set[str]] = {}
    for case in cases:
        for name, text in _coordinates(case).items():
            seen.setdefault(name, set()).add(text)
    return [name for name, texts in seen.items() if len(texts) > 1]


def case_names(cases: list[CaseResult]) -> dict[str, str]:
    """Each case named by its implementation and what else varies (`numba n=64, 2 threads`)."""
    groups = group_names(cases)
    return {
        case.key: case.implementation
        + ("" if groups[case.key] == "all cases" else " " + groups[case.key])
        for case in cases
    }


def group_names(cases: list[CaseResult]) -> dict[str, str]:
    """Each case's group, named by what varies between the groups (`n=64, 2 threads`); the
    benchmark's only group is named `all cases`."""
    varying = varying_names(cases)
    return {
        case.key: ", ".join(_coordinates(case)[name] for name in varying) or "all cases"
        for case in cases
    }
