"""The dask implementation of the built-in products, on a dask.distributed cluster: checked against the float64 reference like
every implementation, its chunking and workers recorded, impossible chunks refused at their line,
and a machine without dask told why its cases are skipped."""

import logging
import sys

import pytest

from labench import results
from labench.backends import dask_cluster
from labench.backends.dask_array import DaskBackend
from labench.threads import usable_cores

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
    cases = {case.key: case for case in results.load(out).cases}
    assert all(case.status == "ok" for case in cases.values())
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
    cases = [case for case in results.load(out).cases if case.implementation == "dask"]
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
    (case,) = [case for case in results.load(out).cases if case.implementation == "dask"]
    assert case.status == "ok" and case.metrics["cluster_remote"] == 1.0
    assert case.thread_pools["dask workers"] == 2 and case.metrics["cluster_workers"] == 2
