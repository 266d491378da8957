"""Memory beside time: the peak extra memory one call allocates, and the size of what it keeps.

The peak is measured on a call of its own, after the timed samples, because every source of it
slows the call it watches (tracemalloc hooks each allocation). Sources, by backend:

- host (NumPy, Python, Numba): tracemalloc. NumPy reports its data buffers to it, and Numba's
  runtime allocates through the Python raw allocator, which tracemalloc traces too (checked by
  a test of a compiled kernel that allocates inside itself). Not seen: scratch space that a
  native library mallocs itself (OpenBLAS's GEMM buffers), which is part of the library, not
  of the benchmarked code.
- CuPy: the memory pool, through a memory hook that keeps the running used-bytes total of its
  mallocs and frees and remembers the peak.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PeakMemory:
    bytes: int
    source: str


def traced_peak(function: Callable[[], Any]) -> int:
    """Peak bytes allocated during one call above what was allocated before it (tracemalloc).

    If tracemalloc is already running (a user profiling labench), its trace is kept running and
    only its peak is reset, so we do not stop someone else's measurement.
    """
    already = tracemalloc.is_tracing()
    if not already:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        output = function()
        peak = tracemalloc.get_traced_memory()[1]
        del output
    finally:
        if not already:
            tracemalloc.stop()
    return max(0, peak - before)


class PoolPeak:
    """Running total of a CuPy memory pool's used bytes, from its malloc and free hooks.

    Written against the hook signatures of `cupy.cuda.MemoryHook`; combined with that class
    only when CuPy is present (see `cupy_pool_peak`), so the arithmetic is testable without it.
    """

    name = "labench_pool_peak"

    def __init__(self) -> None:
        self.used = 0
        self.peak = 0

    def malloc_postprocess(self, device_id: int, size: int, mem_size: int, **_: Any) -> None:
        self.used += mem_size
        self.peak = max(self.peak, self.used)

    def free_postprocess(self, device_id: int, mem_size: int, **_: Any) -> None:
        self.used -= mem_size


def cupy_pool_peak(function: Callable[[], Any], cupy: Any) -> int:
    """Peak device bytes the pool hands out during one call, above its use before the call."""
    hook_class = type("LabenchPoolPeak", (PoolPeak, cupy.cuda.MemoryHook), {})
    hook = hook_class()
    with hook:
        output = function()
        cupy.cuda.Device().synchronize()
        del output
    return hook.peak


def peak_memory(function: Callable[[], Any], backend: str) -> PeakMemory:
    """The peak extra memory of one call, from the source that sees `backend`'s allocations."""
    if backend == "cupy":
        import cupy

        return PeakMemory(cupy_pool_peak(function, cupy), "cupy_pool")
    return PeakMemory(traced_peak(function), "tracemalloc")
