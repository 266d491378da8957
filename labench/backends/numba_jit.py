"""Numba on the host: its parallel pool is its own, so `threads` goes to set_num_threads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from labench.backends.base import Availability, HostBackend


class NumbaBackend(HostBackend):
    name = "numba"
    preload = ("numba",)
    """0.2-0.3 s of import per forked worker otherwise: more than measuring a case takes."""
    jit = True

    def availability(self) -> Availability:
        try:
            import numba
        except ImportError as error:
            return Availability(False, f"numba is not installed ({error})")
        return Availability(True, version=numba.__version__)

    @contextmanager
    def thread_limit(self, count: int) -> Iterator[dict[str, int]]:
        """Numba cannot start more threads than it was launched with (NUMBA_NUM_THREADS,
        default: the cores); asking for more runs with that many, and the result says so."""
        import numba

        before = numba.get_num_threads()
        # numba.config sets its options from the environment at import (globals().update),
        # so its stubs cannot declare them
        launched = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
        numba.set_num_threads(min(count, launched))
        try:
            yield {"numba": numba.get_num_threads()}
        finally:
            numba.set_num_threads(before)
