"""Dense kernels at the heart of every layer: matrix-matrix and matrix-vector products.

Inputs are standard normal (never zeros, which can take fast paths in some libraries), and the
reference is computed in float64 from the very same values the implementations see.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from labench.workloads.base import Inputs, Param, Params, Workload, implementation

_SIZE = Param(256, int, positive=True, help="matrix dimension (square n x n)")


class MatmulWorkload(Workload):
    name = "kernels.matmul"
    summary = "C = A @ B for square n x n matrices"
    params = {"n": _SIZE}

    def make_inputs(self, params: Params, dtype: np.dtype, rng: np.random.Generator) -> Inputs:
        n = params["n"]
        return {
            "a": rng.standard_normal((n, n)).astype(dtype),
            "b": rng.standard_normal((n, n)).astype(dtype),
        }

    def reference(self, inputs: Inputs, params: Params) -> np.ndarray:
        return inputs["a"].astype(np.float64) @ inputs["b"].astype(np.float64)

    def flops(self, params: Params) -> float:
        return 2.0 * params["n"] ** 3

    def bytes_moved(self, params: Params, itemsize: int) -> float:
        return 3.0 * params["n"] ** 2 * itemsize

    def footprint(self, params: Params, itemsize: int) -> int:
        return 3 * params["n"] ** 2 * (itemsize + 8)

    def tolerance(self, params: Params, dtype: np.dtype) -> float:
        return float(np.sqrt(params["n"]) * np.finfo(dtype).eps * 16)

    @implementation("numpy")
    def numpy(self, inputs: Inputs, params: Params) -> Callable[[], np.ndarray]:
        """NumPy `@`, i.e. the BLAS GEMM numpy links against."""
        a, b = inputs["a"], inputs["b"]
        return lambda: a @ b


class MatvecWorkload(Workload):
    name = "kernels.matvec"
    summary = "y = A @ x for an n x n matrix (memory bound)"
    params = {"n": Param(2048, int, positive=True, help="matrix dimension (square n x n)")}

    def make_inputs(self, params: Params, dtype: np.dtype, rng: np.random.Generator) -> Inputs:
        n = params["n"]
        return {
            "a": rng.standard_normal((n, n)).astype(dtype),
            "x": rng.standard_normal(n).astype(dtype),
        }

    def reference(self, inputs: Inputs, params: Params) -> np.ndarray:
        return inputs["a"].astype(np.float64) @ inputs["x"].astype(np.float64)

    def flops(self, params: Params) -> float:
        return 2.0 * params["n"] ** 2

    def bytes_moved(self, params: Params, itemsize: int) -> float:
        n = params["n"]
        return float(n * n + 2 * n) * itemsize

    def footprint(self, params: Params, itemsize: int) -> int:
        n = params["n"]
        return (n * n + 2 * n) * (itemsize + 8)

    def tolerance(self, params: Params, dtype: np.dtype) -> float:
        return float(np.sqrt(params["n"]) * np.finfo(dtype).eps * 16)

    @implementation("numpy")
    def numpy(self, inputs: Inputs, params: Params) -> Callable[[], np.ndarray]:
        """NumPy `@`, i.e. the BLAS GEMV numpy links against."""
        a, x = inputs["a"], inputs["x"]
        return lambda: a @ x
