"""This machine's ceilings, measured, for the roofline: how fast it can compute and stream.

A case's GFLOP/s means little alone; next to what the hardware can do at that arithmetic
intensity (flops per byte moved) it says whether a kernel is compute-bound and near the peak,
memory-bound and near the bandwidth, or far from both. Ceilings are measured, never taken from a
datasheet: GEMM through BLAS (float64 and float32), swept in size until its rate stops rising,
for the compute roof; a parallel reduction (read roof) and a parallel copy (copy roof) for the
memory roofs, at each thread count; and on a GPU a roof per precision (`gpu_ceilings`). The
rules that turn these into a case's roof live in `labench.machine.roofs`.
They are stored per machine (keyed by the environment's machine id) in the user cache folder.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np

from labench.backends import BACKENDS
from labench.core.clock import LoopTimer, cpu_loop_timer
from labench.core.host import available_memory, usable_cores
from labench.machine.gpu_ceilings import measure as measure_gpu
from labench.machine.roofs import Plateau, gemm_plateau
from labench.measure.cache import last_level_cache
from labench.measure.environment import fingerprint
from labench.measure.threads import limit_threads
from labench.measure.timing import Policy, sample
from labench.results.ceilings import Ceiling, Ceilings

POLICY = Policy(max_time=1.5, target_rel_ci=0.01, min_samples=5, warmup=0.2)
CPU_GEMM_SIZE = 1024
GEMM_DTYPES = ("float64", "float32")
COPY_BYTES = 256 * 2**20
"""Bytes per copied array: far beyond any CPU cache."""
GEMM_SWEEP_SECONDS = 30.0
"""Time cap of one CPU GEMM size sweep (one thread count, one dtype)."""
LARGEST_CPU_GEMM = 32768


Statistic = Callable[[list[float]], float]


def _rate(
    function: Callable[[], Any],
    work: float,
    timer: LoopTimer,
    statistic: Statistic = statistics.median,
) -> float:
    """Work per second at the median (or `statistic`) time of a full labench measurement."""
    return work / statistic(sample(function, POLICY, timer).samples)


def _fastest(samples: list[float]) -> float:
    """The CPU roofs' statistic. A roof is an upper bound, and on a shared machine other
    processes only ever slow a sample: under a load of 6 on 2 cores the median of a 2-thread
    read fell to a third of its fastest sample, which put the roof below the cases it bounds."""
    return min(samples)


def _gemm_rate(
    xp: Any, size: int, dtype: str, timer: LoopTimer, statistic: Statistic = statistics.median
) -> float:
    rng = np.random.default_rng(0)
    a, b = (xp.asarray(rng.standard_normal((size, size)).astype(dtype)) for _ in range(2))
    c = xp.empty_like(a)
    return _rate(lambda: xp.matmul(a, b, out=c), 2 * size**3 / 1e9, timer, statistic)


def measure_cpu(threads: int) -> Ceiling:
    """BLAS GEMM swept to its plateau, a Numba parallel reduction and a parallel copy, every
    pool limited to `threads`."""
    with limit_threads(threads), BACKENDS["numba"].thread_limit(threads):
        gbps, gbps_read = _copy_rate(), _read_rate()
        plateaus = {dtype: _cpu_gemm_plateau(dtype) for dtype in GEMM_DTYPES}
    return Ceiling(
        threads=threads,
        gbps=gbps,
        gbps_read=gbps_read,
        gemm_sizes={dtype: plateau.size for dtype, plateau in plateaus.items()},
        gemm_capped=[dtype for dtype, plateau in plateaus.items() if plateau.capped],
        **{f"gflops_{dtype}": plateau.rate for dtype, plateau in plateaus.items()},
    )


def _copy_rate() -> float:
    """GB/s (read + written) of a parallel copy of COPY_BYTES."""
    from labench.machine.ceiling_kernels import parallel_copy

    source = np.random.default_rng(0).standard_normal(COPY_BYTES // 8)
    target = np.empty_like(source)
    parallel_copy(target, source)  # compile (or load from cache) outside the timing
    return _rate(
        lambda: parallel_copy(target, source), 2 * COPY_BYTES / 1e9, cpu_loop_timer, _fastest
    )


def _read_rate() -> float:
    """GB/s of a reduction over at least 4x the last-level cache: every byte from memory."""
    from labench.machine.ceiling_kernels import parallel_sum

    source = np.random.default_rng(1).standard_normal(
        max(4 * last_level_cache().bytes, COPY_BYTES) // 8
    )
    parallel_sum(source)  # compile (or load from cache) outside the timing
    return _rate(lambda: parallel_sum(source), source.nbytes / 1e9, cpu_loop_timer, _fastest)


def _cpu_gemm_plateau(dtype: str) -> Plateau:
    """GEMM from CPU_GEMM_SIZE up, doubling, until the rate stops rising or a cap is hit: one
    1024 GEMM does not fill 16 cores, so the rate at one size is not the machine's roof."""
    itemsize = np.dtype(dtype).itemsize
    fits = int((available_memory() / (4 * 3 * itemsize)) ** 0.5)
    return gemm_plateau(
        lambda size: _gemm_rate(np, size, dtype, cpu_loop_timer, _fastest),
        lambda size: 2 * size**3 / 1e9,
        start=CPU_GEMM_SIZE,
        largest=min(LARGEST_CPU_GEMM, fits),
        budget=GEMM_SWEEP_SECONDS,
    )


def default_thread_counts() -> list[int]:
    """1, 2, 4, ... and every usable core: the counts suites usually sweep."""
    cores = usable_cores()
    return sorted({cores, *(2**power for power in range(cores.bit_length()) if 2**power < cores)})


def measure(thread_counts: Sequence[int], gpu: bool = True) -> Ceilings:
    environment = fingerprint()
    return Ceilings(
        machine_id=environment["machine_id"],
        measured=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        environment=environment,
        cpu=[measure_cpu(threads) for threads in thread_counts],
        gpu=measure_gpu() if gpu else None,
    )
