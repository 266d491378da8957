"""The dask implementation of the built-in products, on a dask.distributed cluster: checked against the float64 reference like
every implementation, its chunking and workers recorded, impossible chunks refused at their line,
and a machine without dask told why its cases are skipped."""

import logging
import os
import sys

import numpy as np
import pytest

from labench.backends import dask_cluster
from labench.backends.dask_array import DaskBackend
from labench.core.host import usable_cores
from labench.results import reader

pytest.importorskip("dask.array")

REMOTE_TAIL = """
  - id: mv2
    workload: kernels.matvec
    params: {n: 40}
    implementations: [dask]
"""
SUITE = """
labench: 1
name: scale
defaults: {max_time: 0.01, warmup: 0.0, min_samples: 3, threads: [1, 2]}
benchmarks:
  - id: mm
    workload: kernels.matmul
    params: {n: 48, chunks: 16}
    implementations: [numpy, dask]
  - id: mv
    workload: kernels.matvec
    params: {n: 40}
    implementations: [numpy, dask]
  - id: lr
    workload: lowrank.matvec
    params: {n: 60, rank: 5, chunks: 20}
    implementations: [rsvd, dask]
    threads: 1
"""


def test_dask_products_match_the_reference_and_record_their_blocks(cli, write_suite, tmp_path):
    out = tmp_path / "r.json"
    outcome = cli("run", write_suite(SUITE), "-o", out, "-q")
    assert outcome.exit_code == 0, outcome.output
    cases = {case.key: case for case in reader.load(out).cases}
    assert all(case.status == "ok" for case in cases.values())
    assert dask_cluster._cluster is None  # the run's LocalCluster closed with it
    for threads in (1, 2):
        matmul = cases[f"mm/n=48,transfers=False,chunks=16/float64/t{threads}/dask"]
        assert matmul.metrics["error_rel"] < 1e-13
        assert (matmul.metrics["chunk_edge"], matmul.metrics["blocks"]) == (16.0, 9.0)
        assert matmul.metrics["tasks"] >= 9
        # this run's LocalCluster: one single-threaded worker per thread of the case
        workers = min(threads, usable_cores())
        assert matmul.thread_pools["dask workers"] == matmul.thread_pools["dask threads"] == workers
        assert matmul.metrics["cluster_remote"] == 0.0
        assert matmul.metrics["cluster_workers"] == usable_cores()
    matvec = cases["mv/n=40,transfers=False/float64/t1/dask"]
    assert (matvec.metrics["chunk_edge"], matvec.metrics["blocks"]) == (20.0, 4.0)
    lowrank = next(case for key, case in cases.items() if key.startswith("lr/") and "dask" in key)
    randomized = cases[lowrank.key.replace("/dask", "/rsvd")]
    assert lowrank.metrics["blocks"] == 3.0 and lowrank.metrics["factor_time"] > 0
    # the same randomized SVD: as close to the Eckart-Young optimum as NumPy's, within 10%
    assert lowrank.metrics["error_rel"] == pytest.approx(randomized.metrics["error_rel"], rel=0.1)


@pytest.mark.parametrize("isolated", [False, True])
def test_cases_measured_here_never_share_the_machine_with_the_cluster(write_suite, isolated):
    """A LocalCluster's idle workers took the cores of every all-core case measured after the
    first dask case (seen on a 16-core host): a pass measures what runs here first, whatever
    the suite's order, and closes the cluster when it ends."""
    from labench.core.progress import Observer
    from labench.execution.inprocess import InProcess
    from labench.execution.isolated import Isolated
    from labench.suite.load import load_suite

    suite = load_suite(
        write_suite(
            """
labench: 1
name: order
defaults: {max_time: 0.01, warmup: 0.0, min_samples: 3}
benchmarks:
  - {id: first, workload: kernels.matvec, params: {n: 40}, implementations: [dask]}
  - {id: then, workload: kernels.matvec, params: {n: 40}, implementations: [numpy]}
"""
        )
    )
    executor = Isolated(suite, {}) if isolated else InProcess()
    cluster_at_start = {}
    observer = Observer(
        started=lambda case: cluster_at_start.setdefault(case.benchmark, dask_cluster._cluster)
    )
    try:
        measured = [result.key.split("/")[0] for result in executor.run(suite.cases(), observer)]
        assert dask_cluster._cluster is None  # let go as the pass ended
    finally:
        executor.close()
    assert measured == ["then", "first"]
    if not isolated:  # in-process, the cluster is this process's: none while `then` ran
        assert cluster_at_start["then"] is None


def test_the_local_cluster_s_processes_count_as_the_case_s_own():
    """Its workers compute the case on this machine's cores: the contention check must count
    them (and their nannies) as the case's, not as neighbours."""
    try:
        held = dask_cluster.cluster()
        workers = set(held.client.run(os.getpid).values())
        found = DaskBackend().local_processes()
        assert workers <= set(found) and len(found) > len(workers)  # the nannies too
        assert os.getpid() not in found
    finally:
        dask_cluster.release()
    assert DaskBackend().local_processes() == []


def test_chunks_larger_than_the_matrix_are_refused_at_their_line(cli, write_suite):
    suite = write_suite(SUITE.replace("chunks: 16", "chunks: 64"))
    outcome = cli("validate", suite)
    assert outcome.exit_code == 2
    assert (
        f"{suite}:7:" in outcome.output and "chunks (64) must be at most n (48)" in outcome.output
    )


def test_without_dask_the_backend_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    found = DaskBackend().availability()
    assert not found.available and "pip install 'labench[dask]'" in found.reason


def test_isolated_workers_share_the_run_s_one_local_cluster(cli, write_suite, tmp_path):
    """A daemonic worker may not start a cluster: the parent starts one and passes it down."""
    out = tmp_path / "r.json"
    suite = SUITE.split("  - id: mv")[0] + REMOTE_TAIL
    outcome = cli("run", write_suite(suite), "-o", out, "-q", "--isolate")
    assert outcome.exit_code == 0, outcome.output
    cases = [case for case in reader.load(out).cases if case.implementation == "dask"]
    assert {case.benchmark for case in cases} == {"mm", "mv2"} and len(cases) == 4
    assert all(case.status == "ok" and case.metrics["cluster_remote"] == 0.0 for case in cases)
    assert dask_cluster._cluster is None  # closed with the run


@pytest.fixture(scope="module")
def scheduler():
    """A cluster of someone else's (two workers), reused by the tests of this module."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, dashboard_address=":0", silence_logs=logging.ERROR
    ) as cluster:
        yield cluster.scheduler_address


def test_a_named_scheduler_is_used_with_all_its_workers(
    cli, write_suite, tmp_path, monkeypatch, scheduler
):
    monkeypatch.setenv(dask_cluster.SCHEDULER, scheduler)
    out = tmp_path / "r.json"
    outcome = cli(
        "run", write_suite(SUITE.split("  - id: mv")[0].replace("[1, 2]", "1")), "-o", out, "-q"
    )
    assert outcome.exit_code == 0, outcome.output
    (case,) = [case for case in reader.load(out).cases if case.implementation == "dask"]
    assert case.status == "ok" and case.metrics["cluster_remote"] == 1.0
    assert case.thread_pools["dask workers"] == 2 and case.metrics["cluster_workers"] == 2


TINY = 2**20
"""A pretend machine of 1 MiB: a 200 x 200 float64 product no longer fits on it."""

BEYOND_THIS_MACHINE = """
labench: 1
name: big
defaults: {max_time: 0.01, warmup: 0.0, min_samples: 3}
benchmarks:
  - id: mm
    workload: kernels.matmul
    params: {n: 200, chunks: 100}
    implementations: [numpy, dask]
    dtype: [float64, float32]
  - id: mv
    workload: kernels.matvec
    params: {n: 300}
    implementations: [numpy, dask]
"""


@pytest.fixture
def tiny_machine(monkeypatch):
    """This machine pretends to hold 1 MiB; the cluster's memory is left as it reports it."""
    monkeypatch.setattr("labench.suite.check.total_memory", lambda: TINY)
    monkeypatch.setattr("labench.measure.case.available_memory", lambda: TINY)


def test_sizes_beyond_this_machine_run_on_the_cluster_and_are_checked_there(
    cli, write_suite, tmp_path, monkeypatch, scheduler, tiny_machine
):
    monkeypatch.setenv(dask_cluster.SCHEDULER, scheduler)
    out = tmp_path / "r.json"
    outcome = cli("run", write_suite(BEYOND_THIS_MACHINE), "-o", out, "-q")
    assert outcome.exit_code == 0, outcome.output
    cases = reader.load(out).cases
    for case in cases:
        if case.implementation == "numpy":
            assert case.status == "skipped" and "GiB available" in case.reason
        else:
            assert case.status == "ok", case.reason
            limit = 1e-12 if case.dtype == "float64" else 1e-5
            assert case.metrics["error_rel"] < limit
    (matmul,) = [c for c in cases if c.key == "mm/n=200,transfers=False,chunks=100/float64/t1/dask"]
    assert matmul.metrics["input_bytes"] == 2 * 200 * 200 * 8
    assert (matmul.metrics["blocks"], matmul.metrics["cluster_remote"]) == (4.0, 1.0)


def test_freivalds_check_tells_a_wrong_product_from_a_right_one():
    import dask.array as da

    from labench.workloads.dask_products import error_on_cluster

    rng = np.random.default_rng(3)
    a, b = (da.from_array(rng.standard_normal((60, 60)), chunks=20) for _ in range(2))
    right = a @ b
    wrong = right + da.from_array(np.eye(60) * 1e-3 * float(abs(right).max()), chunks=20)
    assert float(error_on_cluster(a, b, right, seed=1).compute(scheduler="sync")) < 1e-14
    assert float(error_on_cluster(a, b, wrong, seed=1).compute(scheduler="sync")) > 1e-5
    x = da.from_array(rng.standard_normal(60), chunks=20)
    assert float(error_on_cluster(a, x, (a @ x) * 1.01, seed=1).compute(scheduler="sync")) > 5e-3


def test_a_cluster_too_small_is_refused_at_the_line_with_its_memory(
    cli, write_suite, monkeypatch, tiny_machine
):
    monkeypatch.setattr(dask_cluster, "memory", lambda: (1000, "the dask cluster at tcp://h:1"))
    suite = write_suite(BEYOND_THIS_MACHINE)
    outcome = cli("validate", suite)
    assert outcome.exit_code == 2
    assert f"{suite}:7:" in outcome.output
    assert "more than this machine's 0.0 GiB of memory, and 0.0 GiB for dask" in outcome.output
    assert "reported by the dask cluster at tcp://h:1" in outcome.output


def test_without_a_cluster_path_a_size_beyond_this_machine_stays_refused(
    cli, write_suite, tiny_machine
):
    one_machine = BEYOND_THIS_MACHINE.replace("[numpy, dask]", "[numpy]")
    lowrank = one_machine + (
        "  - {id: lr, workload: lowrank.matvec, params: {n: 300, rank: 5},\n"
        "     implementations: [rsvd, dask]}\n"
    )
    outcome = cli("validate", write_suite(lowrank))
    assert outcome.exit_code == 2
    assert outcome.output.count("more than this machine's 0.0 GiB of memory") == 4
    assert "(its dask implementation makes its inputs on this machine)" in outcome.output


def test_a_daemonic_process_is_told_to_name_a_scheduler(monkeypatch):
    import multiprocessing

    monkeypatch.delenv(dask_cluster.SCHEDULER, raising=False)
    monkeypatch.setattr(multiprocessing.current_process(), "daemon", True, raising=False)
    with pytest.raises(RuntimeError, match="set LABENCH_DASK_SCHEDULER"):
        dask_cluster.Cluster()


def test_isolated_workers_given_a_scheduler_use_it_and_the_parent_starts_none(
    write_suite, scheduler
):
    """A fleet run hands its dask cases to isolated workers with the cluster's address."""
    from labench.core.progress import Observer
    from labench.execution.isolated import Isolated
    from labench.suite.load import load_suite

    suite = load_suite(write_suite(SUITE.split("  - id: mm")[0] + REMOTE_TAIL))
    executor = Isolated(suite, {}, environment={dask_cluster.SCHEDULER: scheduler})
    cases = list(executor.run(suite.cases(), Observer()))
    assert dask_cluster._cluster is None
    assert [case.status for case in cases] == ["ok", "ok"]
    assert all(case.metrics["cluster_remote"] == 1.0 for case in cases)
