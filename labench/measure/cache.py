"""Cold-cache measurement: how big the last-level cache is, and how to empty it between calls.

A warm benchmark calls its kernel back to back, so from the second call on a matrix that fits
in the last-level cache (LLC) is read from cache, not from memory: a 1000 x 1000 float64 matvec
then "beats" the DRAM bandwidth. A cold benchmark evicts the cache before every timed call by
writing a buffer of twice the LLC from as many threads as there are usable cores (private L2s
hold data too, and a non-inclusive L3 does not evict them), or on a GPU by a memset of an
L2-sized buffer allocated once. The eviction runs between samples, never inside the timer, and
a cold sample is a single call, so the clock's resolution must be far below one call's time.
"""

from __future__ import annotations

import functools
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labench.core.clock import LoopTimer
from labench.core.host import allowed_cpus, usable_cores
from labench.measure.timing import CLOCK_RESOLUTION, Measurement, Policy, sample

RESOLUTION_FACTOR = 1000
"""A cold call must last at least this many clock ticks, or its time is mostly rounding."""
FALLBACK_LLC_BYTES = 64 * 2**20
"""Used only where the OS does not say: larger than the LLC of most single-socket machines, so
an eviction sized from it still evicts."""
SYSFS_CPUS = Path("/sys/devices/system/cpu")


@dataclass(frozen=True)
class LastLevelCache:
    bytes: int
    source: str
    """Where the size came from: 'sysfs', 'sysconf', 'sysctl' or 'fallback'."""


def _sysfs_size(text: str) -> int:
    """'32768K' -> bytes, as the kernel writes cache sizes."""
    text = text.strip()
    scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:].upper(), 1)
    return int(text.rstrip("KMGkmg")) * scale


def llc_from_sysfs(root: Path, cpus: set[int]) -> int | None:
    """Total bytes of the highest cache level over the CPUs this process may use: each
    instance counted once (by the CPUs sharing it), so two sockets count two L3s."""
    instances: dict[str, int] = {}
    best_level = 0
    for cpu in sorted(cpus):
        for index in sorted((root / f"cpu{cpu}" / "cache").glob("index*")):
            try:
                if (index / "type").read_text().strip() == "Instruction":
                    continue
                level = int((index / "level").read_text())
                size = _sysfs_size((index / "size").read_text())
                shared = (index / "shared_cpu_list").read_text().strip() or str(cpu)
            except (OSError, ValueError):
                continue
            if level > best_level:
                best_level, instances = level, {}
            if level == best_level:
                instances[shared] = size
    return sum(instances.values()) or None


@functools.cache
def last_level_cache() -> LastLevelCache:
    """The LLC size as the OS reports it (Linux sysfs, glibc sysconf, macOS sysctl)."""
    if SYSFS_CPUS.exists():
        found = llc_from_sysfs(SYSFS_CPUS, allowed_cpus())
        if found:
            return LastLevelCache(found, "sysfs")
    for name in ("SC_LEVEL3_CACHE_SIZE", "SC_LEVEL2_CACHE_SIZE"):
        try:
            value = os.sysconf(name)
        except (ValueError, OSError, AttributeError):
            continue
        if value > 0:
            return LastLevelCache(value, "sysconf")
    if sys.platform == "darwin":
        for name in ("hw.l3cachesize", "hw.l2cachesize"):
            done = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True)
            if done.returncode == 0 and done.stdout.strip().isdigit() and int(done.stdout) > 0:
                return LastLevelCache(int(done.stdout), "sysctl")
    return LastLevelCache(FALLBACK_LLC_BYTES, "fallback")


class CpuEvictor:
    """Writes a buffer of twice the LLC, one slice per usable core, each from its own thread;
    the buffer and the threads are made once. NumPy's copy releases the GIL, so the slices
    are written in parallel, and each core's private caches fill with its slice."""

    def __init__(self, llc_bytes: int | None = None) -> None:
        size = 2 * (llc_bytes or last_level_cache().bytes)
        self.slices = np.array_split(np.zeros(size // 8), usable_cores())
        self.pool = ThreadPoolExecutor(max_workers=len(self.slices))
        self.value = 0.0

    def __call__(self) -> None:
        self.value += 1.0  # a new value each time, so no write can be skipped as a no-op
        list(self.pool.map(lambda part: np.copyto(part, self.value), self.slices))


class GpuL2Flusher:
    """A memset of an L2-sized device buffer, allocated once and reused (as nvbench does), so
    the flush allocates nothing per call. The CUDA-event timer synchronises before its start
    event, so the memset is finished before the timed call begins."""

    def __init__(self, cupy: Any) -> None:
        self.l2_bytes = int(cupy.cuda.Device().attributes["L2CacheSize"])
        self.buffer = cupy.empty(max(self.l2_bytes, 1), dtype=cupy.uint8)

    def __call__(self) -> None:
        self.buffer.data.memset_async(0, self.buffer.nbytes)


@functools.cache
def evictor(backend: str) -> Callable[[], None]:
    """What empties the cache that `backend`'s kernels read through; made once per process
    (its buffer and threads are reused by every cold case)."""
    if backend == "cupy":
        import cupy

        return GpuL2Flusher(cupy)
    return CpuEvictor()


class TooShortForColdTiming(Exception):
    """A cold call too short for the clock: its single-call time would be mostly rounding."""


def check_resolution(seconds: float, resolution: float) -> None:
    """Refuse a cold call shorter than RESOLUTION_FACTOR clock ticks."""
    if seconds < RESOLUTION_FACTOR * resolution:
        raise TooShortForColdTiming(
            f"a cold call takes {seconds:.3g} s, under {RESOLUTION_FACTOR}x the clock's "
            f"resolution ({resolution:.3g} s): one call per sample cannot be timed honestly; "
            "use a larger size or cache: warm"
        )


def cold_sample(
    function: Callable[[], Any],
    policy: Policy,
    timer: LoopTimer,
    backend: str,
    watch: AbstractContextManager[object] | None = None,
) -> Measurement:
    """One call per sample, each after an eviction done outside the timer; refused (before the
    sampling is spent) when one cold call is too short for the clock, and checked again on the
    median, which is what the result will quote. `watch` is entered around the samples."""
    evict = evictor(backend)
    evict()
    check_resolution(timer(function, 1), CLOCK_RESOLUTION)
    measurement = sample(function, policy, timer, before_each=evict, watch=watch)
    check_resolution(statistics.median(measurement.samples), CLOCK_RESOLUTION)
    return measurement


def cache_resident(moved: float | None, mode: str, backend: str) -> float | None:
    """1.0 when a warm host case's working set (the bytes one call reads and writes) fits in
    the last-level cache, so its data may come from cache rather than memory; 0.0 when it
    cannot (too big, or evicted before each call); None when the workload gives no byte count,
    or for a GPU case (its L2 is not the host's LLC and is not judged here)."""
    if backend == "cupy" or not moved:
        return None
    if mode == "cold":
        return 0.0
    return 1.0 if moved <= last_level_cache().bytes else 0.0
