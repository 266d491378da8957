"""float16 and bfloat16 on the host: the tolerance rule, and that every family either runs in
them or is skipped with the reason, never an error."""

import sys

import ml_dtypes
import numpy as np
import pytest

from labench.core import dtypes as precision
from labench.results import reader
from labench.workloads import BUILTIN

NARROW_SIZES = {
    "kernels.matmul": {"n": 48},
    "kernels.matvec": {"n": 200},
    "kernels.conv2d": {"batch": 2, "size": 20, "filters": 4},
    "kernels.dense_layer": {"batch": 16, "n_in": 24, "n_out": 8},
    "kernels.softmax_xent": {"batch": 16, "classes": 50},
    "lowrank.matvec": {"n": 120, "rank": 10},
    "lowrank.matmul": {"n": 120, "rank": 10, "batch": 4},
}


def test_tolerance_rule_is_the_stated_formula():
    for name, eps in (("float64", 2**-52), ("float32", 2**-23)):
        assert precision.epsilon(name) == np.finfo(name).eps == eps
        assert precision.tolerance(name, 10_000) == pytest.approx(16 * eps * 100 + 8 * eps)
    assert precision.epsilon("float16") == np.finfo(np.float16).eps
    assert precision.epsilon("bfloat16") == float(ml_dtypes.finfo(ml_dtypes.bfloat16).eps)
    # the 16-bit types accumulate in float32: the length term is float32's
    eps32 = 2**-23
    assert precision.tolerance("bfloat16", 4096) == pytest.approx(16 * eps32 * 64 + 8 * 2**-7)
    # TF32 products round their float32 inputs to 10 significand bits
    assert precision.math_allowance("tf32") == 8 * 2**-10 and precision.math_allowance("ieee") == 0
    # short sums count as 16 terms
    assert precision.tolerance("float16", 1) == precision.tolerance("float16", 16)


def test_tolerances_grow_with_length_and_narrowness_but_stay_far_below_order_one():
    names = ("float64", "float32", "float16", "bfloat16")
    for length in (16, 1024, 16384):
        values = [precision.tolerance(name, length) for name in names]
        assert values == sorted(values)
    assert precision.tolerance("float32", 16384) > precision.tolerance("float32", 1024)
    assert precision.tolerance("bfloat16", 16384) < 0.07


def test_bfloat16_resolves_through_ml_dtypes_and_counts_as_a_float():
    dtype = precision.resolve("bfloat16")
    assert (
        dtype == np.dtype(ml_dtypes.bfloat16) and dtype.itemsize == precision.ITEMSIZE["bfloat16"]
    )
    assert precision.is_floating(dtype) and dtype.kind == "V"
    assert not precision.is_floating(np.dtype(np.int64))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", sorted(NARROW_SIZES))
def test_numpy_implementations_are_correct_in_16_bit(name, dtype):
    workload = BUILTIN[name]()
    params = workload.resolve_params(NARROW_SIZES[name])
    numpy_dtype = precision.resolve(dtype)
    inputs = workload.make_inputs(params, numpy_dtype, np.random.default_rng(3))
    reference = workload.reference(inputs, params)
    tolerance = workload.tolerance(params, numpy_dtype)
    for implementation in workload.implementations.values():
        if implementation.backend != "numpy":
            continue
        kernel = implementation.prepare(workload, inputs, params)
        target = reference if kernel.expected is None else kernel.expected
        error = workload.error(kernel.to_host(kernel.run()), target)
        # right, but not suspiciously right: the narrow type really was computed in
        assert error < tolerance, implementation.name
        if "bytes_stored" in kernel.metrics and implementation.name != "dense":
            rows, cols = workload.shape(params)
            k = params["rank"]
            assert kernel.metrics["bytes_stored"] == k * (rows + cols) * 2


def test_every_family_runs_or_skips_with_a_reason_in_16_bit(cli, write_suite, tmp_path):
    lines = [
        "labench: 1\nname: narrow\n"
        "defaults: {max_time: 0.005, min_samples: 3, warmup: 0, dtype: [float16, bfloat16]}\n"
        "benchmarks:"
    ]
    for name, params in NARROW_SIZES.items():
        lines.append(f"  - {{id: {name.replace('.', '_')}, workload: {name}, params: {params}}}")
    lines.append("  - {id: grad, workload: gradients.logistic, params: {n: 4, samples: 8}}")
    path = write_suite("\n".join(lines) + "\n")
    assert cli("run", path, "-o", tmp_path / "r.json", "-q").exit_code == 0
    cases = reader.load(tmp_path / "r.json").cases
    assert {case.status for case in cases} == {"ok", "skipped"}
    reasons = {case.reason for case in cases if case.status == "skipped"}
    assert "Numba compiles no float16 arithmetic on the CPU" in reasons
    assert any(
        reason.startswith("gradients.logistic computes in float64 only: finite")
        for reason in reasons
    )
    assert any(reason.startswith("backend cupy unavailable") for reason in reasons)
    ok = [case for case in cases if case.status == "ok"]
    assert {case.workload for case in ok} == set(NARROW_SIZES)
    # ml_dtypes multiplies bfloat16 matrices into a float32 result: the case says so
    product = next(
        case for case in ok if case.key.startswith("kernels_matmul/") and case.dtype == "bfloat16"
    )
    assert product.precision == {"output_dtype": "float32"}
    assert all(case.precision == {} for case in ok if case.dtype == "float16")


def test_bfloat16_without_ml_dtypes_is_skipped_with_the_install_command(
    cli, write_suite, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)
    path = write_suite(
        "labench: 1\nname: b\ndefaults: {max_time: 0.005, dtype: [float32, bfloat16]}\n"
        "benchmarks:\n  - {id: mm, workload: kernels.matmul, params: {n: 8}, "
        "implementations: [numpy]}\n"
    )
    assert cli("run", path, "-o", tmp_path / "r.json", "-q").exit_code == 0
    by_dtype = {case.dtype: case for case in reader.load(tmp_path / "r.json").cases}
    assert by_dtype["float32"].status == "ok"
    assert by_dtype["bfloat16"].status == "skipped"
    assert (
        by_dtype["bfloat16"].reason == "bfloat16 needs ml_dtypes: pip install 'labench[bfloat16]'"
    )


def test_a_dtype_the_suite_does_not_know_is_refused_with_the_line(cli, write_suite):
    path = write_suite(
        "labench: 1\nname: b\nbenchmarks:\n"
        "  - {id: mm, workload: kernels.matmul, dtype: [float32, float8]}\n"
    )
    result = cli("run", path)
    assert result.exit_code == 2
    assert (
        "suite.yaml:4:47: benchmarks[0].dtype: expected one of float64, float32, float16, bfloat16"
        in result.output
    )
