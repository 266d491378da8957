"""The roofline figure: achieved GFLOP/s against arithmetic intensity, under the measured roofs."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from labench.core.dtypes import DEFAULT_MATH
from labench.present.figure import Figure, new_figure
from labench.results.ceilings import Ceilings, GpuCeiling
from labench.results.model import CaseResult


def roofline_figure(cases: list[CaseResult], ceilings: Ceilings | None) -> Figure:
    """Achieved GFLOP/s vs arithmetic intensity under the measured roofs of this machine;
    cold-cache points (triangles) beside warm ones (circles), so the cache's share shows."""
    made, axes = new_figure(
        "roofline",
        "Roofline: achieved GFLOP/s against arithmetic intensity"
        + ("" if ceilings else "\n(no roofs yet: labench calibrate measures them)"),
    )
    intensity = np.array([_intensity(case) for case in cases])
    for (label, cache), group in itertools.groupby(
        sorted(
            zip(intensity, cases, strict=True),
            key=lambda item: (item[1].benchmark, item[1].implementation, item[1].cache),
        ),
        key=lambda item: (f"{item[1].benchmark} {item[1].implementation}", item[1].cache),
    ):
        points = list(group)
        axes.scatter(
            [point[0] for point in points],
            [point[1].metrics.get("gflops") for point in points],
            label=f"{label} ({cache})",
            marker="v" if cache == "cold" else "o",
            s=18,
        )
    if ceilings is not None:
        span = np.logspace(np.log10(intensity.min() / 2), np.log10(intensity.max() * 2), 200)
        for ceiling in ceilings.cpu:
            name = f"CPU {ceiling.threads} thr"
            for dtype, peak, style in (
                ("float64", ceiling.gflops_float64, "-"),
                ("float32", ceiling.gflops_float32, ":"),
            ):
                axes.plot(
                    span,
                    np.minimum(peak, span * ceiling.gbps),
                    style,
                    linewidth=1,
                    label=f"roof {name} {dtype}",
                )
            if ceiling.gbps_read is not None:
                peak = max(ceiling.gflops_float64, ceiling.gflops_float32)
                axes.plot(
                    span,
                    np.minimum(peak, span * ceiling.gbps_read),
                    "--",
                    linewidth=1,
                    label=f"read roof {name}",
                )
        if ceilings.gpu is not None:
            _gpu_roofs(axes, span, ceilings.gpu)
    axes.set(
        xscale="log", yscale="log", xlabel="arithmetic intensity (flop/byte)", ylabel="GFLOP/s"
    )
    axes.legend(fontsize=6, ncol=2)
    return made


def _gpu_roofs(axes: Any, span: np.ndarray, gpu: GpuCeiling) -> None:
    """One roof per precision the GPU's GEMM sweep measured, under its copy bandwidth."""
    for roof in gpu.gemm:
        math = "" if roof.math == DEFAULT_MATH else f"+{roof.math}"
        axes.plot(
            span,
            np.minimum(roof.gflops, span * gpu.gbps),
            "-" if roof.dtype == "float64" else ":",
            linewidth=1,
            label=f"roof GPU {roof.dtype}{math}",
        )


def _intensity(case: CaseResult) -> float:
    """Flops per byte moved; `figures` passes only cases that have both (`rated`)."""
    flops, moved = case.metrics.get("flops"), case.metrics.get("bytes")
    assert flops and moved, f"{case.key} has no flops or bytes"
    return flops / moved
