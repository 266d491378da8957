"""The kernels of deep learning on one core, on all cores, and on a GPU.

Every kernel has four implementations defined once in `KernelWorkload`: `numpy` (library calls,
BLAS threads), `numba` (plain loops on one core), `numba_parallel` (the same loops spread with
`prange`, or a blocked variant) and `cupy` (the NumPy code with CuPy as the array module).
A kernel supplies its operands, its array-module function, its Numba drivers and its counts.

Inputs are standard normal (never zeros, which can take fast paths), and the reference is the
array-module function run by NumPy in float64 on the very same values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from labench.core import dtypes as precision
from labench.core.errors import SkipCase
from labench.workloads import array_kernels
from labench.workloads.base import Inputs, Kernel, Param, Params, Workload, implementation
from labench.workloads.dask_products import CHUNKS, DaskSquareProduct

TRANSFERS = Param(False, bool, help="GPU only: host-to-device and back inside the timed region")


def host_vector(output: Any) -> np.ndarray:
    """One float64 host array from an output that may be a tuple (loss and gradients...)."""
    if isinstance(output, tuple):
        return np.concatenate([np.ravel(np.asarray(part, dtype=np.float64)) for part in output])
    return np.asarray(output)


def missing_kernels_skip(run: Callable[[], Any], operands: tuple[np.ndarray, ...]) -> Any:
    """In float16 or bfloat16, a CuPy that has no kernel of that type for a step (its bfloat16
    support is minimal: products, arithmetic, casts) fails at the first call; the case is then
    `skipped` with the library's words instead of being an `error` of labench's."""
    dtype = operands[0].dtype.name
    if dtype not in precision.NARROW:
        return run
    import cupy

    missing: tuple[type[Exception], ...] = (TypeError, NotImplementedError)
    compile_error = getattr(getattr(cupy.cuda, "compiler", None), "CompileException", None)
    if isinstance(compile_error, type) and issubclass(compile_error, Exception):
        missing += (compile_error,)

    def guarded() -> Any:
        try:
            return run()
        except missing as error:
            raise SkipCase(
                f"CuPy {cupy.__version__} cannot compute this in {dtype}: "
                f"{type(error).__name__}: {error}"
            ) from None

    return guarded


class KernelWorkload(Workload):
    """A kernel with NumPy, Numba (serial and parallel) and CuPy implementations."""

    dtypes = precision.DTYPES

    def operands(self, inputs: Inputs) -> tuple[np.ndarray, ...]:
        """The arrays the kernel reads, in the order `compute` and the Numba drivers take them."""
        raise NotImplementedError

    def compute(self, xp: Any, *operands: Any) -> Any:
        """The kernel through array-module library calls."""
        raise NotImplementedError

    def numba_drivers(self) -> tuple[str, str]:
        """Names in `numba_kernels` of the one-core and the parallel driver."""
        raise NotImplementedError

    def outputs(self, operands: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        """Zero-filled output arrays the Numba drivers accumulate into."""
        raise NotImplementedError

    def numba_result(self, outputs: tuple[np.ndarray, ...]) -> Any:
        """What the Numba run returns, shaped like `compute`'s result."""
        return outputs[0]

    def reduction_length(self, params: Params) -> int:
        """Longest sum in the kernel: rounding error grows with its square root."""
        return 1

    def reference(self, inputs: Inputs, params: Params) -> np.ndarray:
        wide = [
            a.astype(np.float64) if precision.is_floating(a.dtype) else a
            for a in self.operands(inputs)
        ]
        return host_vector(self.compute(np, *wide))

    def tolerance(self, params: Params, dtype: np.dtype) -> float:
        return precision.tolerance(dtype.name, self.reduction_length(params))

    @implementation("numpy")
    def numpy(self, inputs: Inputs, params: Params) -> Kernel:
        """Library calls (BLAS for the products, im2col for the convolution)."""
        operands = self.operands(inputs)
        return Kernel(lambda: self.compute(np, *operands), to_host=host_vector)

    @implementation("numba")
    def numba(self, inputs: Inputs, params: Params) -> Kernel:
        """Plain loops compiled by Numba, one core."""
        return self._numba(inputs, parallel=False)

    @implementation("numba")
    def numba_parallel(self, inputs: Inputs, params: Params) -> Kernel:
        """Numba loops spread over `threads` with prange."""
        return self._numba(inputs, parallel=True)

    def _numba(self, inputs: Inputs, parallel: bool) -> Kernel:
        from labench.workloads import numba_kernels

        driver = getattr(numba_kernels, self.numba_drivers()[parallel])
        operands = self.operands(inputs)
        narrow = operands[0].dtype.name
        if narrow in precision.NARROW:
            raise SkipCase(f"Numba compiles no {narrow} arithmetic on the CPU")

        def run() -> Any:
            outputs = self.outputs(operands)
            driver(*operands, *outputs)
            return self.numba_result(outputs)

        return Kernel(run, to_host=host_vector)

    @implementation("cupy")
    def cupy(self, inputs: Inputs, params: Params) -> Kernel:
        """The NumPy code with CuPy as the array module, on the GPU."""
        import cupy

        operands = self.operands(inputs)
        to_numpy: Callable[[Any], Any] = lambda out: (  # noqa: E731
            tuple(cupy.asnumpy(part) for part in out)
            if isinstance(out, tuple)
            else cupy.asnumpy(out)
        )
        metrics = {"transfers_timed": float(params["transfers"])}
        if params["transfers"]:

            def run() -> Any:
                return to_numpy(self.compute(cupy, *(cupy.asarray(a) for a in operands)))

            return Kernel(missing_kernels_skip(run, operands), metrics, to_host=host_vector)
        resident = [cupy.asarray(a) for a in operands]
        return Kernel(
            missing_kernels_skip(lambda: self.compute(cupy, *resident), operands),
            metrics,
            to_host=lambda out: host_vector(to_numpy(out)),
        )


class SquareProductWorkload(DaskSquareProduct, KernelWorkload):
    """A @ other for a square n x n A: `other` is n x n (matmul) or a vector (matvec); with an
    opt-in `dask` implementation on blocks of `chunks` (dask_products.py)."""

    params = {
        "n": Param(256, int, positive=True, help="matrix dimension"),
        "transfers": TRANSFERS,
        "chunks": CHUNKS,
    }

    def other_shape(self, n: int) -> tuple[int, ...]:
        raise NotImplementedError

    def make_inputs(self, params: Params, dtype: np.dtype, rng: np.random.Generator) -> Inputs:
        n = params["n"]
        return {
            "a": rng.standard_normal((n, n)).astype(dtype),
            "other": rng.standard_normal(self.other_shape(n)).astype(dtype),
        }

    def operands(self, inputs: Inputs) -> tuple[np.ndarray, ...]:
        return inputs["a"], inputs["other"]

    def compute(self, xp: Any, a: Any, other: Any) -> Any:
        return a @ other

    def outputs(self, operands: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        a, other = operands
        return (np.zeros(a.shape[:1] + other.shape[1:], dtype=a.dtype),)

    def reduction_length(self, params: Params) -> int:
        return params["n"]

    def bytes_moved(self, params: Params, itemsize: int) -> float:
        """Read A and the other operand, write the result: each once."""
        n = params["n"]
        other = int(np.prod(self.other_shape(n)))
        return float(n * n + 2 * other) * itemsize

    def bytes_written(self, params: Params, itemsize: int) -> float:
        """The result, as large as the other operand."""
        return float(np.prod(self.other_shape(params["n"]))) * itemsize

    def footprint(self, params: Params, itemsize: int) -> int:
        """Operands in their type and widened to float64 for the reference; the float64
        reference; the output, and the float64 copy and difference the check makes of it."""
        n = params["n"]
        operands = n * n + int(np.prod(self.other_shape(n)))
        result = n * int(np.prod(self.other_shape(n)[1:]))
        return operands * (itemsize + 8) + result * (itemsize + 24)

    def flops(self, params: Params) -> float:
        return 2.0 * params["n"] * int(np.prod(self.other_shape(params["n"])))


class MatmulWorkload(SquareProductWorkload):
    name = "kernels.matmul"
    summary = "C = A @ B for square n x n matrices"

    def other_shape(self, n: int) -> tuple[int, ...]:
        return (n, n)

    def numba_drivers(self) -> tuple[str, str]:
        return "matmul_serial", "matmul_blocked"


class MatvecWorkload(SquareProductWorkload):
    name = "kernels.matvec"
    summary = "y = A @ x for an n x n matrix (memory bound)"
    params = {
        **SquareProductWorkload.params,
        "n": Param(2048, int, positive=True, help="matrix dimension"),
    }

    def other_shape(self, n: int) -> tuple[int, ...]:
        return (n,)

    def numba_drivers(self) -> tuple[str, str]:
        return "matvec_serial", "matvec_parallel"


def filter_bank(count: int, rng: np.random.Generator) -> np.ndarray:
    """Edge detectors first (Sobel x and y, then a Laplacian), random 3 x 3 filters after:
    the hand-made feature extraction that convolutional layers learn to generalise."""
    sobel = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    laplacian = np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]])
    fixed = [sobel, sobel.T, laplacian]
    extra = [rng.standard_normal((3, 3)) for _ in range(max(0, count - len(fixed)))]
    return np.stack((fixed + extra)[:count])


class Conv2dWorkload(KernelWorkload):
    name = "kernels.conv2d"
    summary = "a batch of images through a 3x3 filter bank (Sobel, Laplacian, random)"
    params = {
        "batch": Param(16, int, positive=True, help="images"),
        "size": Param(128, int, minimum=3, help="image height and width"),
        "filters": Param(4, int, positive=True, help="filters in the bank"),
        "transfers": TRANSFERS,
    }

    def make_inputs(self, params: Params, dtype: np.dtype, rng: np.random.Generator) -> Inputs:
        size = params["size"]
        return {
            "images": rng.standard_normal((params["batch"], size, size)).astype(dtype),
            "filters": filter_bank(params["filters"], rng).astype(dtype),
        }

    def operands(self, inputs: Inputs) -> tuple[np.ndarray, ...]:
        return inputs["images"], inputs["filters"]

    def compute(self, xp: Any, images: Any, filters: Any) -> Any:
        return array_kernels.conv2d(xp, images, filters)

    def numba_drivers(self) -> tuple[str, str]:
        return "conv2d_serial", "conv2d_parallel"

    def outputs(self, operands: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        images, filters = operands
        rows, cols = images.shape[1] - filters.shape[1] + 1, images.shape[2] - filters.shape[2] + 1
        return (np.zeros((images.shape[0], filters.shape[0], rows, cols), dtype=images.dtype),)

    def reduction_length(self, params: Params) -> int:
        return 9

    def flops(self, params: Params) -> float:
        out = params["size"] - 2
        return 2.0 * 9 * params["batch"] * params["filters"] * out * out

    def bytes_moved(self, params: Params, itemsize: int) -> float:
        batch, size, filters = params["batch"], params["size"], params["filters"]
        return float(batch * size * size + batch * filters * (size - 2) ** 2) * itemsize

    def bytes_written(self, params: Params, itemsize: int) -> float:
        """The feature maps."""
        return float(params["batch"] * params["filters"] * (params["size"] - 2) ** 2) * itemsize

    def footprint(self, params: Params, itemsize: int) -> int:
        batch, size, filters = params["batch"], params["size"], params["filters"]
        return 12 * batch * size * size * filters * (itemsize + 8)


class DenseLayerWorkload(KernelWorkload):
    name = "kernels.dense_layer"
    summary = "forward and backward pass of y = tanh(X W + b): one layer's training step"
    params = {
        "batch": Param(256, int, positive=True, help="rows of X"),
        "n_in": Param(512, int, positive=True, help="input features"),
        "n_out": Param(512, int, positive=True, help="output features"),
        "transfers": TRANSFERS,
    }

    def make_inputs(self, params: Params, dtype: np.dtype, rng: np.random.Generator) -> Inputs:
        batch, n_in = params["batch"], params["n_in"]
        n_out: int = params["n_out"]
        return {
            "x": rng.standard_normal((batch, n_in)).astype(dtype),
            "w": (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(dtype),
            "b": rng.standard_normal(n_out).astype(dtype),
            "upstream": rng.standard_normal((batch, n_out)).astype(dtype),
        }

    def operands(self, inputs: Inputs) -> tuple[np.ndarray, ...]:
        return inputs["x"], inputs["w"], inputs["b"], inputs["upstream"]

    def compute(self, xp: Any, *operands: Any) -> Any:
        return array_kernels.dense_layer(xp, *operands)

    def numba_drivers(self) -> tuple[str, str]:
        return "dense_layer_serial", "dense_layer_parallel"

    def outputs(self, operands: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        x, w, b, upstream = operands
        return tuple(
            np.zeros(shape, dtype=x.dtype)
            for shape in (upstream.shape, upstream.shape, x.shape, w.shape, b.shape)
        )

    def numba_result(self, outputs: tuple[np.ndarray, ...]) -> Any:
        y, _, dx, dw, db = outputs
        return y, dx, dw, db

    def reduction_length(self, params: Params) -> int:
        return max(params["batch"], params["n_in"], params["n_out"])

    def flops(self, params: Params) -> float:
        return 6.0 * params["batch"] * params["n_in"] * params["n_out"]

    def bytes_moved(self, params: Params, itemsize: int) -> float:
        batch, n_in, n_out = params["batch"], params["n_in"], params["n_out"]
        return float(2 * (batch * n_in + n_in * n_out + 2 * batch * n_out)) * itemsize

    def bytes_written(self, params: Params, itemsize: int) -> float:
        """y, dx, dW and db."""
        batch, n_in, n_out = params["batch"], params["n_in"], params["n_out"]
        return float(batch * n_out + batch * n_in + n_in * n_out + n_out) * itemsize

    def footprint(self, params: Params, itemsize: int) -> int:
        batch, n_in, n_out = params["batch"], params["n_in"], params["n_out"]
        return 4 * (batch * n_in + n_in * n_out + 3 * batch * n_out) * (itemsize + 8)


class SoftmaxXentWorkload(KernelWorkload):
    name = "kernels.softmax_xent"
    summary = "row-wise softmax cross-entropy and its gradient, numerically stable"
    params = {
        "batch": Param(1024, int, positive=True, help="rows"),
        "classes": Param(1000, int, minimum=2, help="columns (classes)"),
        "transfers": TRANSFERS,
    }

    def make_inputs(self, params: Params, dtype: np.dtype, rng: np.random.Generator) -> Inputs:
        batch, classes = params["batch"], params["classes"]
        return {
            "logits": (3 * rng.standard_normal((batch, classes))).astype(dtype),
            "labels": rng.integers(0, classes, size=batch),
        }

    def operands(self, inputs: Inputs) -> tuple[np.ndarray, ...]:
        return inputs["logits"], inputs["labels"]

    def compute(self, xp: Any, logits: Any, labels: Any) -> Any:
        return array_kernels.softmax_xent(xp, logits, labels)

    def numba_drivers(self) -> tuple[str, str]:
        return "softmax_xent_serial", "softmax_xent_parallel"

    def outputs(self, operands: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        logits = operands[0]
        return np.zeros(logits.shape[0], dtype=logits.dtype), np.zeros_like(logits)

    def numba_result(self, outputs: tuple[np.ndarray, ...]) -> Any:
        losses, gradient = outputs
        return losses.mean(), gradient

    def reduction_length(self, params: Params) -> int:
        return max(params["batch"], params["classes"])

    def bytes_moved(self, params: Params, itemsize: int) -> float:
        return 2.0 * params["batch"] * params["classes"] * itemsize

    def bytes_written(self, params: Params, itemsize: int) -> float:
        """The gradient, as large as the logits."""
        return float(params["batch"] * params["classes"]) * itemsize

    def footprint(self, params: Params, itemsize: int) -> int:
        return 6 * params["batch"] * params["classes"] * (itemsize + 8)
