"""Thread limits that really apply, and proof that they did.

"One core" must mean one thread everywhere: BLAS and OpenMP pools through threadpoolctl, plus
whatever a backend adds (Numba's own pool). After setting a limit we read the pools back, so a
library that ignored the request shows up in the result instead of silently skewing a speedup.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from threadpoolctl import ThreadpoolController


@dataclass(frozen=True)
class ThreadState:
    """What the native thread pools report while a limit is in force."""

    requested: int
    pools: dict[str, int]


_scanned: dict[int, ThreadpoolController] = {}


def _controller() -> ThreadpoolController:
    """threadpoolctl's handle on the loaded native pools, kept between cases: building one scans
    every loaded library (3-5 ms, per case in a sweep of small cases). It is rebuilt when Python
    has imported modules since the scan, because a native pool arrives with an import (NumPy's
    BLAS, Numba's OpenMP or TBB layer on its first parallel call)."""
    imported = len(sys.modules)
    if imported not in _scanned:
        _scanned.clear()
        _scanned[imported] = ThreadpoolController()
    return _scanned[imported]


def pool_threads(controller: ThreadpoolController) -> dict[str, int]:
    """Current thread count of each native pool, keyed `user_api:internal_api`."""
    return {
        f"{pool['user_api']}:{pool['internal_api']}": int(pool["num_threads"])
        for pool in controller.info()
    }


@contextmanager
def limit_threads(count: int) -> Iterator[ThreadState]:
    """Limit every BLAS and OpenMP pool to `count` threads and report what they accepted."""
    controller = _controller()
    with controller.limit(limits=count):
        yield ThreadState(requested=count, pools=pool_threads(controller))
