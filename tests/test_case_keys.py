"""Adding dask to the built-in products changed nothing for suites written before it: the keys
of a kept result still match (a new parameter left at its default stays out of the key), and a
benchmark without an implementation list does not start running the opt-in `dask`."""

import json
from pathlib import Path

from labench.suite.load import load_suite
from labench.suite.shipped import folder
from labench.workloads import BUILTIN

KEPT = Path(__file__).resolve().parent.parent / "results" / "example-seed-claims-epyc-2core.json"


def test_the_keys_of_a_kept_result_still_match_its_suite():
    kept = {case["key"] for case in json.loads(KEPT.read_text())["cases"]}
    planned = {case.key for case in load_suite(folder() / "seed-claims.yaml").cases()}
    assert "blas_threads/n=1000,transfers=False/float64/t1/numpy" in kept
    assert (
        "compress/n=1000,m=None,rank=50,matrix=poly,oversample=10,power_iters=2/float64/t1/rsvd"
        in kept
    )
    assert kept <= planned


def test_a_parameter_away_from_its_default_is_keyed(write_suite):
    suite = load_suite(
        write_suite(
            """
            labench: 1
            name: k
            benchmarks:
              - {id: mm, workload: kernels.matmul, params: {n: 8, chunks: [0, 4]},
                 implementations: [numpy]}
            """
        )
    )
    assert [case.key for case in suite.cases()] == [
        "mm/n=8,transfers=False/float64/t1/numpy",
        "mm/n=8,transfers=False,chunks=4/float64/t1/numpy",
    ]


def test_dask_runs_only_where_a_suite_names_it(write_suite):
    suite = load_suite(
        write_suite(
            """
            labench: 1
            name: k
            benchmarks:
              - {id: all, workload: kernels.matvec, params: {n: 8}}
              - {id: named, workload: kernels.matvec, params: {n: 8},
                 implementations: [numpy, dask]}
            """
        )
    )
    ran = {(case.benchmark, case.implementation) for case in suite.cases()}
    assert ("all", "dask") not in ran and ("all", "numba") in ran
    assert ("named", "dask") in ran
    for name in ("kernels.matmul", "kernels.matvec", "lowrank.matvec", "lowrank.matmul"):
        implementations = BUILTIN[name].implementations
        assert implementations["dask"].opt_in and list(implementations)[-1] == "dask"
