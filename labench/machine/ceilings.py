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
from pathlib import Path
from typing import Any, Literal

import numpy as np
from platformdirs import user_cache_dir
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labench.backends import BACKENDS
from labench.core.clock import LoopTimer, cpu_loop_timer
from labench.core.errors import InputError
from labench.core.files import read_json
from labench.core.host import available_memory, usable_cores
from labench.machine.gpu_ceilings import GpuCeiling
from labench.machine.gpu_ceilings import measure as measure_gpu
from labench.machine.roofs import Plateau, attainable, gemm_plateau
from labench.measure.cache import last_level_cache
from labench.measure.environment import fingerprint
from labench.measure.threads import limit_threads
from labench.measure.timing import Policy, sample
from labench.results.model import CaseResult, Result, write_atomically

SCHEMA = "labench.ceilings/1"
POLICY = Policy(max_time=1.5, target_rel_ci=0.01, min_samples=5, warmup=0.2)
CPU_GEMM_SIZE = 1024
GEMM_DTYPES = ("float64", "float32")
COPY_BYTES = 256 * 2**20
"""Bytes per copied array: far beyond any CPU cache."""
GEMM_SWEEP_SECONDS = 30.0
"""Time cap of one CPU GEMM size sweep (one thread count, one dtype)."""
LARGEST_CPU_GEMM = 32768


class Ceiling(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threads: int = Field(description="host threads; 0 for a GPU")
    gflops_float64: float
    gflops_float32: float
    gbps: float = Field(description="copy bandwidth, bytes read + written per second / 1e9")
    gbps_read: float | None = Field(
        None, description="read bandwidth (a reduction over 4x the last-level cache), GB/s"
    )
    gemm_sizes: dict[str, int] = Field(
        default_factory=dict, description="per dtype: the GEMM size where the rate plateaus"
    )
    gemm_capped: list[str] = Field(
        default_factory=list,
        description="dtypes whose size sweep hit its time or memory cap before the plateau",
    )

    def peak(self, dtype: str, math: str) -> float | None:
        """The host's GEMM roof for a case's dtype; none measured for the 16-bit types."""
        return {"float64": self.gflops_float64, "float32": self.gflops_float32}.get(dtype)


class Ceilings(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["labench.ceilings/1"] = Field(SCHEMA, alias="schema")
    machine_id: str
    measured: str
    environment: dict[str, Any]
    cpu: list[Ceiling]
    gpu: GpuCeiling | None = None

    def for_case(self, case: CaseResult) -> Ceiling | GpuCeiling | None:
        if case.backend == "cupy":
            return self.gpu
        return next((c for c in self.cpu if c.threads == case.threads), None)


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


def _gemm_rates(xp: Any, size: int, timer: LoopTimer) -> dict[str, float]:
    return {f"gflops_{dtype}": _gemm_rate(xp, size, dtype, timer) for dtype in GEMM_DTYPES}


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


def cache_path(machine_id: str) -> Path:
    return Path(user_cache_dir("labench")) / f"ceilings-{machine_id}.json"


def save(ceilings: Ceilings) -> Path:
    path = cache_path(ceilings.machine_id)
    write_atomically(path, ceilings.model_dump_json(by_alias=True, indent=1) + "\n")
    return path


def load(machine_id: str) -> Ceilings | None:
    """This machine's stored ceilings, None if it was never calibrated; a damaged file is an
    InputError naming it and the command that rewrites it."""
    path = cache_path(machine_id)
    if not path.exists():
        return None
    try:
        return Ceilings.model_validate(read_json(path, "a labench ceilings file"))
    except (ValidationError, InputError):
        raise InputError(
            f"{path}: damaged ceilings file; run `labench calibrate` to measure them again"
        ) from None


def roofline_fraction(case: CaseResult, ceiling: Ceiling | GpuCeiling) -> float | None:
    """Achieved / attainable GFLOP/s, attainable = min(peak, intensity x bandwidth), with the
    bandwidth roof matching the case's reads and writes (`labench.machine.roofs.attainable`)."""
    flops, moved, achieved = (case.metrics.get(name) for name in ("flops", "bytes", "gflops"))
    peak = ceiling.peak(case.dtype, case.math)
    if not (flops and moved and achieved and peak):
        return None
    return achieved / attainable(
        flops=flops,
        moved=moved,
        written=case.metrics.get("bytes_written"),
        peak=peak,
        read_roof=getattr(ceiling, "gbps_read", None),
        copy_roof=ceiling.gbps,
    )


def add_roofline(result: Result, ceilings: Ceilings | None) -> None:
    """Give every measured case with flops and bytes its `roofline_frac`."""
    if ceilings is None:
        return
    for case in result.cases:
        ceiling = ceilings.for_case(case)
        if case.status == "ok" and ceiling is not None:
            fraction = roofline_fraction(case, ceiling)
            if fraction is not None:
                case.metrics["roofline_frac"] = fraction
