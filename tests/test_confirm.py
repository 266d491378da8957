"""Confirm on suspicion: which cases are re-measured, within what budget, and how the fresh
processes' medians decide, with a fake measurement standing in for spawned processes."""

from conftest import measured_case

from labench.compare import compare
from labench.confirm import confirm, suspects, within_budget
from labench.interop import run_view
from labench.results import Environment, Result, RunInfo, SuiteInfo
from labench.runner import Observer
from labench.suite import load_suite

SUITE = """
labench: 1
name: c
defaults: {max_time: 0.5, warmup: 0.1}
benchmarks:
  - {id: b, workload: kernels.matmul, params: {n: [1, 2, 3]}, implementations: [numpy]}
"""


def planned(write_suite):
    cases = load_suite(write_suite(SUITE)).cases()
    return {case.key: case for case in cases}


def run_of(medians, processes=None):
    """A result holding one case per n with these medians (in one process, or with the
    given per-process medians)."""
    cases = [
        measured_case(
            median=median,
            n=n,
            seed=n,
            spread=0.005,
            process_medians=(processes or {}).get(n, ()),
        )
        for n, median in medians.items()
    ]
    return Result(
        suite=SuiteInfo(name="c", path="c.yaml", sha256="0" * 64, baselines={}),
        run=RunInfo(id="x", started="now", labench_version="0", command=[]),
        environment=Environment(machine_id="m"),
        cases=cases,
    )


def keyed(result, plan):
    """Give the synthetic cases the keys of the planned ones (same order)."""
    for case, key in zip(result.cases, plan, strict=True):
        case.key = key
    return result


def test_suspects_are_the_cases_that_moved_the_slow_way(write_suite):
    plan = planned(write_suite)
    base = keyed(run_of({1: 1e-3, 2: 1e-3, 3: 1e-3}), plan)
    new = keyed(run_of({1: 1.5e-3, 2: 1.2e-3, 3: 0.7e-3}), plan)
    comparison = compare([run_view(base, "base"), run_view(new, "new")])
    found = [verdict.key for verdict in suspects(comparison)]
    keys = list(plan)
    assert found == [keys[0], keys[1]]  # largest apparent slowdown first; faster is no suspect


def test_the_budget_takes_a_prefix_and_always_at_least_one(write_suite):
    plan = planned(write_suite)
    keys = list(plan)
    assert within_budget(keys, plan, 1.3) == keys[:2]  # 0.6 s each
    assert within_budget(keys, plan, 0.01) == keys[:1]
    assert within_budget(keys, plan, 100) == keys


def test_fresh_processes_confirm_a_real_slowdown_and_clear_a_lucky_baseline(write_suite):
    plan = planned(write_suite)
    keys = list(plan)
    base = keyed(run_of({1: 1e-3, 2: 1e-3, 3: 1e-3}), plan)
    new = keyed(run_of({1: 1.3e-3, 2: 1.3e-3, 3: 1e-3}), plan)
    fresh = {  # case 1 is really 30% slower; case 2 drew a slow placement in the run
        keys[0]: [1.31e-3, 1.29e-3, 1.30e-3, 1.32e-3],
        keys[1]: [1.00e-3, 1.02e-3, 0.98e-3, 1.01e-3],
    }
    asked = []

    def measure(cases, observer, count):
        asked.append(([case.key for case in cases], count))
        for case in cases:
            medians = fresh[case.key]
            yield measured_case(median=medians[0], seed=3, process_medians=medians).model_copy(
                update={"key": case.key}
            )

    outcome = confirm(new, keys[:2], plan, measure, Observer(), budget=100, processes=4)
    assert asked == [(keys[:2], 4)]
    assert outcome.confirmed == keys[:2] and outcome.left == []
    assert len(new.cases[0].timing.process_medians) == 5  # the run's own, then four fresh
    verdicts = {
        v.key: v for v in compare([run_view(base, "base"), run_view(new, "new")]).verdicts[0]
    }
    assert verdicts[keys[0]].verdict == "slower" and verdicts[keys[0]].basis == "noise model"
    assert verdicts[keys[1]].verdict == "same"
    assert verdicts[keys[2]].verdict == "same" and verdicts[keys[2]].basis == "one process"


def test_a_case_that_fails_in_a_fresh_process_keeps_its_measurement(write_suite):
    plan = planned(write_suite)
    keys = list(plan)
    new = keyed(run_of({1: 1.3e-3, 2: 1e-3, 3: 1e-3}), plan)
    before = new.cases[0]

    def measure(cases, observer, count):
        for case in cases:
            yield measured_case(status="error", seed=1).model_copy(update={"key": case.key})

    outcome = confirm(new, keys[:1], plan, measure, Observer(), budget=100)
    assert outcome.confirmed == [] and new.cases[0] == before
