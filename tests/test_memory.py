"""Peak memory per case: known allocations in-process and isolated, and the sources' rules."""

import tracemalloc

import numpy as np
import pytest

from labench.core.arrays import resident_bytes
from labench.measure.memory import PoolPeak, traced_peak
from labench.results import reader

N, ARRAYS = 200_000, 3
ALLOCATING = f"""
labench: 1
name: mem
defaults: {{max_time: 0.05}}
benchmarks:
  - {{id: alloc, workload: 'memory_workloads:Allocating', params: {{n: {N}, arrays: {ARRAYS}}}}}
"""


@pytest.mark.parametrize("isolate", [False, True], ids=["in-process", "isolated"])
def test_known_allocations_are_reported_as_peak_bytes(cli, write_suite, tmp_path, isolate):
    """k arrays of n float64, alive together, made by NumPy and inside a Numba kernel."""
    out = tmp_path / "r.json"
    flags = ["--isolate"] if isolate else []
    assert cli("run", write_suite(ALLOCATING), "-o", out, "-q", *flags).exit_code == 0
    cases = reader.load(out).cases
    assert [case.implementation for case in cases] == ["numpy", "numba"]
    for case in cases:
        assert case.status == "ok", case.reason
        assert case.peak_bytes_source == "tracemalloc"
        assert case.metrics["peak_bytes"] == pytest.approx(ARRAYS * N * 8, rel=0.02)
        assert case.metrics["input_bytes"] == 10 * 8


def test_traced_peak_counts_only_what_the_call_adds_and_keeps_a_running_trace():
    held = np.ones(500_000)  # existed before the call: not counted
    pair = traced_peak(lambda: (np.ones(100_000), np.ones(100_000)))
    assert pair == pytest.approx(2 * 800_000, rel=0.02)
    tracemalloc.start()
    try:
        assert traced_peak(lambda: np.ones(100_000)) == pytest.approx(800_000, rel=0.02)
        assert tracemalloc.is_tracing()  # someone else's trace is left running
    finally:
        tracemalloc.stop()
    assert held.sum() == 500_000


def test_pool_peak_follows_mallocs_and_frees():
    hook = PoolPeak()
    for event, size in [("malloc", 100), ("malloc", 50), ("free", 100), ("malloc", 30)]:
        if event == "malloc":
            hook.malloc_postprocess(0, size, size, mem_ptr=0, pmem_id=0)
        else:
            hook.free_postprocess(0, size, mem_ptr=0, pmem_id=0)
    assert (hook.peak, hook.used) == (150, 80)


def test_resident_bytes_counts_each_buffer_once_and_a_view_as_its_base():
    big, small = np.ones((100, 100)), np.ones(10)
    assert resident_bytes([big, small, big]) == big.nbytes + small.nbytes
    assert resident_bytes([big[:, :5]]) == big.nbytes  # a sliced factor pins the full matrix
    assert resident_bytes([np.ascontiguousarray(big[:, :5]), "not an array"]) == 100 * 5 * 8
