"""Gradients of deep-learning losses: finite differences vs the analytic gradient.

Every loss is written once and accepts complex input (no abs, conj or real-only ufuncs), so
finite differences and the complex step differentiate exactly the function the analytic
gradient is derived from. Finite differences evaluate the real loss n+1 or 2n times in a plain
loop, as a user would: vectorising them would measure something else.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labench.workloads import array_kernels
from labench.workloads.base import Inputs, Kernel, Param, Params, Workload, implementation

EPS = np.finfo(np.float64).eps
COMPLEX_STEP = 1e-20
FD_TOLERANCE = 1e-3
"""Finite differences are approximations: beyond this relative error a gradient is wrong."""


def softplus(xp: Any, t: Any) -> Any:
    """log(1 + e^t), stable for large |t| and analytic, so it also takes a complex step.

    Equal to np.logaddexp(0, t) for real t, which cannot take complex input.
    """
    positive = t.real > 0
    shifted = xp.where(positive, -t, t)  # real part <= 0: exp cannot overflow
    return xp.log1p(xp.exp(shifted)) + xp.where(positive, t, 0)


def expit(xp: Any, t: Any) -> Any:
    """The logistic function 1 / (1 + e^-t) as exp(-softplus(-t)): stable for either sign of t
    and the same code for every array module (SciPy's expit is host-only)."""
    return xp.exp(-softplus(xp, -t))


def logsumexp_rows(xp: Any, z: Any) -> Any:
    """Row-wise log-sum-exp, shifted by the real row maximum (a constant, so still analytic)."""
    shift = z.real.max(axis=1, keepdims=True)
    return xp.log(xp.exp(z - shift).sum(axis=1)) + shift[:, 0]


class GradientWorkload(Workload):
    """A scalar loss of a flat parameter vector w, with data fixed by the seed.

    Loss and gradient are written once against an array module `xp`: the `numpy`
    implementations run them on the host, the `cupy_` ones on the GPU with the data resident
    there, so "analytic beats finite differences" is judged on both.
    """

    dtypes = ("float64",)
    dtypes_reason = (
        "finite differences need float64: their step error is about sqrt(eps) of the type, "
        "3% in float16 and 9% in bfloat16, past any useful tolerance"
    )
    params = {
        "n": Param(64, int, positive=True, help="number of features (parameters)"),
        "samples": Param(256, int, positive=True, help="batch size m"),
        "h": Param(
            None,
            float,
            positive=True,
            optional=True,
            help="finite-difference step; default: each method's optimal step",
        ),
        "l2": Param(0.0, float, minimum=0.0, help="L2 regularisation strength"),
    }

    def loss(self, xp: Any, w: Any, data: Inputs, params: Params) -> Any:
        raise NotImplementedError

    def gradient(self, xp: Any, w: Any, data: Inputs, params: Params) -> Any:
        raise NotImplementedError

    def parameter_count(self, params: Params) -> int:
        return params["n"]

    def reference(self, inputs: Inputs, params: Params) -> np.ndarray:
        return self.gradient(np, inputs["w"], inputs, params)

    def footprint(self, params: Params, itemsize: int) -> int:
        return 4 * 16 * params["samples"] * self.parameter_count(params)

    def _metrics(
        self, params: Params, evaluations: int, steps: np.ndarray | None
    ) -> dict[str, float]:
        metrics = {
            "evaluations": float(evaluations),
            "parameters": float(self.parameter_count(params)),
        }
        if steps is not None:
            metrics["step"] = float(np.median(steps))
        return metrics

    def _steps(self, w: np.ndarray, params: Params, optimal: float) -> np.ndarray:
        if params["h"] is not None:
            return np.full_like(w, params["h"])
        return optimal * np.maximum(1.0, np.abs(w))

    @staticmethod
    def _resident(xp: Any, inputs: Inputs) -> dict[str, Any]:
        """The data as arrays of `xp` (on the device for CuPy), moved once, before timing."""
        return {
            name: xp.asarray(value) if isinstance(value, np.ndarray) else value
            for name, value in inputs.items()
        }

    @implementation("numpy")
    def analytic(self, inputs: Inputs, params: Params) -> Kernel:
        """Closed form / backpropagation, vectorised."""
        return self._analytic(np, inputs, params)

    @implementation("numpy", tolerance=FD_TOLERANCE)
    def fd_forward(self, inputs: Inputs, params: Params) -> Kernel:
        """(f(w + h e_i) - f(w)) / h: n + 1 loss evaluations, error O(h) + O(eps/h)."""
        return self._fd_forward(np, inputs, params)

    @implementation("numpy", tolerance=FD_TOLERANCE)
    def fd_central(self, inputs: Inputs, params: Params) -> Kernel:
        """(f(w + h e_i) - f(w - h e_i)) / 2h: 2n loss evaluations, error O(h^2) + O(eps/h)."""
        return self._fd_central(np, inputs, params)

    @implementation("numpy", tolerance=FD_TOLERANCE)
    def complex_step(self, inputs: Inputs, params: Params) -> Kernel:
        """Im f(w + i h e_i) / h: n complex loss evaluations, no cancellation, so h can be tiny."""
        w = inputs["w"]
        steps = (
            np.full_like(w, params["h"])
            if params["h"] is not None
            else np.full_like(w, COMPLEX_STEP)
        )

        def run() -> np.ndarray:
            moved = w.astype(np.complex128)
            gradient = np.empty_like(w)
            for i in range(w.size):
                moved[i] = complex(w[i], steps[i])
                gradient[i] = self.loss(np, moved, inputs, params).imag / steps[i]
                moved[i] = w[i]
            return gradient

        return Kernel(run, self._metrics(params, w.size, steps))

    @implementation("cupy")
    def cupy_analytic(self, inputs: Inputs, params: Params) -> Kernel:
        """The analytic gradient on the GPU, data resident there."""
        import cupy

        return self._analytic(cupy, inputs, params)

    @implementation("cupy", tolerance=FD_TOLERANCE)
    def cupy_fd_forward(self, inputs: Inputs, params: Params) -> Kernel:
        """Forward differences on the GPU: n + 1 loss evaluations, each a few kernel launches."""
        import cupy

        return self._fd_forward(cupy, inputs, params)

    @implementation("cupy", tolerance=FD_TOLERANCE)
    def cupy_fd_central(self, inputs: Inputs, params: Params) -> Kernel:
        """Central differences on the GPU: 2n loss evaluations."""
        import cupy

        return self._fd_central(cupy, inputs, params)

    def _analytic(self, xp: Any, inputs: Inputs, params: Params) -> Kernel:
        data = self._resident(xp, inputs)
        w = data["w"]
        return Kernel(
            lambda: self.gradient(xp, w, data, params),
            self._metrics(params, 0, None),
            to_host=array_kernels.to_numpy(xp),
        )

    def _fd_forward(self, xp: Any, inputs: Inputs, params: Params) -> Kernel:
        data, host_w = self._resident(xp, inputs), inputs["w"]
        w = data["w"]
        steps = self._steps(host_w, params, np.sqrt(EPS))

        def run() -> Any:
            base = self.loss(xp, w, data, params)
            moved = w.copy()
            gradient = xp.empty_like(w)
            for i in range(w.size):
                up = host_w[i] + steps[i]
                moved[i] = up
                gradient[i] = (self.loss(xp, moved, data, params) - base) / (up - host_w[i])
                moved[i] = host_w[i]  # the division above used the step really taken
            return gradient

        return Kernel(
            run, self._metrics(params, w.size + 1, steps), to_host=array_kernels.to_numpy(xp)
        )

    def _fd_central(self, xp: Any, inputs: Inputs, params: Params) -> Kernel:
        data, host_w = self._resident(xp, inputs), inputs["w"]
        w = data["w"]
        steps = self._steps(host_w, params, EPS ** (1 / 3))

        def run() -> Any:
            moved = w.copy()
            gradient = xp.empty_like(w)
            for i in range(w.size):
                up, down = host_w[i] + steps[i], host_w[i] - steps[i]
                moved[i] = up
                ahead = self.loss(xp, moved, data, params)
                moved[i] = down
                gradient[i] = (ahead - self.loss(xp, moved, data, params)) / (up - down)
                moved[i] = host_w[i]
            return gradient

        return Kernel(
            run, self._metrics(params, 2 * w.size, steps), to_host=array_kernels.to_numpy(xp)
        )


class LeastSquares(GradientWorkload):
    name = "gradients.least_squares"
    summary = "f(w) = ||Xw - y||^2 / 2m + l2/2 ||w||^2 (linear regression)"

    def make_inputs(self, params: Params, dtype: np.dtype, rng: np.random.Generator) -> Inputs:
        n, m = params["n"], params["samples"]
        x = rng.standard_normal((m, n)) / np.sqrt(n)
        truth = rng.standard_normal(n)
        return {"x": x, "y": x @ truth + 0.1 * rng.standard_normal(m), "w": rng.standard_normal(n)}

    def loss(self, xp: Any, w: Any, data: Inputs, params: Params) -> Any:
        residual = data["x"] @ w - data["y"]
        return residual @ residual / (2 * len(residual)) + params["l2"] / 2 * (w @ w)

    def gradient(self, xp: Any, w: Any, data: Inputs, params: Params) -> Any:
        x = data["x"]
        return x.T @ (x @ w - data["y"]) / len(x) + params["l2"] * w


class Logistic(GradientWorkload):
    name = "gradients.logistic"
    summary = "mean log(1 + exp(-y x.w)) + l2/2 ||w||^2, labels +-1 (logistic regression)"

    def make_inputs(self, params: Params, dtype: np.dtype, rng: np.random.Generator) -> Inputs:
        n, m = params["n"], params["samples"]
        x = rng.standard_normal((m, n)) / np.sqrt(n)
        margin = x @ rng.standard_normal(n) + 0.3 * rng.standard_normal(m)
        return {"x": x, "y": np.where(margin > 0, 1.0, -1.0), "w": rng.standard_normal(n)}

    def loss(self, xp: Any, w: Any, data: Inputs, params: Params) -> Any:
        margins = -data["y"] * (data["x"] @ w)
        return softplus(xp, margins).mean() + params["l2"] / 2 * (w @ w)

    def gradient(self, xp: Any, w: Any, data: Inputs, params: Params) -> Any:
        x, y = data["x"], data["y"]
        weight = -y * expit(xp, -y * (x @ w))  # d softplus(-y z) / dz
        return x.T @ weight / len(x) + params["l2"] * w


class TwoLayerPerceptron(GradientWorkload):
    """tanh hidden layer, softmax cross-entropy output; w holds W1, b1, W2, b2 flattened."""

    name = "gradients.mlp"
    summary = "two-layer perceptron (tanh, softmax cross-entropy), gradient by backpropagation"
    params = {
        **GradientWorkload.params,
        "n": Param(16, int, positive=True, help="hidden width"),
        "features": Param(16, int, positive=True, help="input features"),
        "classes": Param(4, int, minimum=2, help="output classes"),
    }

    def parameter_count(self, params: Params) -> int:
        hidden, features, classes = params["n"], params["features"], params["classes"]
        return features * hidden + hidden + hidden * classes + classes

    def _unpack(self, xp: Any, w: Any, params: Params) -> tuple[Any, ...]:
        hidden, features, classes = params["n"], params["features"], params["classes"]
        cuts = [features * hidden, features * hidden + hidden]
        cuts.append(cuts[-1] + hidden * classes)
        w1, b1, w2, b2 = xp.split(w, cuts)
        return w1.reshape(features, hidden), b1, w2.reshape(hidden, classes), b2

    def make_inputs(self, params: Params, dtype: np.dtype, rng: np.random.Generator) -> Inputs:
        features, m = params["features"], params["samples"]
        w = rng.standard_normal(self.parameter_count(params)) / np.sqrt(features)
        return {
            "x": rng.standard_normal((m, features)),
            "labels": rng.integers(0, params["classes"], size=m),
            "w": w,
        }

    def loss(self, xp: Any, w: Any, data: Inputs, params: Params) -> Any:
        w1, b1, w2, b2 = self._unpack(xp, w, params)
        logits = xp.tanh(data["x"] @ w1 + b1) @ w2 + b2
        picked = logits[xp.arange(len(logits)), data["labels"]]
        return (logsumexp_rows(xp, logits) - picked).mean() + params["l2"] / 2 * (
            (w1 * w1).sum() + (w2 * w2).sum()
        )

    def gradient(self, xp: Any, w: Any, data: Inputs, params: Params) -> Any:
        w1, b1, w2, b2 = self._unpack(xp, w, params)
        x, rows = data["x"], xp.arange(len(data["x"]))
        hidden = xp.tanh(x @ w1 + b1)
        logits = hidden @ w2 + b2
        probabilities = xp.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        probabilities[rows, data["labels"]] -= 1.0
        d_logits = probabilities / len(x)
        d_hidden = (d_logits @ w2.T) * (1.0 - hidden**2)
        return xp.concatenate(
            [
                (x.T @ d_hidden + params["l2"] * w1).ravel(),
                d_hidden.sum(axis=0),
                (hidden.T @ d_logits + params["l2"] * w2).ravel(),
                d_logits.sum(axis=0),
            ]
        )
