"""The `dask` implementation of the square products and the low-rank products: at what size does
splitting the work into blocks scheduled over workers start to pay off against one BLAS call, or
Numba's prange?

Mixed into `kernels.matmul` / `kernels.matvec` (through `SquareProductWorkload`) and
`lowrank.matvec` / `lowrank.matmul` (through `LowRankWorkload`), with their `chunks` parameter.
Both are marked so that nothing changes for suites written before them: `dask` is opt-in (a
benchmark without an `implementations` list does not start running it) and `chunks` left at its
default is not written into case keys (old results still compare). Dask is imported only when a
dask case is prepared.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from labench.workloads.base import Inputs, Kernel, Param, Params, implementation

CHUNKS = Param(
    0,
    int,
    minimum=0,
    help="dask only: block edge in rows and columns; 0: half of n (2 x 2 blocks)",
    in_key_at_default=False,
)


def block_edge(chunks: int, length: int) -> int:
    """The block edge `chunks` asks for along `length` (0: half of it, so 2 blocks)."""
    return chunks or max(1, math.ceil(length / 2))


def too_large(chunks: int, length: int, what: str) -> str | None:
    """Why a block edge cannot split `length`, or None."""
    return f"chunks ({chunks}) must be at most {what} ({length})" if chunks > length else None


class DaskSquareProduct:
    """The `dask` implementation of A @ other (a matrix or a vector), mixed into
    SquareProductWorkload, whose `operands` it uses."""

    def impossible(self: Any, params: Params) -> str | None:
        return too_large(params["chunks"], params["n"], "n")

    @implementation("dask", opt_in=True)
    def dask(self: Any, inputs: Inputs, params: Params) -> Kernel:
        """dask.array blocks of `chunks` (opt-in: runs only where a suite lists it)."""
        import dask.array as da

        n = params["n"]
        edge = block_edge(params["chunks"], n)
        a, other = self.operands(inputs)
        blocked_a = da.from_array(a, chunks=(edge, edge))
        blocked_other = da.from_array(other, chunks=(edge,) * other.ndim)

        def run() -> Any:
            return (blocked_a @ blocked_other).compute()

        tasks = len((blocked_a @ blocked_other).__dask_graph__())
        blocks = math.ceil(n / edge)
        return Kernel(run, {"chunk_edge": float(edge), "blocks": float(blocks**2), "tasks": tasks})


class DaskLowRank:
    """The `dask` implementation of a low-rank product, mixed into LowRankWorkload, whose
    `shape` and `_factored` (checks and metrics shared with rsvd) it uses."""

    def impossible(self: Any, params: Params) -> str | None:
        return too_large(params["chunks"], self.shape(params)[0], "the rows of A")

    @implementation("dask", opt_in=True)
    def dask(self: Any, inputs: Inputs, params: Params) -> Kernel:
        """dask.array.linalg.svd_compressed on row blocks of `chunks`, applied like rsvd (opt-in)
        (its cost is `factor_time`)."""
        import dask
        import dask.array as da

        from labench.workloads.lowrank import SKETCH_SEED

        a = inputs["a"]
        edge = block_edge(params["chunks"], a.shape[0])
        start = time.perf_counter()
        factors = da.linalg.svd_compressed(
            da.from_array(a, chunks=(edge, a.shape[1])),
            params["rank"],
            n_power_iter=params["power_iters"],
            n_oversamples=params["oversample"],
            seed=SKETCH_SEED,
        )
        u, values, vt = dask.compute(*factors)
        factor_time = time.perf_counter() - start
        kernel = self._factored(np, inputs, params, (u, values, vt), factor_time)
        kernel.metrics |= {"chunk_edge": float(edge), "blocks": float(math.ceil(a.shape[0] / edge))}
        return kernel
