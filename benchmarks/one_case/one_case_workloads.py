"""Six one-thread cases for measuring the regression gate on a single regressed case.

Two workloads, three sizes each: a matmul repeated REPETITIONS times (n = 32, 96, 160) and an
elementwise update `x = x * 0.999 + y` repeated REPETITIONS times (n = 64, 256, 512), each
checked against a float64 reference. `benchmarks/one_case_gate.py` copies this module and
`suite.yaml` into an "old" and a "new" folder and writes, into the new copy only, a larger
repetition count for the one case it regresses (`MORE`): the new code does that much more
work in that case, in every process that measures it, fresh confirmation processes included.
The case keys stay the same, since the repetition count is not a parameter.

Run the unchanged suite: `labench run benchmarks/one_case/suite.yaml`.
"""

import numpy as np

from labench import Param, Workload, implementation

REPETITIONS = 20
"""How often each case repeats its operation in the unchanged code."""

MORE: dict[str, int] = {}
"""Repetitions of a regressed case, by `name/n=N` (one_case_gate.py writes it in a copy)."""


def repetitions(name: str, n: int) -> int:
    return MORE.get(f"{name}/n={n}", REPETITIONS)


class RepeatedMatmul(Workload):
    name = "one_case.matmul"
    summary = "c = a @ b on n x n matrices, repeated"
    params = {"n": Param(96, int, positive=True, help="matrix order")}
    dtypes = ("float64",)
    dtypes_reason = "the campaign measures float64 only"

    def make_inputs(self, params, dtype, rng):
        n = params["n"]
        return {
            "a": rng.standard_normal((n, n)).astype(dtype),
            "b": rng.standard_normal((n, n)).astype(dtype),
        }

    def reference(self, inputs, params):
        return inputs["a"].astype(np.float64) @ inputs["b"].astype(np.float64)

    def flops(self, params):
        return 2.0 * params["n"] ** 3 * repetitions("matmul", params["n"])

    @implementation("numpy")
    def numpy(self, inputs, params):
        a, b = inputs["a"], inputs["b"]
        reps = repetitions("matmul", params["n"])

        def run():
            for _ in range(reps):
                c = a @ b
            return c

        return run


class RepeatedUpdate(Workload):
    name = "one_case.update"
    summary = "x = x * 0.999 + y on vectors of length n, repeated"
    params = {"n": Param(256, int, positive=True, help="vector length")}
    dtypes = ("float64",)
    dtypes_reason = "the campaign measures float64 only"

    def make_inputs(self, params, dtype, rng):
        n = params["n"]
        return {
            "x": rng.standard_normal(n).astype(dtype),
            "y": rng.standard_normal(n).astype(dtype),
        }

    def reference(self, inputs, params):
        x, y = inputs["x"].astype(np.float64), inputs["y"].astype(np.float64)
        for _ in range(repetitions("update", params["n"])):
            x = x * 0.999 + y
        return x

    def flops(self, params):
        return 2.0 * params["n"] * repetitions("update", params["n"])

    @implementation("numpy")
    def numpy(self, inputs, params):
        x0, y = inputs["x"], inputs["y"]
        reps = repetitions("update", params["n"])

        def run():
            x = x0
            for _ in range(reps):
                x = x * 0.999 + y
            return x

        return run
