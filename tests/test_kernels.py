import numpy as np
import pytest

from labench.workloads import BUILTIN


@pytest.mark.parametrize("name", ["kernels.matmul", "kernels.matvec"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numpy_implementation_matches_an_independent_float64_reference(name, dtype):
    workload = BUILTIN[name]()
    params = workload.resolve_params({"n": 96})
    inputs = workload.make_inputs(params, np.dtype(dtype), np.random.default_rng(3))
    assert all(array.dtype == dtype and array.any() for array in inputs.values())
    output = workload.implementations["numpy"].prepare(workload, inputs, params)()
    # independent reference: explicit sums in float64, not BLAS
    a = inputs["a"].astype(np.float64)
    other = (inputs.get("b") if "b" in inputs else inputs["x"]).astype(np.float64)
    expected = np.einsum("ij,j...->i...", a, other)
    assert np.allclose(workload.reference(inputs, params), expected, rtol=1e-12, atol=1e-12)
    assert workload.error(output, expected) <= workload.tolerance(params, np.dtype(dtype))


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
    transposed = inputs["a"].T @ inputs["b"]
    assert workload.error(transposed, reference) > 100 * workload.tolerance(
        params, np.dtype("float32")
    )
