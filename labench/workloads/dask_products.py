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
import uuid
from typing import Any

import numpy as np

from labench.core.errors import SkipCase
from labench.workloads.base import Inputs, Kernel, Param, Params, at_scale, implementation

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

    @at_scale("dask")
    def dask_at_scale(self: Any, params: Params, dtype: np.dtype, seed: int) -> Kernel:
        """The same product on inputs this host cannot hold: they are drawn on the cluster,
        block by block (standard normal, from `seed`), never as one host array, and the
        output is checked there too (`error_on_cluster`)."""
        import dask.array as da

        from labench.backends.dask_cluster import current

        placement = current()
        n = params["n"]
        need = self.footprint_at_scale(params, dtype.itemsize)
        if need > placement.memory:
            raise SkipCase(
                f"needs {need / 2**30:.2f} GiB on the dask workers it may use, which report "
                f"{placement.memory / 2**30:.2f} GiB"
            )
        edge = block_edge(params["chunks"], n)
        draw = da.random.default_rng(seed)
        a, other = (
            placement.persist(draw.standard_normal(shape, chunks=edge).astype(dtype))
            for shape in ((n, n), self.other_shape(n))
        )
        kernel = chunked_product(placement, a, other)
        kernel.error_in_place = lambda output: placement.gather(
            error_on_cluster(a, other, output, seed)
        )
        kernel.metrics["input_bytes"] = float(a.nbytes + other.nbytes)
        return kernel

    def footprint_at_scale(self: Any, params: Params, itemsize: int) -> int:
        """A, the other operand and the result, in the case's type, on the cluster (the check
        only adds vectors and one block at a time in float64)."""
        n = params["n"]
        other = math.prod(self.other_shape(n))
        return (n * n + 2 * other) * itemsize


def error_on_cluster(a: Any, other: Any, output: Any, seed: int) -> Any:
    """The output's relative error, as a dask scalar computed on the cluster in float64.

    A vector output (matvec) is compared with A x computed blockwise in float64 another way
    (row sums of A * x: never the same keys, or the same arithmetic, as the output). A matrix
    output C of A B is too large to recompute, so Freivalds' check compares C r with A (B r)
    for a random vector r: O(n^2) work instead of O(n^3), and a wrong C almost surely moves
    C r (a relative error of order 1), while a right one differs only by rounding.
    """
    import dask.array as da

    wide = [x.astype(np.float64) for x in (a, other, output)]
    if other.ndim == 1:
        got, expected = wide[2], (wide[0] * wide[1][None, :]).sum(axis=1)
    else:
        probe = da.random.default_rng(seed + 1).standard_normal(
            other.shape[1], chunks=other.chunks[1]
        )
        got, expected = wide[2] @ probe, wide[0] @ (wide[1] @ probe)
    return da.linalg.norm(got - expected) / da.linalg.norm(expected)


def same(block: Any) -> Any:
    """A task that hands its block on unchanged (no copy): see `chunked_product`."""
    return block


def chunked_product(placement: Any, a: Any, other: Any) -> Kernel:
    """The product of two dask arrays held on the case's workers, computed and held there by
    each call. Every call builds and schedules the graph, so the first call and every sample
    pay for it: it is what a user of dask pays. The output stays on the cluster, as NumPy's
    stays in this process's memory; the check brings it here.

    Each call's graph has fresh keys: with the same keys the scheduler would find the last
    call's result still held by the workers (its release is asynchronous) and hand it back
    without computing (measured: 3 ms instead of 100 ms for n = 1024). Renaming A's blocks
    costs one no-op task per block (dask.graph_manipulation.clone loses the matvec's blocks).
    """

    def call_graph() -> Any:
        fresh = a.map_blocks(same, dtype=a.dtype, name=f"labench-call-{uuid.uuid4().hex}")
        return fresh @ other

    def run() -> Any:
        return placement.persist(call_graph())

    metrics = placement.metrics() | {
        "chunk_edge": float(a.chunksize[0]),
        "blocks": float(math.prod(a.numblocks)),
        "tasks": float(len(call_graph().__dask_graph__())),
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
        from labench.workloads.array_kernels import SKETCH_SEED

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
