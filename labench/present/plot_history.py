"""A machine's history as figures: each case's medians over the runs, its levels and steps."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from labench.judge.history import CaseHistory, History
from labench.present.figure import Figure, case_names, new_figure
from labench.results.model import CaseResult


def history_figures(history: History, measured: Mapping[str, CaseResult]) -> Iterator[Figure]:
    """One figure per benchmark: each case's medians over the runs, relative to its first
    level, the fitted levels dashed, and a triangle where a step starts (up: slower).
    `measured`: a case of each key, which names the lines by what varies between them."""
    from matplotlib.ticker import MaxNLocator

    by_benchmark: dict[tuple[str, str], list[CaseHistory]] = {}
    for case in history.cases:
        by_benchmark.setdefault((case.suite, case.benchmark), []).append(case)
    for (suite, benchmark), cases in by_benchmark.items():
        made, axes = new_figure(
            f"history-{suite}-{benchmark}",
            f"{suite} {benchmark} on machine {history.machine}: time over the runs, steps marked",
        )
        names = case_names([measured[case.key] for case in cases if case.key in measured])
        for case in cases:
            first = case.fit.levels[0][2]
            runs = [point.run + 1 for point in case.points]
            (line,) = axes.plot(
                runs,
                [point.median / first for point in case.points],
                "o-",
                markersize=3,
                linewidth=1,
                label=names.get(case.key, case.key.split("/", 1)[1]),
            )
            for start, stop, level in case.fit.levels:
                axes.plot(
                    [runs[start], runs[stop - 1]],
                    [level / first] * 2,
                    "--",
                    color=line.get_color(),
                    linewidth=1.5,
                )
            for step, point in case.step_points():
                axes.plot(
                    point.run + 1,
                    step.after / first,
                    "^" if step.ratio > 1 else "v",
                    color="red" if step.ratio > 1 else "green",
                    markersize=9,
                )
        axes.axhline(1.0, color="grey", linewidth=0.8)
        axes.set(xlabel=f"run (in {history.ordered_by} order)", ylabel="time / first level")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.legend(fontsize=6)
        yield made
