"""The GPU code paths of every family, the math mode, the two clocks of a GPU case and the GPU
roof sweep, exercised with NumPy standing in for CuPy and a fake CUDA timer."""

import types

import numpy as np
import pytest
from test_parallel import fake_cupy

from labench import backends
from labench.backends.cupy_gpu import gemm_precision
from labench.core import dtypes as precision
from labench.machine import gpu_ceilings
from labench.measure import timing
from labench.results import reader
from labench.workloads import BUILTIN


@pytest.fixture
def gpu(monkeypatch):
    """A fake CuPy, and a runner that believes the GPU is there."""
    fake = fake_cupy(monkeypatch)
    monkeypatch.setattr("labench.measure.case.availability", lambda name: backends.Availability(True))
    return fake


@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16"])
@pytest.mark.parametrize("method", ["cupy_dense", "cupy_svd", "cupy_rsvd"])
def test_lowrank_gpu_implementations_with_numpy_standing_in(gpu, method, dtype):
    workload = BUILTIN["lowrank.matmul"]()
    params = workload.resolve_params({"n": 90, "m": 110, "rank": 8, "batch": 5})
    numpy_dtype = precision.resolve(dtype)
    inputs = workload.make_inputs(params, numpy_dtype, np.random.default_rng(1))
    kernel = workload.implementations[method].prepare(workload, inputs, params)
    host = workload.implementations[method.removeprefix("cupy_")].prepare(workload, inputs, params)
    output = kernel.to_host(kernel.run())
    target = workload.reference(inputs, params) if kernel.expected is None else kernel.expected
    assert workload.error(output, target) < workload.tolerance(params, numpy_dtype)
    # the same factorisation as on the host: same parameters, bytes and accuracy
    for metric in ("params", "bytes_stored", "flops", "error_optimal"):
        assert kernel.metrics[metric] == host.metrics[metric]
    assert kernel.metrics["error_rel"] == pytest.approx(host.metrics["error_rel"], rel=1e-3)
    if method != "cupy_dense":
        assert kernel.metrics["factor_time"] > 0


@pytest.mark.parametrize("name", ["gradients.logistic", "gradients.mlp"])
@pytest.mark.parametrize("method", ["cupy_analytic", "cupy_fd_forward", "cupy_fd_central"])
def test_gradient_gpu_implementations_with_numpy_standing_in(gpu, name, method):
    workload = BUILTIN[name]()
    params = workload.resolve_params({"n": 6, "samples": 40})
    inputs = workload.make_inputs(params, np.dtype("float64"), np.random.default_rng(2))
    kernel = workload.implementations[method].prepare(workload, inputs, params)
    host = workload.implementations[method.removeprefix("cupy_")].prepare(workload, inputs, params)
    output = kernel.to_host(kernel.run())
    # written once: the GPU path computes the host path's numbers, to the last bit
    assert np.array_equal(output, host.run())
    assert workload.error(output, workload.reference(inputs, params)) < (
        1e-10 if method == "cupy_analytic" else 1e-3
    )
    assert kernel.metrics == host.metrics


def test_math_mode_is_set_per_case_recorded_and_keyed_only_when_not_default(
    gpu, cli, write_suite, tmp_path
):
    path = write_suite(
        "labench: 1\nname: m\n"
        "defaults: {max_time: 0.01, dtype: [float32, float16], math: [ieee, tf32]}\n"
        "benchmarks:\n"
        "  - {id: mm, workload: kernels.matmul, params: {n: 16}, implementations: [numpy, cupy]}\n"
    )
    assert cli("run", path, "-o", tmp_path / "r.json", "-q").exit_code == 0
    cases = {case.key: case for case in reader.load(tmp_path / "r.json").cases}
    ieee = cases["mm/n=16,transfers=False/float32/t1/cupy"]
    tf32 = cases["mm/n=16,transfers=False/float32+tf32/t1/cupy"]
    assert (ieee.status, ieee.math, tf32.status, tf32.math) == ("ok", "ieee", "ok", "tf32")
    assert ieee.precision == {
        "compute_type": "COMPUTE_TYPE_DEFAULT",
        "cublas_compute": "CUBLAS_COMPUTE_32F",
    }
    assert tf32.precision == {
        "compute_type": "COMPUTE_TYPE_TF32",
        "cublas_compute": "CUBLAS_COMPUTE_32F_FAST_TF32",
    }
    half = cases["mm/n=16,transfers=False/float16/t1/cupy"]
    assert half.precision["cublas_compute"] == "CUBLAS_COMPUTE_32F"  # summed in float32
    skipped = {key: case.reason for key, case in cases.items() if case.status == "skipped"}
    assert skipped == {
        "mm/n=16,transfers=False/float32+tf32/t1/numpy": (
            "math tf32 exists only on a GPU; the numpy backend has none"
        ),
        "mm/n=16,transfers=False/float16+tf32/t1/numpy": (
            "math tf32 exists only on a GPU; the numpy backend has none"
        ),
        "mm/n=16,transfers=False/float16+tf32/t1/cupy": (
            "math tf32 changes float32 products only, not float16"
        ),
    }
    # the setting is restored after each case: nothing leaks into the next one
    assert gpu.compute_types == {"float32": 1, "float16": 1}


def test_a_16_bit_step_cupy_lacks_is_skipped_with_its_words(gpu, cli, write_suite, tmp_path):
    def no_bfloat16_exp(x):
        if x.dtype.name == "bfloat16":
            raise TypeError("Wrong type ((dtype('bfloat16'),)) of arguments for cupy_exp")
        return np.exp(x)

    gpu.exp = no_bfloat16_exp
    path = write_suite(
        "labench: 1\nname: t\ndefaults: {max_time: 0.01, dtype: [float32, bfloat16]}\n"
        "benchmarks:\n  - {id: s, workload: kernels.softmax_xent, "
        "params: {batch: 4, classes: 3}, implementations: [cupy]}\n"
    )
    assert cli("run", path, "-o", tmp_path / "r.json", "-q").exit_code == 0
    by_dtype = {case.dtype: case for case in reader.load(tmp_path / "r.json").cases}
    assert by_dtype["float32"].status == "ok"
    assert by_dtype["bfloat16"].status == "skipped"
    assert by_dtype["bfloat16"].reason == (
        "CuPy fake cannot compute this in bfloat16: TypeError: "
        "Wrong type ((dtype('bfloat16'),)) of arguments for cupy_exp"
    )


def test_a_refused_tf32_is_recorded_as_the_default_really_used(gpu):
    gpu._core.set_compute_type = lambda dtype, kind: None  # a GPU older than Ampere ignores it
    with gemm_precision("float32", "tf32") as computed:
        assert computed["compute_type"] == "COMPUTE_TYPE_DEFAULT"
        assert computed["cublas_compute"] == "CUBLAS_COMPUTE_32F"


def test_pipelined_median_comes_from_cuda_events_and_latency_from_the_host_clock(
    gpu, cli, write_suite, tmp_path, monkeypatch
):
    """The fake CUDA events are 5 ms apart per timed loop; the fake host clock advances 3 ms per
    read. So a median of 5 ms / inner_loops can only come from the events, and a latency of
    exactly 3 ms only from the host clock around one call."""
    host = iter(range(0, 10**9, 3))
    monkeypatch.setattr(timing, "host_clock", lambda: next(host) / 1e3)
    path = write_suite(
        "labench: 1\nname: g\ndefaults: {max_time: 0.05}\nbenchmarks:\n"
        "  - {id: m, workload: kernels.matvec, params: {n: 32}, implementations: [cupy]}\n"
    )
    assert cli("run", path, "-o", tmp_path / "r.json", "-q", "--latency").exit_code == 0
    (case,) = reader.load(tmp_path / "r.json").cases
    assert case.timing.median == pytest.approx(5e-3 / case.timing.inner_loops)
    assert case.metrics["latency"] == pytest.approx(3e-3)
    shown = cli("show", tmp_path / "r.json", "--latency")
    assert "latency" in shown.output and "3 ms" in shown.output
    assert "latency" not in cli("show", tmp_path / "r.json").output


def test_single_calls_stop_once_precise_or_out_of_time(monkeypatch):
    clock = iter(range(10**9))
    monkeypatch.setattr(timing, "host_clock", lambda: next(clock) * 1.0)
    policy = timing.Policy(max_time=1e9, target_rel_ci=0.01, min_samples=7, warmup=0)
    samples = timing.single_calls(lambda: None, policy)
    assert samples == [1.0] * 7  # identical calls: precise at the first check
    policy = timing.Policy(max_time=30, target_rel_ci=1e-9, min_samples=3, warmup=0)
    noisy = iter(np.cumsum(np.random.default_rng(0).uniform(1, 2, 10**4)))
    monkeypatch.setattr(timing, "host_clock", lambda: float(next(noisy)))
    assert 3 <= len(timing.single_calls(lambda: None, policy)) < 30


def test_gpu_roof_sweep_stops_where_the_rate_stops_rising(gpu, monkeypatch):
    """Rates rise from 1024 to 2048, then gain under 3%: the sweep ends at 4096 and reports
    the best rate, never trying 8192."""
    rates = {1024: 100.0, 2048: 200.0, 4096: 202.0, 8192: 400.0}
    shapes = []
    real_matmul = np.matmul
    gpu.matmul = lambda a, b, out=None: (
        shapes.append(a.shape[0]) or real_matmul(a[:2, :2], b[:2, :2])
    )
    gpu.random = types.SimpleNamespace(default_rng=lambda seed: _TinyGenerator())

    def timer(function, loops):
        for _ in range(loops):
            function()
        size = shapes[-1]
        return loops * 2 * size**3 / 1e9 / rates[size]

    roof = gpu_ceilings.sweep_gemm(gpu, "float32", "ieee", sorted(rates), timer)
    assert list(roof.sweep) == [1024, 2048, 4096]
    assert roof.sweep[2048] == pytest.approx(200.0) and roof.size == 4096
    assert roof.gflops == pytest.approx(202.0) and roof.reason is None


class _TinyGenerator:
    """Hands out a small stand-in matrix that remembers the size asked for."""

    def standard_normal(self, shape, dtype):
        return _Sized(shape[0])


class _Sized:
    def __init__(self, size):
        self.shape = (size, size)

    def astype(self, dtype):
        return self

    def __getitem__(self, index):
        return np.ones((2, 2))


@pytest.mark.skipif(backends.availability("cupy").available, reason="this machine has a GPU")
def test_claims_that_name_the_gpu_are_unmeasured_without_one(cli, tmp_path):
    from pathlib import Path

    suite = Path(__file__).resolve().parent.parent / "suites" / "seed-claims.yaml"
    picked = ("-k", "gpu_precisions", "-k", "gpu_gradient")
    result = cli("run", suite, "-o", tmp_path / "r.json", "-q", "--quick", *picked)
    assert result.exit_code == 0
    claims = [
        claim
        for claim in reader.load(tmp_path / "r.json").claims
        if claim.benchmark in ("gpu_precisions", "gpu_gradient")
    ]
    assert len(claims) == 3 and all(claim.status == "unmeasured" for claim in claims)
    assert all("backend cupy unavailable" in claim.reason for claim in claims)


REAL_GPU_SUITE = """
labench: 1
name: real-gpu
defaults: {max_time: 0.05, dtype: [float64, float32, float16, bfloat16], math: [ieee, tf32]}
benchmarks:
  - {id: mm, workload: kernels.matmul, params: {n: 512}, implementations: [cupy]}
  - {id: mv, workload: kernels.matvec, params: {n: 1024, transfers: [false, true]}, implementations: [cupy]}
  - {id: dl, workload: kernels.dense_layer, params: {batch: 64, n_in: 128, n_out: 64}, implementations: [cupy]}
  - {id: sx, workload: kernels.softmax_xent, params: {batch: 64, classes: 100}, implementations: [cupy]}
  - {id: cv, workload: kernels.conv2d, params: {batch: 4, size: 32}, implementations: [cupy]}
  - {id: lr, workload: lowrank.matmul, params: {n: 256, rank: 16, batch: 8}, implementations: [cupy_dense, cupy_svd, cupy_rsvd]}
  - {id: gl, workload: gradients.logistic, params: {n: 16, samples: 256}, implementations: [cupy_analytic, cupy_fd_forward, cupy_fd_central]}
  - {id: gm, workload: gradients.mlp, params: {n: 8, samples: 128}, implementations: [cupy_analytic, cupy_fd_central]}
"""


@pytest.mark.skipif(not backends.availability("cupy").available, reason="needs CuPy and a CUDA GPU")
def test_every_gpu_implementation_in_every_precision_on_a_real_gpu(cli, write_suite, tmp_path):
    path = write_suite(REAL_GPU_SUITE)
    result = cli("run", path, "-o", tmp_path / "r.json", "--latency")
    print(result.output)  # the tables go to the device check's log
    cases = reader.load(tmp_path / "r.json").cases
    broken = {case.key: case.reason for case in cases if case.status in ("error", "wrong")}
    assert not broken
    ok = {case.key: case for case in cases if case.status == "ok"}
    tf32 = ok["mm/n=512,transfers=False/float32+tf32/t1/cupy"]
    ieee = ok["mm/n=512,transfers=False/float32/t1/cupy"]
    assert ieee.precision["cublas_compute"] == "CUBLAS_COMPUTE_32F"
    if tf32.precision["compute_type"] == "COMPUTE_TYPE_TF32":  # Ampere and later
        # TF32 really rounded the inputs to 10 bits: errors near 2^-11, not float32's 1e-7
        assert tf32.metrics["error_rel"] > 10 * ieee.metrics["error_rel"]
    else:
        assert tf32.precision["compute_type"] == "COMPUTE_TYPE_DEFAULT"
    assert all(case.metrics["latency"] > 0 for case in ok.values())
