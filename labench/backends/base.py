"""What every execution backend answers: can it run here, how to pin its threads, how to time.

The runner applies threadpoolctl's BLAS/OpenMP limit for every case; a backend adds the thread
control of pools threadpoolctl does not know (Numba's) and says which clock times its work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from labench.core.clock import LoopTimer, cpu_loop_timer
from labench.core.dtypes import DEFAULT_MATH


@dataclass(frozen=True)
class Availability:
    """A first-class yes/no: a backend that cannot run says why, and its cases are skipped
    with that reason instead of crashing the run."""

    available: bool
    reason: str = ""
    version: str | None = None


class Backend(Protocol):
    """Read-only members: backends give them as class attributes (functions as staticmethods),
    which a read-only protocol member matches with their own, narrower types."""

    @property
    def name(self) -> str: ...

    @property
    def loop_timer(self) -> LoopTimer: ...

    @property
    def preload(self) -> tuple[str, ...]:
        """Modules a forked worker process would otherwise import for each case of this backend:
        imported once in the fork server instead (execution/isolated.py)."""
        ...

    @property
    def jit(self) -> bool:
        """Whether a fresh process must load (or compile) a kernel's code at its first call, which
        makes re-measuring a case in fresh processes costly (confirm.py orders suspects by it)."""
        ...

    @property
    def synchronized(self) -> Callable[[Callable[[], Any]], Callable[[], Any]] | None:
        """For asynchronous devices: wraps a call so it returns only when the device is done, for
        a second, host wall-clock measurement next to the device clock's. None on the host."""
        ...

    def availability(self) -> Availability:
        """Probe whether this backend can run on this machine (called once, cached)."""
        ...

    @property
    def math_modes(self) -> tuple[str, ...]:
        """The `math` settings this backend can honour; other cases are skipped with the reason."""
        ...

    def thread_limit(self, count: int) -> AbstractContextManager[dict[str, int]]:
        """Apply this backend's own thread control; yield the thread count of each pool it set,
        as read back, so the result shows what really ran."""
        ...

    def precision(self, dtype: str, math: str) -> AbstractContextManager[dict[str, str]]:
        """Put the library in the case's math mode for the case's duration; yield what the
        library reports it computes in (empty where it reports nothing)."""
        ...


@runtime_checkable
class ComputesElsewhere(Protocol):
    """A backend that computes on machines of its own (dask's cluster): the suite checks sizes
    against their memory, worker processes of a run share the one cluster the run uses, and the
    run lets it go when it ends."""

    def memory(self) -> tuple[int, str]:
        """Bytes of memory the backend computes in, and where that is, in words."""
        ...

    def share_with_workers(self, environment: Mapping[str, str]) -> dict[str, str]:
        """Environment variables that make a run's worker processes, which will have
        `environment`, use what this process uses (starting it if need be)."""
        ...

    def release(self) -> None:
        """Let go of what the run held (a no-op when nothing was started)."""
        ...

    def local_processes(self) -> list[int]:
        """Processes on this machine computing the current case for this one (a LocalCluster's
        workers): the contention check counts their CPU time as the case's own."""
        ...


@contextmanager
def no_extra_thread_control(count: int) -> Iterator[dict[str, int]]:
    """For backends whose threads are all in pools that threadpoolctl already limits."""
    yield {}


@contextmanager
def no_precision_control(dtype: str, math: str) -> Iterator[dict[str, str]]:
    """For host libraries: they compute in the arrays' own type and have no math modes."""
    yield {}


class HostBackend:
    """What every backend on the host CPU shares: the CPU clock, no device to wait for, and
    arithmetic in the arrays' own type (no math modes)."""

    loop_timer = staticmethod(cpu_loop_timer)
    preload: tuple[str, ...] = ()
    jit = False
    synchronized = None
    math_modes = (DEFAULT_MATH,)
    precision = staticmethod(no_precision_control)
