"""Workloads whose allocations are known exactly, for the peak-memory tests."""

import numba
import numpy as np

from labench import Param, Workload, implementation


@numba.njit(cache=True)
def _allocate_inside(count, n):
    """k arrays of n float64 made by Numba's runtime, all alive together."""
    arrays = [np.full(n, float(index + 1)) for index in range(count)]
    total = 0.0
    for array in arrays:
        total += array[0]
    return total


class Allocating(Workload):
    """Allocates `arrays` arrays of `n` float64, all alive at once, then returns a scalar."""

    name = "test.allocating"
    params = {"n": Param(100_000, int, positive=True), "arrays": Param(3, int, positive=True)}

    def make_inputs(self, params, dtype, rng):
        return {"x": rng.standard_normal(10).astype(dtype) + 5}

    def reference(self, inputs, params):
        count = params["arrays"]
        return np.array([count * (count + 1) / 2])

    @implementation("numpy")
    def numpy(self, inputs, params):
        count, n = params["arrays"], params["n"]

        def run():
            arrays = [np.full(n, float(index + 1)) for index in range(count)]
            return np.array([sum(array[0] for array in arrays)])

        return run

    @implementation("numba")
    def numba(self, inputs, params):
        count, n = params["arrays"], params["n"]
        return lambda: np.array([_allocate_inside(count, n)])
