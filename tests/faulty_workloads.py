"""Workloads that misbehave on purpose, for the runner's tests."""

import numpy as np

from labench import Kernel, Param, Workload, implementation


class Doubling(Workload):
    """y = 2 x, with one honest, one fast-but-wrong, one crashing and one badly shaped kernel."""

    name = "test.doubling"
    params = {"n": Param(1000, int, positive=True)}

    def make_inputs(self, params, dtype, rng):
        return {"x": rng.standard_normal(params["n"]).astype(dtype)}

    def reference(self, inputs, params):
        return 2 * inputs["x"].astype(np.float64)

    def footprint(self, params, itemsize):
        return params["n"] * (2 * itemsize + 16)

    @implementation("numpy")
    def honest(self, inputs, params):
        x = inputs["x"]
        return lambda: 2 * x

    @implementation("numpy")
    def fast_wrong(self, inputs, params):
        x = inputs["x"]
        return lambda: x  # skips the work: faster, and wrong

    @implementation("numpy")
    def crashing(self, inputs, params):
        def run():
            raise RuntimeError("kernel exploded")

        return run

    @implementation("numpy")
    def misshapen(self, inputs, params):
        x = inputs["x"]
        return lambda: 2 * x[:-1]

    @implementation("numpy")
    def nan(self, inputs, params):
        x = inputs["x"]
        return lambda: np.full_like(x, np.nan)


class Zeros(Workload):
    name = "test.zeros"
    params = {"n": Param(10, int, positive=True)}

    def make_inputs(self, params, dtype, rng):
        return {"x": np.zeros(params["n"], dtype=dtype)}

    def reference(self, inputs, params):
        return inputs["x"].astype(np.float64)

    @implementation("numpy")
    def copy(self, inputs, params):
        x = inputs["x"]
        return lambda: x.copy()


class Approximate(Workload):
    """y = 2 x approximated as 2.02 x: an honest approximation and a broken fast one."""

    name = "test.approximate"
    params = {"n": Param(100, int, positive=True)}

    def make_inputs(self, params, dtype, rng):
        return {"x": rng.standard_normal(params["n"]).astype(dtype)}

    def reference(self, inputs, params):
        return 2 * inputs["x"].astype(np.float64)

    @implementation("numpy")
    def honest(self, inputs, params):
        x = inputs["x"]
        return Kernel(lambda: 2.02 * x, expected=2.02 * x.astype(np.float64))

    @implementation("numpy")
    def broken(self, inputs, params):
        x = inputs["x"]
        return Kernel(lambda: 2.0 * x, expected=2.02 * x.astype(np.float64))
