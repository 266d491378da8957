"""Gradients of deep-learning losses: finite differences vs the analytic gradient.

Every loss is written once and accepts complex input (no abs, conj or real-only ufuncs), so
finite differences and the complex step differentiate exactly the function the analytic
gradient is derived from. Finite differences evaluate the real loss n+1 or 2n times in a plain
loop, as a user would: vectorising them would measure something else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from labench.workloads.base import Inputs, Kernel, Param, Params, Workload, implementation

EPS = np.finfo(np.float64).eps
COMPLEX_STEP = 1e-20
FD_TOLERANCE = 1e-3
"""Finite differences are approximations: beyond this relative error a gradient is wrong."""


def softplus(t: np.ndarray) -> np.ndarray:
    """log(1 + e^t), stable for large |t| and analytic, so it also takes a complex step.

    Equal to np.logaddexp(0, t) for real t, which cannot take complex input.
    """
    positive = t.real > 0
    shifted = np.where(positive, -t, t)  # real part <= 0: exp cannot overflow
    return np.log1p(np.exp(shifted)) + np.where(positive, t, 0)


def logsumexp_rows(z: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp, shifted by the real row maximum (a constant, so still analytic)."""
    shift = z.real.max(axis=1, keepdims=True)
    return np.log(np.exp(z - shift).sum(axis=1)) + shift[:, 0]


class GradientWorkload(Workload):
    """A scalar loss of a flat parameter vector w, with data fixed by the seed."""

    dtypes = ("float64",)
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

    def loss(self, w: np.ndarray, data: Inputs, params: Params) -> Any:
        raise NotImplementedError

    def gradient(self, w: np.ndarray, data: Inputs, params: Params) -> np.ndarray:
        raise NotImplementedError

    def parameter_count(self, params: Params) -> int:
        return params["n"]

    def reference(self, inputs: Inputs, params: Params) -> np.ndarray:
        return self.gradient(inputs["w"], inputs, params)

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

    def _loss_of(self, inputs: Inputs, params: Params) -> Callable[[np.ndarray], Any]:
        return lambda w: self.loss(w, inputs, params)

    @implementation("numpy")
    def analytic(self, inputs: Inputs, params: Params) -> Kernel:
        """Closed form / backpropagation, vectorised."""
        w = inputs["w"]
        return Kernel(lambda: self.gradient(w, inputs, params), self._metrics(params, 0, None))

    @implementation("numpy", tolerance=FD_TOLERANCE)
    def fd_forward(self, inputs: Inputs, params: Params) -> Kernel:
        """(f(w + h e_i) - f(w)) / h: n + 1 loss evaluations, error O(h) + O(eps/h)."""
        w, loss = inputs["w"], self._loss_of(inputs, params)
        steps = self._steps(w, params, np.sqrt(EPS))

        def run() -> np.ndarray:
            base = loss(w)
            moved = w.copy()
            gradient = np.empty_like(w)
            for i in range(w.size):
                moved[i] = w[i] + steps[i]
                gradient[i] = (loss(moved) - base) / (moved[i] - w[i])  # the step really taken
                moved[i] = w[i]
            return gradient

        return Kernel(run, self._metrics(params, w.size + 1, steps))

    @implementation("numpy", tolerance=FD_TOLERANCE)
    def fd_central(self, inputs: Inputs, params: Params) -> Kernel:
        """(f(w + h e_i) - f(w - h e_i)) / 2h: 2n loss evaluations, error O(h^2) + O(eps/h)."""
        w, loss = inputs["w"], self._loss_of(inputs, params)
        steps = self._steps(w, params, EPS ** (1 / 3))

        def run() -> np.ndarray:
            moved = w.copy()
            gradient = np.empty_like(w)
            for i in range(w.size):
                moved[i] = w[i] + steps[i]
                ahead, up = loss(moved), moved[i]
                moved[i] = w[i] - steps[i]
                gradient[i] = (ahead - loss(moved)) / (up - moved[i])
                moved[i] = w[i]
            return gradient

        return Kernel(run, self._metrics(params, 2 * w.size, steps))

    @implementation("numpy", tolerance=FD_TOLERANCE)
    def complex_step(self, inputs: Inputs, params: Params) -> Kernel:
        """Im f(w + i h e_i) / h: n complex loss evaluations, no cancellation, so h can be tiny."""
        w, loss = inputs["w"], self._loss_of(inputs, params)
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
                gradient[i] = loss(moved).imag / steps[i]
                moved[i] = w[i]
            return gradient

        return Kernel(run, self._metrics(params, w.size, steps))


class LeastSquares(GradientWorkload):
    name = "gradients.least_squares"
    summary = "f(w) = ||Xw - y||^2 / 2m + l2/2 ||w||^2 (linear regression)"

    def make_inputs(self, params: Params, dtype: np.dtype, rng: np.random.Generator) -> Inputs:
        n, m = params["n"], params["samples"]
        x = rng.standard_normal((m, n)) / np.sqrt(n)
        truth = rng.standard_normal(n)
        return {"x": x, "y": x @ truth + 0.1 * rng.standard_normal(m), "w": rng.standard_normal(n)}

    def loss(self, w: np.ndarray, data: Inputs, params: Params) -> Any:
        residual = data["x"] @ w - data["y"]
        return residual @ residual / (2 * len(residual)) + params["l2"] / 2 * (w @ w)

    def gradient(self, w: np.ndarray, data: Inputs, params: Params) -> np.ndarray:
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

    def loss(self, w: np.ndarray, data: Inputs, params: Params) -> Any:
        return softplus(-data["y"] * (data["x"] @ w)).mean() + params["l2"] / 2 * (w @ w)

    def gradient(self, w: np.ndarray, data: Inputs, params: Params) -> np.ndarray:
        from scipy.special import expit  # here, so loading a suite does not import SciPy

        x, y = data["x"], data["y"]
        weight = -y * expit(-y * (x @ w))  # d softplus(-y z) / dz
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

    def _unpack(self, w: np.ndarray, params: Params) -> tuple[np.ndarray, ...]:
        hidden, features, classes = params["n"], params["features"], params["classes"]
        cuts = np.cumsum([features * hidden, hidden, hidden * classes])
        w1, b1, w2, b2 = np.split(w, cuts)
        return w1.reshape(features, hidden), b1, w2.reshape(hidden, classes), b2

    def make_inputs(self, params: Params, dtype: np.dtype, rng: np.random.Generator) -> Inputs:
        features, m = params["features"], params["samples"]
        w = rng.standard_normal(self.parameter_count(params)) / np.sqrt(features)
        return {
            "x": rng.standard_normal((m, features)),
            "labels": rng.integers(0, params["classes"], size=m),
            "w": w,
        }

    def loss(self, w: np.ndarray, data: Inputs, params: Params) -> Any:
        w1, b1, w2, b2 = self._unpack(w, params)
        logits = np.tanh(data["x"] @ w1 + b1) @ w2 + b2
        picked = logits[np.arange(len(logits)), data["labels"]]
        return (logsumexp_rows(logits) - picked).mean() + params["l2"] / 2 * (
            (w1 * w1).sum() + (w2 * w2).sum()
        )

    def gradient(self, w: np.ndarray, data: Inputs, params: Params) -> np.ndarray:
        w1, b1, w2, b2 = self._unpack(w, params)
        x, rows = data["x"], np.arange(len(data["x"]))
        hidden = np.tanh(x @ w1 + b1)
        logits = hidden @ w2 + b2
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        probabilities[rows, data["labels"]] -= 1.0
        d_logits = probabilities / len(x)
        d_hidden = (d_logits @ w2.T) * (1.0 - hidden**2)
        return np.concatenate(
            [
                (x.T @ d_hidden + params["l2"] * w1).ravel(),
                d_hidden.sum(axis=0),
                (hidden.T @ d_logits + params["l2"] * w2).ravel(),
                d_logits.sum(axis=0),
            ]
        )
