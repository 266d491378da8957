"""Dense vs low-rank matrices: parameters, memory, time and accuracy of y = A x and Y = A X.

A rank-k factorisation A ~ U (S V^T) stores k(m + n) numbers instead of mn and applies in
2k(m + n) flops instead of 2mn, at an accuracy loss the Eckart-Young theorem bounds from below:
no rank-k matrix is closer to A in Frobenius norm than the truncated SVD. Every case reports
that optimum (`error_optimal`) next to the error the method reached (`error_rel`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from labench.core import dtypes as precision
from labench.core.arrays import resident_bytes
from labench.core.errors import SkipCase
from labench.workloads import array_kernels
from labench.workloads.base import (
    Inputs,
    Kernel,
    Param,
    Params,
    Workload,
    WrongAnswer,
    implementation,
)
from labench.workloads.dask_products import CHUNKS, DaskLowRank

SPECTRA = ("exp", "poly", "flat", "image")
QUALITY_SLACK = 1.5
"""A factorisation farther than this from the Eckart-Young optimum is reported wrong."""


def orthonormal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.sign(np.diag(r))


def bundled_image() -> np.ndarray:
    """The grayscale photograph matplotlib ships as sample data (600 x 512), read offline."""
    try:
        from matplotlib import cbook, image
    except ImportError:
        raise SkipCase("matrix 'image' needs matplotlib: pip install 'labench[plot]'") from None
    pixels = image.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    return pixels[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114]) / 255.0


def spectrum_matrix(
    kind: str, rows: int, cols: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A float64 matrix with a controlled spectrum, and its singular values."""
    if kind == "image":
        photo = bundled_image()
        if rows > photo.shape[0] or cols > photo.shape[1]:
            raise SkipCase(
                f"the bundled image is {photo.shape[0]} x {photo.shape[1]}; "
                f"{rows} x {cols} does not fit in it"
            )
        matrix = np.ascontiguousarray(photo[:rows, :cols])
        return matrix, np.linalg.svd(matrix, compute_uv=False)
    if kind == "flat":
        matrix = rng.standard_normal((rows, cols)) / np.sqrt(cols)
        return matrix, np.linalg.svd(matrix, compute_uv=False)
    size = min(rows, cols)
    index = np.arange(size)
    values = np.exp(-index / (0.05 * size)) if kind == "exp" else 1.0 / (1.0 + index)
    matrix = (orthonormal(rng, rows, size) * values) @ orthonormal(rng, cols, size).T
    return matrix, values


def optimal_error(singular_values: np.ndarray, rank: int) -> float:
    """Eckart-Young: the smallest ||A - A_k||_F / ||A||_F over all rank-k matrices."""
    squares = singular_values**2
    return float(np.sqrt(squares[rank:].sum() / squares.sum()))


def randomized_svd(
    xp: Any, a: Any, rank: int, oversample: int, power_iters: int, rng: np.random.Generator
) -> tuple[Any, Any, Any]:
    """Halko, Martinsson and Tropp (2011), algorithms 4.4 and 5.1: a Gaussian sketch of
    rank + oversample columns, power iterations re-orthonormalised by QR each half-step (so
    small singular values are not lost to rounding), then an exact SVD of the small projection.
    Written against the array module `xp`; the sketch comes from the host generator, so NumPy
    and CuPy factor with the same random numbers."""
    width = min(rank + oversample, min(a.shape))
    sketch = xp.asarray(rng.standard_normal((a.shape[1], width)).astype(a.dtype))
    basis, _ = xp.linalg.qr(a @ sketch)
    for _ in range(power_iters):
        basis, _ = xp.linalg.qr(a.T @ basis)
        basis, _ = xp.linalg.qr(a @ basis)
    small_u, values, vt = xp.linalg.svd(basis.T @ a, full_matrices=False)
    return basis @ small_u[:, :rank], values[:rank], vt[:rank]


def factorizable(xp: Any, a: Any) -> Any:
    """LAPACK and cuSOLVER have no 16-bit SVD or QR: a float16 or bfloat16 matrix is factored
    in float32, and its factors are stored back in its own type."""
    return a if a.dtype.name in ("float32", "float64") else a.astype(np.float32)


class LowRankWorkload(DaskLowRank, Workload):
    """Shared by the product workloads; subclasses say what the matrix multiplies.

    Every implementation is written once against an array module: `numpy` ones on the host,
    `cupy_` ones on the GPU with the matrix, the factors and the operand resident there.
    In float16 and bfloat16 the factors are computed in float32 and stored and applied in the
    case's type: the compressed weights of a network served in low precision.
    """

    dtypes = precision.DTYPES
    params = {
        "n": Param(1000, int, positive=True, help="columns of A"),
        "m": Param(None, int, positive=True, optional=True, help="rows of A (default n)"),
        "rank": Param(50, int, positive=True, help="rank k of the factored form"),
        "matrix": Param("exp", str, choices=SPECTRA, help="spectrum of A"),
        "oversample": Param(10, int, minimum=0, help="extra sketch columns (randomized SVD)"),
        "power_iters": Param(2, int, minimum=0, help="power iterations (randomized SVD)"),
        "chunks": CHUNKS,
    }

    def operand(self, params: Params, dtype: np.dtype, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def batch(self, params: Params) -> int:
        return 1

    @staticmethod
    def shape(params: Params) -> tuple[int, int]:
        return (params["m"] or params["n"], params["n"])

    def make_inputs(self, params: Params, dtype: np.dtype, rng: np.random.Generator) -> Inputs:
        rows, cols = self.shape(params)
        if params["rank"] > min(rows, cols):
            raise SkipCase(f"rank {params['rank']} exceeds min(m, n) = {min(rows, cols)}")
        matrix, values = spectrum_matrix(params["matrix"], rows, cols, rng)
        return {
            "a": matrix.astype(dtype),
            "x": self.operand(params, dtype, rng),
            "singular_values": values,
        }

    def reference(self, inputs: Inputs, params: Params) -> np.ndarray:
        return inputs["a"].astype(np.float64) @ inputs["x"].astype(np.float64)

    def footprint(self, params: Params, itemsize: int) -> int:
        rows, cols = self.shape(params)
        return rows * cols * (itemsize + 5 * 8) + 4 * (rows + cols) * self.batch(params) * 8

    def tolerance(self, params: Params, dtype: np.dtype) -> float:
        return precision.tolerance(dtype.name, params["n"])

    def _common(self, inputs: Inputs, params: Params) -> dict[str, float]:
        rows, cols = self.shape(params)
        return {
            "error_optimal": optimal_error(inputs["singular_values"], params["rank"]),
            "params_dense": float(rows * cols),
        }

    @implementation("numpy")
    def dense(self, inputs: Inputs, params: Params) -> Kernel:
        """The full matrix, BLAS product: mn parameters, 2mn flops per column."""
        return self._dense(np, inputs, params)

    @implementation("numpy")
    def svd(self, inputs: Inputs, params: Params) -> Kernel:
        """Exact truncated SVD (LAPACK gesdd), applied as U (S V^T) x."""
        return self._svd(np, inputs, params)

    @implementation("numpy")
    def rsvd(self, inputs: Inputs, params: Params) -> Kernel:
        """Randomized SVD (Halko-Martinsson-Tropp), applied as U (S V^T) x."""
        return self._rsvd(np, inputs, params)

    @implementation("cupy")
    def cupy_dense(self, inputs: Inputs, params: Params) -> Kernel:
        """The full matrix on the GPU, cuBLAS product."""
        import cupy

        return self._dense(cupy, inputs, params)

    @implementation("cupy")
    def cupy_svd(self, inputs: Inputs, params: Params) -> Kernel:
        """Truncated SVD on the GPU (cupy.linalg.svd, cuSOLVER); factors resident there."""
        import cupy

        return self._svd(cupy, inputs, params)

    @implementation("cupy")
    def cupy_rsvd(self, inputs: Inputs, params: Params) -> Kernel:
        """Randomized SVD on the GPU; factors resident there."""
        import cupy

        return self._rsvd(cupy, inputs, params)

    def _dense(self, xp: Any, inputs: Inputs, params: Params) -> Kernel:
        a, x = xp.asarray(inputs["a"]), xp.asarray(inputs["x"])
        rows, cols = self.shape(params)
        metrics = self._common(inputs, params) | {
            "params": float(rows * cols),
            "params_ratio": 1.0,
            "bytes_stored": float(a.nbytes),
            "bytes_resident": float(resident_bytes([a])),
            "error_rel": 0.0,
            "flops": 2.0 * rows * cols * self.batch(params),
        }
        return Kernel(lambda: a @ x, metrics, to_host=array_kernels.to_numpy(xp))

    def _svd(self, xp: Any, inputs: Inputs, params: Params) -> Kernel:
        a = factorizable(xp, xp.asarray(inputs["a"]))
        start = time.perf_counter()
        u, values, vt = xp.linalg.svd(a, full_matrices=False)
        array_kernels.synchronize(xp)
        factor_time = time.perf_counter() - start
        k = params["rank"]
        return self._factored(xp, inputs, params, (u[:, :k], values[:k], vt[:k]), factor_time)

    def _rsvd(self, xp: Any, inputs: Inputs, params: Params) -> Kernel:
        a = factorizable(xp, xp.asarray(inputs["a"]))
        rng = np.random.default_rng(array_kernels.SKETCH_SEED)
        start = time.perf_counter()
        factors = randomized_svd(
            xp, a, params["rank"], params["oversample"], params["power_iters"], rng
        )
        array_kernels.synchronize(xp)
        factor_time = time.perf_counter() - start
        return self._factored(xp, inputs, params, factors, factor_time)

    def _factored(
        self,
        xp: Any,
        inputs: Inputs,
        params: Params,
        factors: tuple[Any, Any, Any],
        factor_time: float,
    ) -> Kernel:
        """Store U and S V^T (k(m + n) numbers) in the case's type; check the factors before
        anything is timed."""
        dtype = inputs["a"].dtype
        u, values, vt = factors
        u = xp.ascontiguousarray(u).astype(dtype)
        weights = xp.ascontiguousarray(values[:, None] * vt).astype(dtype)
        x = xp.asarray(inputs["x"])
        to_host = array_kernels.to_numpy(xp)
        a64, x64 = inputs["a"].astype(np.float64), inputs["x"].astype(np.float64)
        u64, weights64 = to_host(u).astype(np.float64), to_host(weights).astype(np.float64)
        approximation_error = float(np.linalg.norm(a64 - u64 @ weights64) / np.linalg.norm(a64))
        expected = u64 @ (weights64 @ x64)
        dense_product = a64 @ x64
        rows, cols = self.shape(params)
        k = params["rank"]
        metrics = self._common(inputs, params) | {
            "params": float(k * (rows + cols)),
            "params_ratio": k * (rows + cols) / (rows * cols),
            "bytes_stored": float(u.nbytes + weights.nbytes),
            "bytes_resident": float(resident_bytes([u, weights])),
            "factor_time": factor_time,
            "error_rel": approximation_error,
            "error_product": float(
                np.linalg.norm(expected - dense_product) / np.linalg.norm(dense_product)
            ),
            "flops": 2.0 * k * (rows + cols) * self.batch(params),
        }
        bound = QUALITY_SLACK * metrics["error_optimal"] + 100 * precision.epsilon(dtype.name)
        if approximation_error > bound:
            raise WrongAnswer(
                f"rank-{k} reconstruction error {approximation_error:.3g} is beyond "
                f"{QUALITY_SLACK}x the Eckart-Young optimum {metrics['error_optimal']:.3g}"
            )
        return Kernel(lambda: u @ (weights @ x), metrics, to_host=to_host, expected=expected)


class LowRankMatvec(LowRankWorkload):
    name = "lowrank.matvec"
    summary = "y = A x with A dense or factored as U (S V^T)"

    def operand(self, params: Params, dtype: np.dtype, rng: np.random.Generator) -> Any:
        n: int = params["n"]
        return rng.standard_normal(n).astype(dtype)


class LowRankMatmul(LowRankWorkload):
    name = "lowrank.matmul"
    summary = "Y = A X for a batch of columns X, with A dense or factored"
    params = {**LowRankWorkload.params, "batch": Param(64, int, positive=True, help="columns of X")}

    def batch(self, params: Params) -> int:
        return params["batch"]

    def operand(self, params: Params, dtype: np.dtype, rng: np.random.Generator) -> Any:
        return rng.standard_normal((params["n"], params["batch"])).astype(dtype)
