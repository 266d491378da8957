"""The parallel family: correctness of every CPU implementation against independent float64
formulas, Numba thread control, and the CuPy code paths exercised with NumPy standing in."""

import sys
import types

import numba
import numpy as np
import pytest
from scipy.signal import correlate2d
from scipy.special import log_softmax

from labench.backends import availability
from labench.backends.cupy_gpu import CupyBackend, cuda_loop_timer
from labench.backends.numba_jit import NumbaBackend
from labench.workloads import BUILTIN
from labench.workloads.kernels import host_vector

SMALL = {
    "kernels.matvec": {"n": 70},
    "kernels.matmul": {"n": 300},  # > one 256-row panel of the blocked kernel
    "kernels.conv2d": {"batch": 3, "size": 11, "filters": 5},
    "kernels.dense_layer": {"batch": 9, "n_in": 7, "n_out": 5},
    "kernels.softmax_xent": {"batch": 13, "classes": 6},
}


def independent(name, inputs):
    """Float64 answers computed another way than the implementations."""
    wide = {
        key: (value.astype(np.float64) if value.dtype.kind == "f" else value)
        for key, value in inputs.items()
    }
    if name == "kernels.matvec":
        return np.einsum("ij,j->i", wide["a"], wide["other"])
    if name == "kernels.matmul":
        return np.einsum("ij,jk->ik", wide["a"], wide["other"])
    if name == "kernels.conv2d":
        return np.stack(
            [
                [correlate2d(image, f, mode="valid") for f in wide["filters"]]
                for image in wide["images"]
            ]
        ).ravel()
    if name == "kernels.dense_layer":
        x, w, b, g = wide["x"], wide["w"], wide["b"], wide["upstream"]
        y = np.tanh(np.einsum("bi,io->bo", x, w) + b)
        d = g * (1 - y**2)
        return host_vector(
            (y, np.einsum("bo,io->bi", d, w), np.einsum("bi,bo->io", x, d), d.sum(0))
        )
    logits, labels = wide["logits"], wide["labels"]
    log_p = log_softmax(logits, axis=1)
    rows = np.arange(len(labels))
    gradient = np.exp(log_p)
    gradient[rows, labels] -= 1
    return host_vector((-log_p[rows, labels].mean(), gradient / len(labels)))


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("method", ["numpy", "numba", "numba_parallel"])
def test_every_cpu_implementation_matches_an_independent_reference(name, dtype, method):
    workload = BUILTIN[name]()
    params = workload.resolve_params(SMALL[name])
    inputs = workload.make_inputs(params, np.dtype(dtype), np.random.default_rng(11))
    expected = np.ravel(independent(name, inputs))
    assert np.allclose(
        np.ravel(workload.reference(inputs, params)), expected, rtol=1e-12, atol=1e-12
    )
    kernel = workload.implementations[method].prepare(workload, inputs, params)
    output = np.ravel(kernel.to_host(kernel.run()))
    assert workload.error(output, expected) <= workload.tolerance(params, np.dtype(dtype))
    assert output.dtype == np.dtype(dtype) or name in (
        "kernels.dense_layer",
        "kernels.softmax_xent",
    )


def test_filter_bank_starts_with_sobel_and_laplacian():
    workload = BUILTIN["kernels.conv2d"]()
    bank = workload.make_inputs(
        workload.resolve_params({"filters": 4}), np.dtype("float64"), np.random.default_rng(0)
    )["filters"]
    assert bank[0].tolist() == [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    assert (bank[1] == bank[0].T).all() and bank[2].sum() == 0 and bank[3].any()


def test_numba_thread_limit_is_applied_read_back_and_restored():
    backend = NumbaBackend()
    before = numba.get_num_threads()
    with backend.thread_limit(1) as pools:
        assert numba.get_num_threads() == 1 and pools == {"numba": 1}
    assert numba.get_num_threads() == before
    with backend.thread_limit(10_000) as pools:  # more than Numba can start: capped, and said
        assert pools["numba"] == numba.config.NUMBA_NUM_THREADS


def test_thread_pools_are_recorded_per_case(cli, write_suite, tmp_path):
    from labench.results import reader

    path = write_suite(
        "labench: 1\nname: p\ndefaults: {max_time: 0.01, threads: [1, max]}\nbenchmarks:\n"
        "  - {id: m, workload: kernels.matvec, params: {n: 64}, implementations: [numba_parallel, numpy]}\n"
    )
    assert cli("run", path, "-o", tmp_path / "r.json", "-q").exit_code == 0
    for case in reader.load(tmp_path / "r.json").cases:
        assert case.thread_pools["blas:openblas"] == case.threads
        if case.backend == "numba":
            assert case.thread_pools["numba"] == case.threads


def fake_cupy(monkeypatch, **runtime):
    """NumPy dressed as CuPy: same array API, asnumpy, and a stub CUDA runtime and events."""
    fake = types.ModuleType("cupy")
    fake.__dict__.update({name: getattr(np, name) for name in dir(np) if not name.startswith("__")})
    fake.__version__ = "fake"
    fake.asnumpy = np.asarray
    clock = iter(range(0, 10**6, 5))

    class Event:
        def __init__(self, block=False):
            self.time = None

        def record(self):
            self.time = next(clock)

        def synchronize(self):
            pass

    class MemoryHook:
        """Stands in for CuPy's pool hook: the fake has no pool, so it is never called."""

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    device = types.SimpleNamespace(synchronize=lambda: None)
    fake.cuda = types.SimpleNamespace(
        Event=Event,
        MemoryHook=MemoryHook,
        Device=lambda: device,
        get_elapsed_time=lambda start, end: float(end.time - start.time),
        runtime=types.SimpleNamespace(**runtime),
    )
    # CuPy's per-dtype GEMM compute type (cupy._core.set_compute_type), as CuPy 14 has it
    names = {1: "COMPUTE_TYPE_DEFAULT", 7: "COMPUTE_TYPE_TF32"}
    linalg = types.SimpleNamespace(
        COMPUTE_TYPE_DEFAULT=1, COMPUTE_TYPE_TF32=7, compute_type_to_str=names.__getitem__
    )
    fake.compute_types = {}
    fake._core = types.ModuleType("cupy._core")
    fake._core._routines_linalg = linalg
    fake._core.get_compute_type = lambda dtype: fake.compute_types.get(np.dtype(dtype).name, 1)
    fake._core.set_compute_type = lambda dtype, kind: fake.compute_types.update(
        {np.dtype(dtype).name: kind}
    )
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setitem(sys.modules, "cupy._core", fake._core)
    monkeypatch.setitem(sys.modules, "cupy._core._routines_linalg", linalg)
    return fake


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("transfers", [False, True])
def test_cupy_implementation_code_path_with_numpy_standing_in(name, transfers, monkeypatch):
    fake_cupy(monkeypatch)
    workload = BUILTIN[name]()
    params = workload.resolve_params({**SMALL[name], "transfers": transfers})
    inputs = workload.make_inputs(params, np.dtype("float64"), np.random.default_rng(2))
    kernel = workload.implementations["cupy"].prepare(workload, inputs, params)
    assert kernel.metrics["transfers_timed"] == float(transfers)
    output = kernel.to_host(kernel.run())
    assert workload.error(output, workload.reference(inputs, params)) < 1e-12


def test_cuda_timer_reads_events_in_seconds(monkeypatch):
    fake_cupy(monkeypatch)
    assert cuda_loop_timer(lambda: None, 3) == pytest.approx(5e-3)  # events 5 ms apart


def test_gpu_cases_record_device_time_and_latency(monkeypatch, cli, write_suite, tmp_path):
    from labench import backends
    from labench.results import reader

    fake_cupy(monkeypatch)
    monkeypatch.setattr("labench.measure.case.availability", lambda name: backends.Availability(True))
    path = write_suite(
        "labench: 1\nname: g\ndefaults: {max_time: 0.02}\nbenchmarks:\n"
        "  - {id: m, workload: kernels.matvec, params: {n: 64, transfers: [false, true]}, "
        "implementations: [cupy]}\n"
    )
    assert cli("run", path, "-o", tmp_path / "r.json", "-q").exit_code == 0
    cases = reader.load(tmp_path / "r.json").cases
    assert [case.metrics["transfers_timed"] for case in cases] == [0.0, 1.0]
    assert all(case.metrics["latency"] > 0 and case.timing.median > 0 for case in cases)


def test_a_gpu_first_call_waits_for_the_device(monkeypatch, cli, write_suite, tmp_path):
    """Kernel launches return at once; a cold call timed without a synchronize is a launch."""
    from labench import backends
    from labench.measure import case as runner

    fake = fake_cupy(monkeypatch)
    synchronized = []
    fake.cuda.Device = lambda: types.SimpleNamespace(synchronize=lambda: synchronized.append(1))
    monkeypatch.setattr("labench.measure.case.availability", lambda name: backends.Availability(True))
    timed = []
    real_first_call = runner.first_call
    monkeypatch.setattr(
        "labench.measure.case.first_call",
        lambda function: real_first_call(timed.append(function) or function),
    )
    path = write_suite(
        "labench: 1\nname: g\ndefaults: {max_time: 0.02}\nbenchmarks:\n"
        "  - {id: m, workload: kernels.matvec, params: {n: 64}, implementations: [cupy]}\n"
    )
    assert cli("run", path, "-o", tmp_path / "r.json", "-q").exit_code == 0
    synchronized.clear()
    timed[0]()
    assert synchronized == [1]


def test_cupy_availability_gives_a_reason_for_every_failure(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    assert CupyBackend().availability().reason.startswith("CuPy is not installed")

    def no_driver():
        raise RuntimeError("cudaErrorNoDevice")

    fake_cupy(monkeypatch, getDeviceCount=no_driver)
    assert (
        "no usable CUDA driver or device (cudaErrorNoDevice)" in CupyBackend().availability().reason
    )
    fake_cupy(monkeypatch, getDeviceCount=lambda: 0)
    assert CupyBackend().availability().reason == "no CUDA device found"
    fake_cupy(monkeypatch, getDeviceCount=lambda: 1)
    assert CupyBackend().availability().available


@pytest.mark.skipif(not availability("cupy").available, reason="needs CuPy and a CUDA GPU")
def test_cupy_matmul_on_a_real_gpu_matches_the_reference():
    workload = BUILTIN["kernels.matmul"]()
    params = workload.resolve_params({"n": 512})
    inputs = workload.make_inputs(params, np.dtype("float64"), np.random.default_rng(0))
    kernel = workload.implementations["cupy"].prepare(workload, inputs, params)
    assert workload.error(kernel.to_host(kernel.run()), workload.reference(inputs, params)) < 1e-12
    assert cuda_loop_timer(kernel.run, 3) > 0
