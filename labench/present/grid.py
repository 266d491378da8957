"""A benchmark's cases as a grid: what varies in columns, what is constant said once above, and
each cell's text (status and flags, interval, roof, parameters)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from labench.core.dtypes import DEFAULT_MATH
from labench.judge.roofline import other_clock
from labench.judge.speedups import speedups, unsteady
from labench.present.format import format_bytes, format_number, format_relative, format_seconds
from labench.results.model import CaseResult, Result

STATUS_STYLE = {"ok": "green", "skipped": "yellow", "error": "bold red", "wrong": "bold red"}


FLAG_LABELS = {"noisy": "noisy", "contended": "busy", "throttled": "throttled"}
"""How a flag reads in a table's status column (short, so quick's tables fit 120 columns)."""


def status_text(cell: str) -> str:
    """A grid's status cell (`ok`, or `ok noisy busy`) in colour: flags in yellow."""
    status, *flags = cell.split()
    text = f"[{STATUS_STYLE[status]}]{status}[/]"
    return text + (f" [yellow]{' '.join(flags)}[/]" if flags else "")


def _ci_text(case: CaseResult) -> str:
    return format_relative(case.timing.rel_ci if case.timing else None)


def _percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction:.0%}"


CACHE_MARK = "ᶜ"


CACHE_NOTE = (
    f"{CACHE_MARK} working set fits in the last-level cache (cache_resident): "
    "it may beat the memory roof"
)


COLD_NOTE = "cold: the cache is evicted before every call"


CLOCK_MARK = "ᵏ"


CLOCK_NOTE = (
    f"{CLOCK_MARK} the GPU ran at another SM clock than its roofs were measured at "
    "(roof_clock_ratio in the result): the share compares two clock states"
)


ERROR_NOTE = (
    "error: relative error against the float64 reference (0 = exact); status ok = within tolerance"
)


def _roof_text(case: CaseResult) -> str:
    """The roofline share, marked when the data can come from cache rather than memory."""
    text = _percent(case.metrics.get("roofline_frac"))
    if text == "-":
        return text
    return (
        text
        + (CACHE_MARK if case.metrics.get("cache_resident") else "")
        + (CLOCK_MARK if other_clock(case) else "")
    )


def _value_text(value: Any) -> str:
    return "default" if value is None else str(value)


def params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{name}={_value_text(value)}" for name, value in params.items())


@dataclass
class Grid:
    """One benchmark's table, free of any output format, so the terminal and the HTML report
    show the same cells. Coordinates that are the same on every row are said once, in
    `constants`, instead of repeating (and wrapping) on each row."""

    title: str
    constants: str
    columns: list[tuple[str, str]]
    """(heading, justify) pairs; justify is "left" or "right"."""
    sections: list[list[list[str]]] = field(default_factory=list)
    """Rows grouped by parameter point; each row's last cell is the case's status."""
    keys: list[str] = field(default_factory=list)
    """The case key of each row, in order across sections."""


def _coordinates(cases: list[CaseResult]) -> tuple[list[str], str]:
    """The parameters (and dtype, threads) that vary within these cases, and the text of those
    that do not."""
    names = named_params(cases)
    values = {name: {_value_text(case.params.get(name)) for case in cases} for name in names}
    varying = [name for name in names if len(values[name]) > 1]
    constants = [f"{name}={values[name].pop()}" for name in names if len(values[name]) == 1]
    for name, found in (
        ("dtype", {_dtype_text(case) for case in cases}),
        ("threads", {str(case.threads) for case in cases}),
        ("cache", {case.cache for case in cases}),
    ):
        if len(found) > 1:
            varying.append(name)
        elif found != {"warm"}:  # the default cache mode goes without saying
            constants.append(f"{name}={found.pop()}")
    return varying, " ".join(constants)


def named_params(cases: list[CaseResult]) -> list[str]:
    """The parameters of these cases worth naming, in order: one that a workload keeps out of
    case keys at its default (dask's `chunks`, `Param.in_key_at_default`) goes without saying,
    like the default cache mode, while every case leaves it there. The case key itself says
    which parameters it names, so no workload needs importing to know."""
    names = dict.fromkeys(name for case in cases for name in case.params)
    return [name for name in names if any(name in _keyed_params(case) for case in cases)]


def _keyed_params(case: CaseResult) -> set[str]:
    """The parameter names in a case's key (`benchmark/n=64,transfers=False/float64/...`)."""
    parts = case.key.split("/")
    listed = parts[1] if len(parts) > 1 else ""
    return {item.split("=", 1)[0] for item in listed.split(",") if "=" in item}


def _dtype_text(case: CaseResult) -> str:
    """The dtype, and the math mode when it is not the default one: `float32+tf32`."""
    return case.dtype + ("" if case.math == DEFAULT_MATH else f"+{case.math}")


def _coordinate(case: CaseResult, name: str) -> str:
    if name == "dtype":
        return _dtype_text(case)
    if name == "threads":
        return str(case.threads)
    if name == "cache":
        return case.cache
    return _value_text(case.params.get(name))


def grid_title(result: Result, benchmark: str, cases: list[CaseResult]) -> str:
    baseline = result.suite.baselines.get(benchmark, "")
    return f"{benchmark} ({cases[0].workload}, baseline {baseline})"


def make_grid(
    result: Result,
    benchmark: str,
    cases: list[CaseResult],
    gains: dict[str, float],
    shaky: set[str],
    latency: bool,
) -> Grid:
    """One benchmark's grid, a section per parameter point; with `latency`, a column of
    single-call latencies (GPU cases) beside the pipelined medians."""
    varying, constants = _coordinates(cases)
    roofline = any("roofline_frac" in case.metrics for case in cases)
    grid = Grid(
        title=grid_title(result, benchmark, cases),
        constants=constants,
        columns=[
            *[(name, "right" if name == "threads" else "left") for name in varying],
            ("implementation", "left"),
            ("median", "right"),
            *([("latency", "right")] if latency else []),
            ("95% CI", "right"),
            ("speedup", "right"),
            ("GFLOP/s", "right"),
            ("GB/s", "right"),
            *([("roof", "right")] if roofline else []),
            ("peak mem", "right"),
            ("error", "right"),
            ("status", "left"),
        ],
    )
    previous = None
    for case in cases:
        point = [_coordinate(case, name) for name in varying if name != "threads"]
        if point != previous:
            grid.sections.append([])
        previous = point
        timing = case.timing
        gain = gains.get(case.key)
        grid.keys.append(case.key)
        grid.sections[-1].append(
            [
                *[_coordinate(case, name) for name in varying],
                case.implementation,
                format_seconds(timing.median if timing else None),
                *([format_seconds(case.metrics.get("latency"))] if latency else []),
                _ci_text(case),
                "-" if gain is None else f"{gain:.3g}x" + ("?" if case.key in shaky else ""),
                format_number(case.metrics.get("gflops")),
                format_number(case.metrics.get("gbps")),
                *([_roof_text(case)] if roofline else []),
                format_bytes(case.metrics.get("peak_bytes")),
                format_number(case.metrics.get("error_rel"), 2),
                " ".join([case.status, *(FLAG_LABELS[flag] for flag in case.flags)]),
            ]
        )
    return grid


def result_grids(result: Result) -> Iterator[Grid]:
    """Every benchmark's grid, in full, with latencies where the run has any (the HTML
    report's tables)."""
    gains, shaky = speedups(result), unsteady(result)
    latency = any("latency" in case.metrics for case in result.cases)
    for benchmark, cases in itertools.groupby(result.cases, key=lambda case: case.benchmark):
        yield make_grid(result, benchmark, list(cases), gains, shaky, latency)
