"""The square products and the low-rank products again, split into blocks for dask: at what
size does scheduling blocks over workers start to pay off against one BLAS call, or Numba's
prange?

`scaleout.matmul`, `scaleout.matvec`, `scaleout.lowrank_matvec` and `scaleout.lowrank_matmul` are
`kernels.matmul`, `kernels.matvec`, `lowrank.matvec` and `lowrank.matmul` with every
implementation of theirs plus `dask`, and a `chunks` parameter. They are separate workloads so
that the built-in ones keep their case keys (a `chunks` parameter would add `chunks=...` to every
existing key, and old results would no longer compare) and so that suites naming them without an
implementation list do not start running dask cases.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from labench.workloads.base import Inputs, Kernel, Param, Params, Workload, implementation
from labench.workloads.kernels import MatmulWorkload, MatvecWorkload, SquareProductWorkload
from labench.workloads.lowrank import SKETCH_SEED, LowRankMatmul, LowRankMatvec, LowRankWorkload

CHUNKS = Param(
    0, int, minimum=0, help="dask block edge in rows and columns; 0: half of n (2 x 2 blocks)"
)


def block_edge(chunks: int, length: int) -> int:
    """The block edge `chunks` asks for along `length` (0: half of it, so 2 blocks)."""
    return chunks or max(1, math.ceil(length / 2))


def too_large(chunks: int, length: int, what: str) -> str | None:
    """Why a block edge cannot split `length`, or None."""
    return f"chunks ({chunks}) must be at most {what} ({length})" if chunks > length else None


class ChunkedProduct(SquareProductWorkload):
    """A square product with a `dask` implementation."""

    def impossible(self, params: Params) -> str | None:
        return too_large(params["chunks"], params["n"], "n")

    @implementation("dask")
    def dask(self, inputs: Inputs, params: Params) -> Kernel:
        """dask.array blocks multiplied by dask's threaded scheduler, one worker per thread.
        Every call builds and schedules the graph, so the first call and every sample include
        that overhead: it is what a user of dask pays."""
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


class ChunkedLowRank(LowRankWorkload):
    """A low-rank product whose factors come from dask's randomized SVD."""

    def impossible(self, params: Params) -> str | None:
        return too_large(params["chunks"], self.shape(params)[0], "the rows of A")

    @implementation("dask")
    def dask(self, inputs: Inputs, params: Params) -> Kernel:
        """dask.array.linalg.svd_compressed on row blocks of `chunks` (the randomized SVD at
        cluster scale), applied as U (S V^T) x like `rsvd`; its cost is `factor_time`."""
        import dask
        import dask.array as da

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


def with_dask(mixin: type[Workload], base: type[Workload], name: str) -> type[Workload]:
    """`base` plus the `dask` implementation of `mixin` and its `chunks` parameter, as `name`."""
    return type(
        name.replace(".", "_"),
        (mixin, base),
        {
            "name": name,
            "summary": f"{base.name}, plus dask with blocks of `chunks`",
            "params": {**base.params, "chunks": CHUNKS},
        },
    )


ScaleOutMatmul = with_dask(ChunkedProduct, MatmulWorkload, "scaleout.matmul")
ScaleOutMatvec = with_dask(ChunkedProduct, MatvecWorkload, "scaleout.matvec")
ScaleOutLowRankMatvec = with_dask(ChunkedLowRank, LowRankMatvec, "scaleout.lowrank_matvec")
ScaleOutLowRankMatmul = with_dask(ChunkedLowRank, LowRankMatmul, "scaleout.lowrank_matmul")

__all__ = ["ScaleOutLowRankMatmul", "ScaleOutLowRankMatvec", "ScaleOutMatmul", "ScaleOutMatvec"]
