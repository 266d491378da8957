"""The compiled loops behind the CPU memory roofs (copy and read), in their own module so that
importing `labench.machine.ceilings` (every `labench` command does, for the roofline) does not
import Numba."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(parallel=True, cache=True)
def parallel_copy(target: np.ndarray, source: np.ndarray) -> None:
    for index in numba.prange(source.size):
        target[index] = source[index]


@numba.njit(parallel=True, cache=True, fastmath=True)
def parallel_sum(source: np.ndarray) -> float:
    """Read every element once. fastmath lets the reduction vectorise with several
    accumulators; without it one add's latency per element, not memory, would set the rate."""
    total = 0.0
    for index in numba.prange(source.size):
        total += source[index]
    return total
