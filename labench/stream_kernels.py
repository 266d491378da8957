"""Numba kernels that stream memory from every thread: the cache eviction and the read roof.

Kept apart so that importing `labench.cache` (which the runner does) does not import Numba.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(parallel=True, cache=True)
def parallel_fill(target: np.ndarray, value: float) -> None:
    """Write every element, spread over the Numba threads: each core's caches fill with it."""
    for index in numba.prange(target.size):
        target[index] = value


@numba.njit(parallel=True, cache=True, fastmath=True)
def parallel_sum(source: np.ndarray) -> float:
    """Read every element once. fastmath lets the reduction vectorise with several
    accumulators; without it one add's latency per element, not memory, would set the rate."""
    total = 0.0
    for index in numba.prange(source.size):
        total += source[index]
    return total
