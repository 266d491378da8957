"""Ridge regression: the closed form vs iterative solvers, on data of a chosen conditioning.

    minimise ||X w - y||^2 / 2 + lam / 2 ||w||^2,   i.e. solve (X^T X + lam I) w = X^T y.

Every implementation solves the whole regularization path (`path` values of lambda, from
100 lam down to lam), because that is how ridge is used — lambda is chosen by validation — and
it is where the methods differ: the SVD answers every lambda from one factorization, Cholesky
needs one factorization per lambda, iterative solvers warm-start each lambda from the last.
Iterative solvers stop when the gradient norm falls below `tol` relative to ||X^T y||; that
bounds the weights' relative error by cond(X^T X + lam I) * tol, which is the tolerance their
answers are checked against.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from labench.workloads.base import (
    Inputs,
    Kernel,
    Param,
    Params,
    Workload,
    WrongAnswer,
    implementation,
)
from labench.workloads.lowrank import orthonormal

PATH_SPAN = 100.0
"""The path runs from PATH_SPAN * lam down to lam, log-spaced."""
POWER_ITERATIONS = 30


def lambdas(params: Params) -> np.ndarray:
    """Decreasing, so warm starts go from the easy (heavily regularized) end to the target."""
    lam, count = params["lam"], params["path"]
    return lam * np.logspace(np.log10(PATH_SPAN), 0.0, count) if count > 1 else np.array([lam])


def system_condition(params: Params) -> float:
    """cond(X^T X + lam I) for the data made here (singular values from 1 down to 1/cond)."""
    return (1.0 + params["lam"]) / (params["cond"] ** -2 + params["lam"])


class Ridge(Workload):
    name = "regression.ridge"
    summary = "L2-regularized least squares over a path of lambdas: closed form vs iterative"
    dtypes = ("float64",)
    params = {
        "n": Param(200, int, positive=True, help="features (weights to solve for)"),
        "samples": Param(1000, int, positive=True, help="rows of X"),
        "lam": Param(1e-2, float, positive=True, help="smallest regularization strength"),
        "cond": Param(100.0, float, minimum=1.0, help="condition number of X"),
        "path": Param(1, int, positive=True, help="lambdas solved, from 100 lam down to lam"),
        "tol": Param(1e-10, float, positive=True, help="iterative solvers' gradient tolerance"),
        "max_iterations": Param(100_000, int, positive=True, help="iterative solvers' cap"),
    }

    def make_inputs(self, params: Params, dtype: np.dtype, rng: np.random.Generator) -> Inputs:
        n, m = params["n"], params["samples"]
        singular = np.logspace(0.0, -np.log10(params["cond"]), n)
        x = (orthonormal(rng, m, n) * singular) @ orthonormal(rng, n, n).T
        truth = rng.standard_normal(n)
        y = x @ truth + 0.01 * rng.standard_normal(m)
        return {"x": x.astype(dtype), "y": y.astype(dtype)}

    def impossible(self, params: Params) -> str | None:
        # The data needs n singular values; ridge is well posed either way, but the stated
        # condition number would not be the data's.
        if params["samples"] < params["n"]:
            return f"samples ({params['samples']}) must be at least n ({params['n']})"
        return None

    def reference(self, inputs: Inputs, params: Params) -> np.ndarray:
        """Least squares on the stacked system [X; sqrt(lam) I] w = [y; 0]: no normal
        equations, so the reference does not square the condition number."""
        x, y = inputs["x"].astype(np.float64), inputs["y"].astype(np.float64)
        n = x.shape[1]
        rows = []
        for lam in lambdas(params):
            stacked = np.vstack([x, np.sqrt(lam) * np.eye(n)])
            rows.append(np.linalg.lstsq(stacked, np.concatenate([y, np.zeros(n)]), rcond=None)[0])
        return np.array(rows)

    def footprint(self, params: Params, itemsize: int) -> int:
        n, m = params["n"], params["samples"]
        return 8 * (3 * m * n + 4 * n * n + params["path"] * n * 3)

    def tolerance(self, params: Params, dtype: np.dtype) -> float:
        floor = 1000 * np.finfo(dtype).eps
        return 2 * system_condition(params) * max(params["tol"], floor)

    @staticmethod
    def _metrics(params: Params, **counts: float) -> dict[str, float]:
        """What explains the iterative solvers' cost: cond(X^T X + lam I) at the smallest lam."""
        return {"system_condition": system_condition(params), **counts}

    @implementation("numpy")
    def closed_form(self, inputs: Inputs, params: Params) -> Kernel:
        """Normal equations X^T X + lam I, one Cholesky factorization per lambda (LAPACK)."""
        x, y = inputs["x"], inputs["y"]
        path = lambdas(params)

        from scipy import linalg  # here, so loading a suite does not import SciPy

        def run() -> np.ndarray:
            gram, rhs = x.T @ x, x.T @ y
            diagonal = np.diag(gram).copy()
            solutions = np.empty((len(path), x.shape[1]))
            for index, lam in enumerate(path):
                np.fill_diagonal(gram, diagonal + lam)
                solutions[index] = linalg.cho_solve(linalg.cho_factor(gram), rhs)
            return solutions

        return Kernel(run, self._metrics(params, factorizations=float(len(path))))

    @implementation("numpy")
    def svd(self, inputs: Inputs, params: Params) -> Kernel:
        """One thin SVD of X; every lambda is then w = V diag(s / (s^2 + lam)) U^T y."""
        x, y = inputs["x"], inputs["y"]
        path = lambdas(params)

        def run() -> np.ndarray:
            u, s, vt = np.linalg.svd(x, full_matrices=False)
            projected = u.T @ y
            filters = s / (s**2 + path[:, None])
            return (filters * projected) @ vt

        return Kernel(run, self._metrics(params, factorizations=1.0))

    @implementation("numpy")
    def gradient_descent(self, inputs: Inputs, params: Params) -> Kernel:
        """Gradient steps of 1/L (L by power iteration on X), warm-started along the path."""
        return self._iterative(inputs, params, gradient_descent)

    @implementation("numpy")
    def cg(self, inputs: Inputs, params: Params) -> Kernel:
        """Conjugate gradient on the normal equations, X^T X applied as two products."""
        return self._iterative(inputs, params, conjugate_gradient)

    def _iterative(self, inputs: Inputs, params: Params, make_solver: SolverFactory) -> Kernel:
        """Every call re-derives what it needs from X (the step size too), so the timing is
        the whole time to solution; iterations are counted into the metrics as it runs."""
        x, y = inputs["x"], inputs["y"]
        path, tol, cap = lambdas(params), params["tol"], params["max_iterations"]
        metrics = self._metrics(params, iterations=0.0)

        def run() -> np.ndarray:
            solve = make_solver(x)
            rhs = x.T @ y
            stop = tol * np.linalg.norm(rhs)
            w = np.zeros(x.shape[1])
            solutions, iterations = np.empty((len(path), x.shape[1])), 0
            for index, lam in enumerate(path):
                w, used = solve(rhs, lam, w, stop, cap)
                if used >= cap:
                    raise WrongAnswer(f"did not reach tol={tol:g} within {cap} iterations")
                solutions[index], iterations = w, iterations + used
            metrics["iterations"] = float(iterations)
            return solutions

        return Kernel(run, metrics)


Solve = Callable[[np.ndarray, float, np.ndarray, float, int], tuple[np.ndarray, int]]
"""solve(rhs, lam, start, stop, cap) -> (w, iterations): iterate until ||gradient|| <= stop."""
SolverFactory = Callable[[np.ndarray], Solve]


def normal_product(x: np.ndarray, v: np.ndarray, lam: float) -> np.ndarray:
    """(X^T X + lam I) v without forming X^T X: two matrix-vector products."""
    return x.T @ (x @ v) + lam * v


def largest_eigenvalue(x: np.ndarray) -> float:
    """Power iteration on X^T X: what a practitioner computes to choose the step 1/L."""
    v = np.ones(x.shape[1]) / np.sqrt(x.shape[1])
    estimate = 0.0
    for _ in range(POWER_ITERATIONS):
        w = x.T @ (x @ v)
        estimate = float(np.linalg.norm(w))
        v = w / estimate
    return estimate


def gradient_descent(x: np.ndarray) -> Solve:
    """Steps of 1/L along the negative gradient; L is estimated once per X."""
    curvature = 1.01 * largest_eigenvalue(x)  # power iteration approaches L from below

    def solve(
        rhs: np.ndarray, lam: float, start: np.ndarray, stop: float, cap: int
    ) -> tuple[np.ndarray, int]:
        step, w = 1.0 / (curvature + lam), start.copy()
        for iteration in range(cap):
            gradient = normal_product(x, w, lam) - rhs
            if np.linalg.norm(gradient) <= stop:
                return w, iteration
            w -= step * gradient
        return w, cap

    return solve


def conjugate_gradient(x: np.ndarray) -> Solve:
    """Textbook CG (Hestenes-Stiefel), stopping on the same gradient norm."""

    def solve(
        rhs: np.ndarray, lam: float, start: np.ndarray, stop: float, cap: int
    ) -> tuple[np.ndarray, int]:
        w = start.copy()
        residual = rhs - normal_product(x, w, lam)  # the negative gradient
        direction = residual.copy()
        squared = residual @ residual
        for iteration in range(cap):
            if np.sqrt(squared) <= stop:
                return w, iteration
            product = normal_product(x, direction, lam)
            alpha = squared / (direction @ product)
            w += alpha * direction
            residual -= alpha * product
            new_squared = residual @ residual
            direction = residual + (new_squared / squared) * direction
            squared = new_squared
        return w, cap

    return solve
