import numpy as np

from labench.workloads import BUILTIN


def test_flop_and_byte_counts():
    matmul, matvec = BUILTIN["kernels.matmul"](), BUILTIN["kernels.matvec"]()
    assert matmul.flops({"n": 10}) == 2000
    assert matmul.bytes_moved({"n": 10}, 8) == 2400
    assert matvec.flops({"n": 10}) == 200
    assert matvec.bytes_moved({"n": 10}, 4) == (100 + 20) * 4


def test_tolerance_catches_a_wrong_answer():
    workload = BUILTIN["kernels.matmul"]()
    params = {"n": 64}
    inputs = workload.make_inputs(params, np.dtype("float32"), np.random.default_rng(0))
    reference = workload.reference(inputs, params)
    transposed = inputs["a"].T @ inputs["other"]  # a plausible bug: fast, right shape, wrong
    assert workload.error(transposed, reference) > 100 * workload.tolerance(
        params, np.dtype("float32")
    )
