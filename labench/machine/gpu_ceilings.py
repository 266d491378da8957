"""A GPU's roofs per precision: the GEMM rate where it stops rising, and the copy bandwidth.

A GPU has several compute roofs: float64, IEEE float32, float32 on TF32 tensor cores, and the
16-bit tensor-core rates, an order of magnitude apart (on an H100 through CuPy: 56, 50, ~380
and ~750 TFLOP/s). One GEMM at one size says little: small products leave the multiprocessors
idle, so the size is doubled until the rate gains less than `roofs.PLATEAU_GAIN` (the host's
sweep, `roofs.gemm_plateau`), and the best rate seen is the roof. The memory roof is a
device-to-device copy of arrays far larger than the L2.

A roof holds at a clock: NVML is watched while the roofs' samples are timed, and the clocks
are stored with them (`GpuCeiling.clocks`), so a case's roofline share can say whether it ran
at the clock its roof was measured at (judge/roofline.py).

Kept apart from `ceilings` (the host's roofs) so each can change without the other.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from labench.backends import BACKENDS, availability
from labench.backends.cupy_gpu import bus_id
from labench.core.clock import LoopTimer
from labench.core.dtypes import DEFAULT_MATH, resolve
from labench.machine.roofs import gemm_plateau
from labench.measure.gpu_state import GpuWatch
from labench.measure.timing import Policy, sample
from labench.results.ceilings import GemmRoof, GpuCeiling
from labench.suite.model import resolve as resolve_settings

GEMM_SIZES = (1024, 2048, 4096, 8192, 16384)
PRECISIONS = (
    ("float64", DEFAULT_MATH),
    ("float32", DEFAULT_MATH),
    ("float32", "tf32"),
    ("float16", DEFAULT_MATH),
    ("bfloat16", DEFAULT_MATH),
)
COPY_BYTES = 2**30
"""Bytes per copied array: far beyond any GPU's L2 (50 MB on an H100)."""
POLICY = Policy(max_time=0.3, target_rel_ci=0.02, min_samples=5, warmup=0.05)


def _seconds_per_call(
    function: Callable[[], Any], timer: LoopTimer, watch: GpuWatch | None
) -> float:
    return statistics.median(sample(function, POLICY, timer, watch=watch).samples)


def _gemm_rate(
    xp: Any, size: int, dtype: np.dtype, timer: LoopTimer, watch: GpuWatch | None
) -> float:
    """GFLOP/s of an n x n x n product on random data made on the device (fast, and no
    host-to-device copy of gigabytes), written into a preallocated output."""
    generator = xp.random.default_rng(size)
    a, b = (
        generator.standard_normal((size, size), dtype=np.float32).astype(dtype) for _ in range(2)
    )
    c = xp.matmul(a, b)
    return 2 * size**3 / 1e9 / _seconds_per_call(lambda: xp.matmul(a, b, out=c), timer, watch)


def _copy_rate(xp: Any, copy_bytes: int, timer: LoopTimer, watch: GpuWatch | None) -> float:
    """GB/s of a device-to-device copy, counting the bytes read and the bytes written."""
    source = xp.ones(copy_bytes // 4, dtype=np.float32)
    target = xp.empty_like(source)
    return 2 * copy_bytes / 1e9 / _seconds_per_call(lambda: xp.copyto(target, source), timer, watch)


def sweep_gemm(
    xp: Any,
    dtype: str,
    math: str,
    sizes: Sequence[int],
    timer: LoopTimer,
    watch: GpuWatch | None = None,
) -> GemmRoof:
    """Double the GEMM size from the first of `sizes` to at most the last until the rate stops
    rising or memory runs out (the CPU roofs' sweep, `gemm_plateau`); the best rate. `watch`
    looks at the device while each size is timed."""
    with BACKENDS["cupy"].precision(dtype, math) as reported:
        computed = dict(reported)
        try:
            plateau = gemm_plateau(
                lambda size: _gemm_rate(xp, size, resolve(dtype), timer, watch),
                lambda size: 2 * size**3 / 1e9,
                start=sizes[0],
                largest=sizes[-1],
                budget=float("inf"),
            )
        except Exception as error:  # an unsupported type, no memory even for the first size
            reason = f"n={sizes[0]}: {type(error).__name__}: {error}"
            raise RuntimeError(f"no GEMM in {dtype} ({math}) could run: {reason}") from None
    size = max(plateau.sweep, key=plateau.sweep.__getitem__)
    return GemmRoof(
        dtype=dtype,
        math=math,
        gflops=plateau.sweep[size],
        size=size,
        sweep=plateau.sweep,
        precision=computed,
        reason=plateau.reason,
    )


def measure(sizes: Sequence[int] = GEMM_SIZES, copy_bytes: int = COPY_BYTES) -> GpuCeiling | None:
    """Every precision's roof and the copy bandwidth, timed with CUDA events; None without a
    GPU. A precision whose every GEMM fails (bfloat16 without ml_dtypes, say) is listed in
    `missing` with the reason. The device's clocks while the roofs were timed come with
    them."""
    if not availability("cupy").available:
        return None
    import cupy

    timer = BACKENDS["cupy"].loop_timer
    watch = GpuWatch(bus_id, resolve_settings().throttle_threshold)
    gbps = _copy_rate(cupy, copy_bytes, timer, watch)
    roofs, missing = [], {}
    for dtype, math in PRECISIONS:
        try:
            roofs.append(sweep_gemm(cupy, dtype, math, sizes, timer, watch))
        except Exception as error:  # ml_dtypes missing, no GEMM at all in this type
            missing[f"{dtype}/{math}"] = str(error)
    return GpuCeiling(gemm=roofs, missing=missing, gbps=gbps, clocks=watch.state())
