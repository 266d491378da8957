"""Figures from a result file, chosen from what the run holds.

Reads results only. Uses matplotlib's object API (no pyplot, no global state, no display), so it
works headless and inside tests. Every figure carries the suite and the machine in its title, so
it can be shared on its own, and error bars come from the stored 95% confidence intervals.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from labench.core.errors import InputError
from labench.judge.scaling import fitted_exponents, swept
from labench.judge.speedups import speedups
from labench.present.figure import Figure, group_names, new_figure, varying_names
from labench.present.plot_roofline import roofline_figure
from labench.results.ceilings import Ceilings
from labench.results.model import CaseResult, Result, Timing

FD_METHODS = ("fd_forward", "fd_central", "complex_step")
FIGURE_FORMATS = ("png", "svg", "pdf")


def write_figures(
    result: Result, folder: Path, formats: Iterable[str], ceilings: Ceilings | None
) -> list[Path]:
    """Render every figure this result supports into `folder`; the paths written."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("labench plot needs matplotlib: pip install 'labench[plot]'") from None
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for made in figures(result, ceilings):
        made.figure.suptitle(title(result), fontsize=9)
        for extension in formats:
            path = folder / f"{made.name}.{extension}"
            made.figure.savefig(path, dpi=120, bbox_inches="tight")
            written.append(path)
    return written


def title(result: Result) -> str:
    environment = result.environment
    return (
        f"{result.suite.name} on {environment.cpu or '?'} "
        f"({environment.cores_usable or '?'} cores, machine "
        f"{environment.machine_id}), run {result.run.id}"
    )


def figures(result: Result, ceilings: Ceilings | None) -> Iterator[Figure]:
    measured = [case for case in result.cases if case.status == "ok" and case.timing]
    gains = speedups(result)
    for benchmark, group in itertools.groupby(measured, key=lambda case: case.benchmark):
        cases = list(group)
        for parameter in swept(cases):
            if parameter == "h":
                yield _error_vs_step(benchmark, cases)
            elif parameter == "rank" and cases[0].workload.startswith("lowrank."):
                yield _lowrank_error(benchmark, cases)
                yield _lowrank_speedup(benchmark, cases)
            else:
                yield _scaling(benchmark, cases, parameter)
            if parameter == "n" and cases[0].workload.startswith("gradients."):
                yield _fd_cost(benchmark, cases)
        if any(case.key in gains for case in cases):
            yield _speedup_bars(benchmark, cases, gains, result.suite.baselines.get(benchmark))
    rated = [case for case in measured if case.metrics.get("flops") and case.metrics.get("bytes")]
    if rated:
        yield roofline_figure(rated, ceilings)


def _series(
    cases: list[CaseResult], parameter: str, label: Callable[[CaseResult], str]
) -> dict[str, list[CaseResult]]:
    """Cases in lines: one per label (which names everything else that varies), by `parameter`."""
    lines: dict[str, list[CaseResult]] = {}
    for case in cases:
        lines.setdefault(label(case), []).append(case)
    return {
        name: sorted(line, key=lambda case: _swept_value(case, parameter))
        for name, line in lines.items()
    }


def _swept_value(case: CaseResult, parameter: str) -> float:
    """A plotted parameter's value: a number, as `swept` offers only numeric parameters."""
    value = case.params[parameter]
    assert isinstance(value, int | float), f"{parameter}={value!r} is not a number"
    return value


def _timing(case: CaseResult) -> Timing:
    """`figures` plots measured cases only: ok ones, which carry a timing."""
    assert case.timing is not None, f"{case.key} was not measured"
    return case.timing


def _others(cases: list[CaseResult], parameter: str) -> Callable[[CaseResult], str]:
    """A label naming the implementation and whatever else varies besides `parameter`."""
    varying = [name for name in swept(cases) if name != parameter]
    threads = len({case.threads for case in cases}) > 1
    dtypes = len({case.dtype for case in cases}) > 1
    caches = len({case.cache for case in cases}) > 1

    def label(case: CaseResult) -> str:
        parts = [case.implementation]
        parts += [f"{name}={case.params[name]}" for name in varying]
        parts += [f"t{case.threads}"] if threads else []
        parts += [case.dtype] if dtypes else []
        parts += [case.cache] if caches else []
        return " ".join(parts)

    return label


def _finish(
    made: Figure, axes: Any, xlabel: str, ylabel: str, values: Iterable[Any] = ()
) -> Figure:
    """Log-log axes; where the points sit on a few parameter values (`values`), the x axis is
    marked at those values, written plainly (64, 256), not as powers of ten."""
    axes.set(xscale="log", yscale="log", xlabel=xlabel, ylabel=ylabel)
    _value_ticks(axes, values)
    axes.legend(fontsize=7)
    return made


def _value_ticks(axes: Any, values: Iterable[Any]) -> None:
    from matplotlib.ticker import NullLocator

    marks = sorted({float(value) for value in values if value is not None})
    if 0 < len(marks) <= 12:
        axes.set_xticks(marks, [f"{mark:g}" for mark in marks])
        axes.xaxis.set_minor_locator(NullLocator())


def _times_text(value: float, _position: Any = None) -> str:
    """A speedup tick: 0.01x, 0.5x, 1x, 20x."""
    return f"{value:g}x"


def _log_speedups(axes: Any, values: Iterable[float]) -> None:
    """A speedup axis in log scale, so 0.01x shows as far below 1x as 100x above it, always
    with 1x in view and marked by a line."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    shown = [value for value in values if value > 0 and np.isfinite(value)]
    low, high = min([*shown, 1.0]), max([*shown, 1.0])
    axes.set_yscale("log")
    axes.set_ylim(low / 1.6, high * 1.6)
    if high / low < 300:  # two decades or so: 0.2x, 0.5x, 2x, 5x marked too
        axes.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes.yaxis.set_major_formatter(FuncFormatter(_times_text))
    axes.yaxis.set_minor_formatter(NullFormatter())
    axes.axhline(1.0, color="grey", linewidth=0.8)


def _error_bars(line: list[CaseResult]) -> np.ndarray:
    medians = np.array([_timing(case).median for case in line])
    low = np.array(
        [(_timing(case).ci95 or (m, m))[0] for case, m in zip(line, medians, strict=True)]
    )
    high = np.array(
        [(_timing(case).ci95 or (m, m))[1] for case, m in zip(line, medians, strict=True)]
    )
    return np.vstack([medians - low, high - medians])


def _scaling(benchmark: str, cases: list[CaseResult], parameter: str) -> Figure:
    """Median time vs size, log-log, with the fitted power of each line in its label."""
    made, axes = new_figure(
        f"scaling-{benchmark}-{parameter}", f"{benchmark}: time per call as {parameter} grows"
    )
    for name, line in _series(cases, parameter, _others(cases, parameter)).items():
        x = np.array([case.params[parameter] for case in line], dtype=float)
        y = np.array([_timing(case).median for case in line])
        exponent = fitted_exponents(line, [parameter])
        if exponent is not None:
            name += f" (~{parameter}^{exponent[parameter]:.2f})"
        axes.errorbar(x, y, yerr=_error_bars(line), marker="o", capsize=3, label=name)
    values = [case.params[parameter] for case in cases]
    return _finish(made, axes, parameter, "median time per call (s)", values)


def _error_vs_step(benchmark: str, cases: list[CaseResult]) -> Figure:
    """The V curve: truncation error falls with h, rounding error grows as h shrinks."""
    made, axes = new_figure(
        f"gradient-error-vs-step-{benchmark}",
        f"{benchmark}: finite-difference error against the step h",
    )
    chosen = [c for c in cases if c.implementation in FD_METHODS and c.params["h"] is not None]
    for name, line in _series(chosen, "h", _others(chosen, "h")).items():
        h = [case.params["h"] for case in line]
        axes.plot(
            h, [max(case.metrics.get("error_rel") or 0, 1e-18) for case in line], "o-", label=name
        )
    return _finish(made, axes, "step h", "relative error of the gradient")


def _fd_cost(benchmark: str, cases: list[CaseResult]) -> Figure:
    """How many analytic gradients one finite-difference gradient costs, as n grows."""
    made, axes = new_figure(
        f"gradient-cost-ratio-{benchmark}",
        f"{benchmark}: cost of finite differences over the analytic gradient",
    )
    for name, (x, ratios) in _relative_times(cases, "analytic", "n").items():
        axes.plot(x, ratios, "o-", label=name)
    values = [case.params["n"] for case in cases]
    return _finish(made, axes, "n (parameters)", "time / analytic time", values)


def _relative_times(
    cases: list[CaseResult], reference: str, parameter: str
) -> dict[str, tuple[list[Any], list[float]]]:
    """Each line's median time over the `reference` implementation's at the same point."""
    times = {
        _point(case, "implementation"): _timing(case).median
        for case in cases
        if case.implementation == reference
    }
    others = [
        case
        for case in cases
        if case.implementation != reference and _point(case, "implementation") in times
    ]
    return {
        name: (
            [case.params[parameter] for case in line],
            [_timing(case).median / times[_point(case, "implementation")] for case in line],
        )
        for name, line in _series(others, parameter, _others(others, parameter)).items()
    }


def _point(case: CaseResult, *ignored: str) -> tuple[Any, ...]:
    """Where a case sits, ignoring some coordinates: lines cases up across implementations."""
    coordinates = {
        "implementation": case.implementation,
        "threads": case.threads,
        "dtype": case.dtype,
    }
    coordinates |= case.params
    return tuple(sorted((k, str(v)) for k, v in coordinates.items() if k not in ignored))


def _lowrank_error(benchmark: str, cases: list[CaseResult]) -> Figure:
    """Reconstruction error vs rank, against the Eckart-Young optimum no rank-k matrix beats."""
    made, axes = new_figure(
        f"lowrank-error-vs-rank-{benchmark}", f"{benchmark}: reconstruction error against rank"
    )
    factored = [case for case in cases if case.implementation != "dense"]
    lines = _series(factored, "rank", _others(factored, "rank"))
    for name, line in lines.items():
        ranks = [_swept_value(case, "rank") for case in line]
        axes.plot(ranks, [case.metrics.get("error_rel") for case in line], "o-", label=name)
    optimum: dict[float, float | None] = {}
    for case in factored:
        optimum[_swept_value(case, "rank")] = case.metrics.get("error_optimal")
    if optimum:
        ranks = sorted(optimum)
        axes.plot(ranks, [optimum[r] for r in ranks], "k--", label="Eckart-Young optimum")
    return _finish(made, axes, "rank k", "||A - A_k||_F / ||A||_F", list(optimum))


def _lowrank_speedup(benchmark: str, cases: list[CaseResult]) -> Figure:
    """Dense time / factored time vs rank; below 1 the factorization no longer pays."""
    made, axes = new_figure(
        f"lowrank-speedup-vs-rank-{benchmark}",
        f"{benchmark}: speedup of the factored product over dense, against rank",
    )
    gains = []
    for name, (ranks, ratios) in _relative_times(cases, "dense", "rank").items():
        axes.plot(ranks, [1 / ratio for ratio in ratios], "o-", label=name)
        gains += [1 / ratio for ratio in ratios]
    _finish(made, axes, "rank k", "speedup over dense", [case.params["rank"] for case in cases])
    _log_speedups(axes, gains)
    return made


def _speedup_bars(
    benchmark: str, cases: list[CaseResult], gains: dict[str, float], baseline: str | None
) -> Figure:
    """Each group's implementations against its baseline, one bar per implementation rising
    from 1x (faster) or falling from it (slower) on a log scale, so 0.01x is as plain as 100x.
    A group is named by what varies between groups only (n=64, 2 threads), never by its key.
    The error bars carry the case's own 95% CI (the baseline's median is taken as exact)."""
    names = group_names(cases)
    groups = list(dict.fromkeys(names.values()))
    implementations = list(dict.fromkeys(case.implementation for case in cases))
    varying = varying_names(cases)
    heading = f"{benchmark}: speedup over {baseline or 'the baseline'}"
    made, axes = new_figure(
        f"speedup-{benchmark}", heading + (f", by {' and '.join(varying)}" if varying else "")
    )
    width = 0.8 / len(implementations)
    shown: list[float] = []
    for index, implementation in enumerate(implementations):
        found = [
            case
            for case in cases
            if case.implementation == implementation and case.key in gains and case.timing
        ]
        if not found:
            continue
        columns = np.array([groups.index(names[case.key]) for case in found], dtype=float)
        heights = np.array([gains[case.key] for case in found])
        errors = np.zeros((2, len(found)))
        for column, case in enumerate(found):
            timing = case.timing
            assert timing is not None
            low, high = timing.ci95 or (timing.median, timing.median)
            reference = heights[column] * timing.median
            errors[:, column] = (
                heights[column] - reference / high,
                reference / low - heights[column],
            )
        shown += [*(heights - errors[0]), *(heights + errors[1])]
        axes.bar(
            columns + index * width,
            heights - 1.0,
            width,
            bottom=1.0,
            yerr=errors,
            capsize=2,
            label=implementation + (" (baseline, 1x)" if implementation == baseline else ""),
        )
    _log_speedups(axes, shown)
    axes.set_xticks(np.arange(len(groups)) + 0.4 - width / 2, groups, fontsize=8)
    if len(groups) > 6:
        axes.tick_params(axis="x", labelrotation=30)
    axes.set_ylabel(f"speedup over {baseline or 'the baseline'} (log scale)")
    axes.legend(fontsize=7)
    return made
