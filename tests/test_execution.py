"""The execution strategies' shared parts: the work order a worker rebuilds its cases from, and
the choice of strategy from the command line's options."""

import pytest

from labench.core.errors import InputError
from labench.execution import choose
from labench.execution.inprocess import InProcess
from labench.execution.isolated import Isolated
from labench.execution.rounds import Rounds
from labench.execution.workorder import WorkOrder
from labench.suite.load import load_suite

SUITE = """
labench: 1
name: order
defaults: {max_time: 0.01, warmup: 0.0, min_samples: 3}
benchmarks:
  - id: c
    workload: faulty_workloads:Counted
    params: {n: [2, 3]}
"""


def test_a_work_order_carries_the_suite_text_and_only_steering_variables(write_suite, monkeypatch):
    path = write_suite(SUITE)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("NUMBA_NUM_THREADS", "2")
    monkeypatch.setenv("PATH", "/nowhere")
    monkeypatch.setenv("SECRET_TOKEN", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "never-leaves-this-process")
    suite = load_suite(path)
    order = WorkOrder.of(suite, {"max_time": 0.02})
    assert order.suite_bytes == path.read_bytes()
    assert order.environment["OMP_NUM_THREADS"] == "1"
    assert order.environment["NUMBA_NUM_THREADS"] == "2"
    assert "PATH" not in order.environment and "SECRET_TOKEN" not in order.environment
    assert "never-leaves-this-process" not in repr(order)
    assert (
        "faulty_workloads" in order.modules and "class Counted" in order.modules["faulty_workloads"]
    )

    planned = suite.cases()
    path.unlink()  # a remote worker has no copy of the file
    rebuilt = order.rebuild([case.key for case in planned], [case.settings for case in planned])
    assert [case.key for case in rebuilt] == [case.key for case in planned]
    assert [case.settings for case in rebuilt] == [case.settings for case in planned]


def test_a_damaged_or_changed_suite_is_refused(write_suite):
    path = write_suite(SUITE)
    suite = load_suite(path)
    order = WorkOrder.of(suite, {})
    damaged = WorkOrder(order.suite_label, order.suite_bytes + b"#", order.sha256, {}, {})
    with pytest.raises(InputError, match="arrived damaged"):
        damaged.rebuild([], [])
    path.write_text(SUITE + "# edited\n")
    with pytest.raises(InputError, match="changed on disk"):
        WorkOrder.of(suite, {})


def test_choose_picks_the_strategy_or_says_why_not(write_suite):
    suite = load_suite(write_suite(SUITE))
    common = {"timeout": None, "processes": 1}
    assert isinstance(choose(suite, {}, isolate=False, **common), InProcess)
    assert isinstance(choose(suite, {}, isolate=True, **common), Isolated)
    rounds = choose(suite, {}, isolate=False, processes=3, timeout=None)
    assert isinstance(rounds, Rounds) and rounds.stops_hung_cases
    assert rounds.describe() == "isolated (spawn), 3 processes in rounds"
    with pytest.raises(InputError, match="--timeout needs --isolate"):
        choose(suite, {}, isolate=False, processes=1, timeout=1.0)
    assert choose(suite, {}, isolate=True, processes=1, timeout=1.0).stops_hung_cases
