"""What every execution backend answers: can it run here, and how to pin its threads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Availability:
    """A first-class yes/no: a backend that cannot run says why, and its cases are skipped
    with that reason instead of crashing the run."""

    available: bool
    reason: str = ""
    version: str | None = None


class Backend(Protocol):
    name: str

    def availability(self) -> Availability:
        """Probe once whether this backend can run on this machine."""
        ...

    def thread_limit(self, count: int) -> AbstractContextManager[None]:
        """Apply this backend's own thread control on top of the BLAS/OpenMP limit."""
        ...


@contextmanager
def no_extra_thread_control(count: int) -> Iterator[None]:
    """For backends whose threads are all in pools that threadpoolctl already limits."""
    yield
