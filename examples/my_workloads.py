"""A complete user workload: the scaled vector update y = alpha * x + y ("axpy").

Run it with `labench run examples/axpy.yaml`; the suite names it as `my_workloads:Axpy`, and
labench imports the module from the suite's folder.
"""

import numpy as np

from labench import Kernel, Param, Workload, implementation


class Axpy(Workload):
    name = "user.axpy"
    summary = "y = alpha * x + y on vectors of length n"
    params = {
        "n": Param(1_000_000, int, positive=True, help="vector length"),
        "alpha": Param(2.5, float, help="scale factor"),
    }

    def make_inputs(self, params, dtype, rng):
        n = params["n"]
        return {
            "x": rng.standard_normal(n).astype(dtype),
            "y": rng.standard_normal(n).astype(dtype),
        }

    def reference(self, inputs, params):
        return params["alpha"] * inputs["x"].astype(np.float64) + inputs["y"].astype(np.float64)

    def flops(self, params):
        return 2.0 * params["n"]

    def bytes_moved(self, params, itemsize):
        return 3.0 * params["n"] * itemsize

    def footprint(self, params, itemsize):
        return params["n"] * (3 * itemsize + 3 * 8)

    @implementation("numpy")
    def expression(self, inputs, params):
        """Plain NumPy expression: allocates a temporary for alpha * x."""
        x, y, alpha = inputs["x"], inputs["y"], params["alpha"]
        return lambda: alpha * x + y

    @implementation("numpy")
    def fused(self, inputs, params):
        """In-place ufuncs into a preallocated buffer: no temporaries."""
        x, y, alpha = inputs["x"], inputs["y"], params["alpha"]
        out = np.empty_like(y)

        def run():
            np.multiply(x, alpha, out=out)
            return np.add(out, y, out=out)

        return Kernel(run, metrics={"temporaries": 0.0})
