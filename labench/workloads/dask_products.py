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
        """dask.array blocks of `chunks` on a dask.distributed cluster (opt-in)."""
        import dask.array as da

        from labench.backends.dask_cluster import current

        placement = current()
        edge = block_edge(params["chunks"], params["n"])
        a, other = (
            placement.persist(da.from_array(x, chunks=(edge,) * x.ndim))
            for x in self.operands(inputs)
        )
        return chunked_product(placement, a, other)


def chunked_product(placement: Any, a: Any, other: Any) -> Kernel:
    """The product of two dask arrays held on the case's workers, computed and held there by
    each call. Every call builds and schedules the graph, so the first call and every sample
    pay for it: it is what a user of dask pays. The output stays on the cluster, as NumPy's
    stays in this process's memory; the check brings it here."""

    def run() -> Any:
        return placement.persist(a @ other)

    metrics = placement.metrics() | {
        "chunk_edge": float(a.chunksize[0]),
        "blocks": float(math.prod(a.numblocks)),
        "tasks": float(len((a @ other).__dask_graph__())),
    }
    return Kernel(run, metrics, to_host=placement.gather)


class DaskLowRank:
    """The `dask` implementation of a low-rank product, mixed into LowRankWorkload, whose
    `shape` and `_factored` (checks and metrics shared with rsvd) it uses."""

    def impossible(self: Any, params: Params) -> str | None:
        return too_large(params["chunks"], self.shape(params)[0], "the rows of A")

    @implementation("dask", opt_in=True)
    def dask(self: Any, inputs: Inputs, params: Params) -> Kernel:
        """dask.array.linalg.svd_compressed on row blocks of `chunks` on a dask.distributed
        cluster, applied like rsvd on this host (opt-in); its cost is `factor_time`."""
        import dask.array as da

        from labench.backends.dask_cluster import current
        from labench.workloads.lowrank import SKETCH_SEED

        placement = current()
        a = inputs["a"]
        edge = block_edge(params["chunks"], a.shape[0])
        start = time.perf_counter()
        factors = da.linalg.svd_compressed(
            placement.persist(da.from_array(a, chunks=(edge, a.shape[1]))),
            params["rank"],
            n_power_iter=params["power_iters"],
            n_oversamples=params["oversample"],
            seed=SKETCH_SEED,
        )
        u, values, vt = placement.gather(*factors)
        factor_time = time.perf_counter() - start
        kernel = self._factored(np, inputs, params, (u, values, vt), factor_time)
        blocks = float(math.ceil(a.shape[0] / edge))
        kernel.metrics |= placement.metrics() | {"chunk_edge": float(edge), "blocks": blocks}
        return kernel
