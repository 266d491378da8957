"""Other processes on the cores labench measures on: found, recorded, never ignored.

A benchmark that shares its cores measures the neighbour as much as the kernel: on the 2-core
development VM, one other single-threaded process turned a 50 us two-thread matmul into 5 ms
+-30%. Linux counts every core's busy, idle and steal time in /proc/stat; subtracting this
process's own CPU time (all of its threads, BLAS and Numba pools included) from the busy time of
the cores it may run on leaves what everyone else used. Steal is time the hypervisor gave to
other virtual machines. Elsewhere (no /proc/stat) the load average is all there is.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from labench.core.host import TICK, allowed_cpus, process_seconds

PROC_STAT = "/proc/stat"
SPARE_CORES_SLACK = 0.25
"""Others may use this much of a core, beyond their share of the cores a case leaves idle,
before it counts (daemons, the terminal)."""
SPARE_CORE_SHARE = 0.5
"""How much of a core a case leaves idle others may take unnoticed: half, because a process on
the next core still competes for the shared cache and memory bandwidth. Measured here: with one
other benchmark busy on the second of two cores, one-thread Numba matvecs ran 15-25% slower."""
STEAL_LIMIT = 0.05
"""Fraction of the cores' time stolen by the hypervisor beyond which a case counts as contended."""


@dataclass(frozen=True)
class CpuTimes:
    """Seconds of CPU time on the allowed cores, and this process's own, at one moment."""

    wall: float
    busy: float
    steal: float
    own: float


def snapshot(cpus: set[int] | None = None, helpers: Sequence[int] = ()) -> CpuTimes | None:
    """Now, or None where the OS does not report per-core times. `helpers` are processes that
    work for this one (a LocalCluster's workers computing a dask case): their CPU time is the
    case's own, not a neighbour's."""
    wanted = {f"cpu{index}" for index in (cpus if cpus is not None else allowed_cpus())}
    busy = steal = 0.0
    try:
        with open(PROC_STAT, encoding="ascii") as stream:
            for line in stream:
                name, *fields = line.split()
                if name not in wanted:
                    continue
                user, nice, system, _idle, _iowait, irq, softirq, stolen = (
                    int(value) for value in (fields + ["0"] * 8)[:8]
                )
                busy += user + nice + system + irq + softirq
                steal += stolen
    except OSError:
        return None
    own = time.process_time() + sum(process_seconds(pid) for pid in helpers)
    return CpuTimes(time.perf_counter(), busy / TICK, steal / TICK, own)


@dataclass(frozen=True)
class Contention:
    """What other processes and the hypervisor took from the allowed cores over an interval."""

    others_cores: float
    """Mean number of cores other processes kept busy."""
    steal: float
    """Fraction of the cores' time stolen by the hypervisor."""
    seconds: float

    def contended(self, threads: int, cores: int) -> bool:
        """Did others take cores (or the cache and memory bandwidth) that the case's `threads`
        needed? On two cores, one other busy process contends with a one-thread case too;
        on sixteen, it does not; any steal beyond STEAL_LIMIT does."""
        spare = max(cores - threads, 0)
        allowance = SPARE_CORES_SLACK + SPARE_CORE_SHARE * spare
        return self.others_cores > allowance or self.steal > STEAL_LIMIT

    def describe(self, cores: int) -> str:
        text = f"other processes used {self.others_cores:.1f} of {cores} cores"
        if self.steal > 0.005:
            text += f", the hypervisor stole {self.steal:.0%}"
        return text


def between(before: CpuTimes | None, after: CpuTimes | None, cores: int) -> Contention | None:
    """Contention over the interval between two snapshots; None where it cannot be known."""
    if before is None or after is None:
        return None
    wall = after.wall - before.wall
    if wall <= 0:
        return None
    others = (after.busy - before.busy) - (after.own - before.own)
    stolen = (after.steal - before.steal) / (wall * cores)
    return Contention(
        others_cores=min(max(others / wall, 0.0), float(cores)),
        steal=min(max(stolen, 0.0), 1.0),
        seconds=wall,
    )


def probe(seconds: float = 0.25) -> Contention | None:
    """Contention while this process sleeps for `seconds`: a look before a run starts."""
    cpus = allowed_cpus()
    before = snapshot(cpus)
    time.sleep(seconds)
    return between(before, snapshot(cpus), len(cpus))


def load_per_core() -> float | None:
    """The 1-minute load average per allowed core, where the OS reports one."""
    try:
        return os.getloadavg()[0] / len(allowed_cpus())
    except (AttributeError, OSError):
        return None
