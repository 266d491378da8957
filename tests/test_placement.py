"""Forked workers re-draw their memory placement when they shift their heap first; confirmation
runs every suspect in one such worker per round."""

import multiprocessing
import sys

import pytest

from labench.core.progress import Observer
from labench.execution import fresh_placements
from labench.execution import isolated as isolation
from labench.execution.isolated import Isolated
from labench.execution.placement import jitter_heap
from labench.execution.rounds import Rounds
from labench.suite.load import load_suite


def _address_after(seed, queue):
    import numpy as np

    kept = jitter_heap(seed) if seed is not None else []
    probe = np.empty(300_000)  # above malloc's mmap threshold, like a benchmark's input
    small = np.empty(4096)  # 32 KB, from the heap: a 64 x 64 matrix
    queue.put((probe.ctypes.data, small.ctypes.data))
    del kept


def addresses(seed):
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_address_after, args=(seed, queue))
    child.start()
    found = queue.get()
    child.join()
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="fork and malloc layout as on Linux")
def test_forked_children_share_a_placement_unless_they_jitter():
    assert addresses(None) == addresses(None)  # the same heap, the same addresses
    jittered = {addresses(seed) for seed in (1, 2, 3, 4, 5, 6)}
    assert len({large for large, _ in jittered}) == 6  # mapped arrays: always elsewhere
    assert len({small for _, small in jittered}) >= 2  # heap blocks: often elsewhere


SUITE = """
labench: 1
name: t
defaults: {max_time: 0.01, warmup: 0.0, min_samples: 3}
benchmarks:
  - {id: a, workload: kernels.matvec, params: {n: 8}, implementations: [numpy]}
  - {id: b, workload: kernels.matmul, params: {n: 8}, implementations: [numpy]}
"""


@pytest.mark.parametrize("together, workers", [(False, 4), (True, 2)])
def test_together_runs_every_benchmark_in_one_worker_per_round(
    write_suite, monkeypatch, together, workers
):
    suite = load_suite(write_suite(SUITE))
    started = []
    real = isolation._one_worker

    def counting(context, pending, observer, order):
        started.append(([case.key for case in pending], order.jitter))
        yield from real(context, pending, observer, order)

    monkeypatch.setattr(isolation, "_one_worker", counting)
    executor = (
        fresh_placements(suite, {}, 2)
        if together
        else Rounds(Isolated(suite, {}, independent=True), 2)
    )
    measured = list(executor.run(suite.cases(), Observer()))
    assert len(started) == workers  # 2 rounds x (1 worker, or 1 per benchmark)
    assert all(jitter == together for _, jitter in started)
    assert [case.status for case in measured] == ["ok", "ok"]
    assert all(len(case.timing.process_medians) == 2 for case in measured)
