import json

import numpy as np
import pytest

from labench.backends.base import Availability
from labench.core.progress import Observer
from labench.execution.session import new_result, run_suite
from labench.results import reader
from labench.suite.load import load_suite

SUITE = """
labench: 1
name: faulty
defaults: {max_time: 0.02, warmup: 0.0}
benchmarks:
  - id: double
    workload: faulty_workloads:Doubling
    params: {n: 500}
"""


def run(path, tmp_path, observer=None):
    suite = load_suite(path)
    result = new_result(suite, {})
    out = tmp_path / "out.json"
    run_suite(suite.cases(), result, out, observer or Observer())
    return {case.implementation: case for case in result.cases}, out


def test_only_correct_kernels_are_timed(write_suite, tmp_path):
    cases, _ = run(write_suite(SUITE), tmp_path)
    assert cases["honest"].status == "ok"
    assert cases["honest"].timing.median > 0
    assert cases["honest"].metrics["error_rel"] == 0.0

    wrong = cases["fast_wrong"]
    assert wrong.status == "wrong" and wrong.timing is None
    assert wrong.metrics["error_rel"] == pytest.approx(0.5)
    assert "exceeds the tolerance" in wrong.reason

    assert cases["crashing"].status == "error"
    assert cases["crashing"].reason == "RuntimeError: kernel exploded"
    assert cases["misshapen"].status == "wrong" and "shape (499,)" in cases["misshapen"].reason
    assert cases["nan"].status == "wrong"


def test_all_zero_inputs_are_refused(write_suite, tmp_path):
    cases, _ = run(
        write_suite(
            "labench: 1\nname: z\nbenchmarks:\n  - {id: z, workload: faulty_workloads:Zeros}\n"
        ),
        tmp_path,
    )
    assert cases["copy"].status == "error"
    assert "all zeros" in cases["copy"].reason


def test_cases_beyond_available_memory_are_skipped_before_allocating(
    write_suite, tmp_path, monkeypatch
):
    monkeypatch.setattr("labench.measure.case.available_memory", lambda: 1000)
    cases, _ = run(write_suite(SUITE), tmp_path)
    assert {case.status for case in cases.values()} == {"skipped"}
    assert "needs 0.00 GiB of memory, only 0.00 GiB available" in cases["honest"].reason


def test_unavailable_backend_skips_with_its_reason(write_suite, tmp_path, monkeypatch):
    monkeypatch.setattr(
        "labench.measure.case.availability", lambda name: Availability(False, "no device")
    )
    cases, _ = run(write_suite(SUITE), tmp_path)
    assert cases["honest"].status == "skipped"
    assert cases["honest"].reason == "backend numpy unavailable: no device"


def test_same_inputs_for_every_implementation_and_every_run(write_suite):
    suite = load_suite(write_suite(SUITE))
    first, second = suite.cases()[:2]
    x1 = first.workload.make_inputs(first.params, np.dtype("float64"), first.rng())
    x2 = second.workload.make_inputs(second.params, np.dtype("float64"), second.rng())
    assert (x1["x"] == x2["x"]).all() and x1["x"].any()


def test_interrupted_run_keeps_every_finished_case(write_suite, tmp_path):
    def interrupt_after_two(case_result, seen=[]):  # noqa: B006 - counter across calls
        seen.append(case_result)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(write_suite(SUITE), tmp_path, Observer(finished=interrupt_after_two))
    saved = reader.load(tmp_path / "out.json")
    assert saved.run.interrupted
    assert [case.implementation for case in saved.cases] == ["honest", "fast_wrong"]
    assert saved.run.finished is not None
    assert not list(tmp_path.glob(".*.tmp"))
    json.loads((tmp_path / "out.json").read_text())
