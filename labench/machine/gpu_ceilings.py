"""A GPU's roofs per precision: the GEMM rate where it stops rising, and the copy bandwidth.

A GPU has several compute roofs: float64, IEEE float32, float32 on TF32 tensor cores, and the
16-bit tensor-core rates, an order of magnitude apart (on an H100 through CuPy: 56, 50, ~380
and ~750 TFLOP/s). One GEMM at one size says little: small products leave the multiprocessors
idle, so the size is doubled until the rate gains less than `PLATEAU`, and the best rate seen is
the roof. The memory roof is a device-to-device copy of arrays far larger than the L2.

Kept apart from `ceilings` (the host's roofs) so each can change without the other.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from labench.backends import BACKENDS, availability
from labench.core.clock import LoopTimer
from labench.core.dtypes import DEFAULT_MATH, resolve
from labench.measure.timing import Policy, sample
from labench.results.ceilings import GemmRoof, GpuCeiling

GEMM_SIZES = (1024, 2048, 4096, 8192, 16384)
PLATEAU = 0.03
"""A doubling of the GEMM size that raises the rate by less than this ends the sweep."""
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


def _seconds_per_call(function: Callable[[], Any], timer: LoopTimer) -> float:
    return statistics.median(sample(function, POLICY, timer).samples)


def _gemm_rate(xp: Any, size: int, dtype: np.dtype, timer: LoopTimer) -> float:
    """GFLOP/s of an n x n x n product on random data made on the device (fast, and no
    host-to-device copy of gigabytes), written into a preallocated output."""
    generator = xp.random.default_rng(size)
    a, b = (
        generator.standard_normal((size, size), dtype=np.float32).astype(dtype) for _ in range(2)
    )
    c = xp.matmul(a, b)
    return 2 * size**3 / 1e9 / _seconds_per_call(lambda: xp.matmul(a, b, out=c), timer)


def _copy_rate(xp: Any, copy_bytes: int, timer: LoopTimer) -> float:
    """GB/s of a device-to-device copy, counting the bytes read and the bytes written."""
    source = xp.ones(copy_bytes // 4, dtype=np.float32)
    target = xp.empty_like(source)
    return 2 * copy_bytes / 1e9 / _seconds_per_call(lambda: xp.copyto(target, source), timer)


def sweep_gemm(
    xp: Any,
    dtype: str,
    math: str,
    sizes: Sequence[int],
    timer: LoopTimer,
) -> GemmRoof:
    """Double the GEMM size until the rate stops rising (or memory runs out); the best rate."""
    rates: dict[int, float] = {}
    reason = None
    with BACKENDS["cupy"].precision(dtype, math) as reported:
        computed = dict(reported)
        for size in sizes:
            try:
                rates[size] = _gemm_rate(xp, size, resolve(dtype), timer)
            except Exception as error:  # out of device memory, an unsupported type...
                reason = f"n={size}: {type(error).__name__}: {error}"
                break
            earlier = [rate for n, rate in rates.items() if n != size]
            if earlier and rates[size] < (1 + PLATEAU) * max(earlier):
                break
    if not rates:
        raise RuntimeError(f"no GEMM in {dtype} ({math}) could run: {reason}")
    size = max(rates, key=rates.__getitem__)
    return GemmRoof(
        dtype=dtype,
        math=math,
        gflops=rates[size],
        size=size,
        sweep=rates,
        precision=computed,
        reason=reason,
    )


def measure(sizes: Sequence[int] = GEMM_SIZES, copy_bytes: int = COPY_BYTES) -> GpuCeiling | None:
    """Every precision's roof and the copy bandwidth, timed with CUDA events; None without a
    GPU. A precision whose every GEMM fails (bfloat16 without ml_dtypes, say) is listed in
    `missing` with the reason."""
    if not availability("cupy").available:
        return None
    import cupy

    timer = BACKENDS["cupy"].loop_timer
    gbps = _copy_rate(cupy, copy_bytes, timer)
    roofs, missing = [], {}
    for dtype, math in PRECISIONS:
        try:
            roofs.append(sweep_gemm(cupy, dtype, math, sizes, timer))
        except Exception as error:  # ml_dtypes missing, no GEMM at all in this type
            missing[f"{dtype}/{math}"] = str(error)
    return GpuCeiling(gemm=roofs, missing=missing, gbps=gbps)
