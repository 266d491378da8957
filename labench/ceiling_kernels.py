"""The compiled loop behind the CPU memory roof, in its own module so that importing
`labench.ceilings` (every `labench` command does, for the roofline) does not import Numba."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(parallel=True, cache=True)
def parallel_copy(target: np.ndarray, source: np.ndarray) -> None:
    for index in numba.prange(source.size):
        target[index] = source[index]
