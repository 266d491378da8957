"""Confirm on suspicion: which cases are re-measured, within what budget, and how the fresh
processes' medians decide, with a fake measurement standing in for spawned processes."""

from conftest import measured_case

from labench.confirm import Judging, confirm, suspects, within_budget
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
    base = keyed(run_of({1: 1e-5, 2: 1e-3, 3: 1e-3}), plan)
    new = keyed(run_of({1: 1.5e-5, 2: 1.2e-3, 3: 0.7e-3}), plan)
    found = [verdict.key for verdict in suspects(judging(base).verdicts(new, plan).values())]
    keys = list(plan)
    assert found == [keys[1], keys[0]]  # longest-running first; faster is no suspect


def test_the_budget_takes_a_prefix_and_always_at_least_one(write_suite):
    plan = planned(write_suite)
    keys = list(plan)
    assert within_budget(keys, plan, 1.3) == keys[:2]  # 0.6 s each
    assert within_budget(keys, plan, 0.01) == keys[:1]
    assert within_budget(keys, plan, 100) == keys


def judging(base):
    return Judging(run_view(base, "base"), 0.10, 0.01)


def fake_processes(draws):
    """A measurement that yields, per case and per call, the next process medians from
    `draws[key]`, and records what was asked."""
    asked = []

    def measure(cases, observer, count):
        asked.append(([case.key for case in cases], count))
        for case in cases:
            medians = [draws[case.key].pop(0) for _ in range(count)]
            yield measured_case(median=medians[0], seed=3, process_medians=medians).model_copy(
                update={"key": case.key}
            )

    return measure, asked


def test_fresh_processes_confirm_a_real_slowdown_and_clear_a_lucky_baseline(write_suite):
    plan = planned(write_suite)
    keys = list(plan)
    base = keyed(run_of({1: 1e-3, 2: 1e-3, 3: 1e-3}), plan)
    new = keyed(run_of({1: 1.3e-3, 2: 1.3e-3, 3: 1e-3}), plan)
    measure, asked = fake_processes(
        {  # case 1 is really 30% slower; case 2 drew a slow placement in the run
            keys[0]: [1.31e-3, 1.29e-3, 1.30e-3, 1.32e-3] * 2,
            keys[1]: [1.00e-3, 1.02e-3, 0.98e-3, 1.01e-3],
        }
    )
    outcome = confirm(new, judging(base), plan, measure, Observer(), budget=100, processes=4)
    # stage one: both suspects in 4 processes; stage two: the slower one in 4 more
    assert asked == [(keys[:2], 4), ([keys[0]], 4)]
    assert outcome.confirmed == keys[:2] and outcome.checked == [keys[0]] and outcome.left == []
    assert len(new.cases[0].timing.process_medians) == 9  # the run's own, then 4 + 4 fresh
    verdicts = judging(base).verdicts(new, plan)
    assert verdicts[keys[0]].verdict == "slower" and verdicts[keys[0]].basis == "noise model"
    assert verdicts[keys[1]].verdict == "same"
    assert verdicts[keys[2]].verdict == "same" and verdicts[keys[2]].basis == "one process"


def test_a_lopsided_lottery_is_cleared_by_the_second_look(write_suite):
    """The baseline drew a rare fast placement (34 vs the usual 56): four fresh draws all land
    in the slow mode and look like a regression; four more find the fast mode again."""
    plan = planned(write_suite)
    keys = list(plan)
    base = keyed(run_of({1: 34e-6, 2: 1e-3, 3: 1e-3}), plan)
    new = keyed(run_of({1: 56e-6, 2: 1e-3, 3: 1e-3}), plan)
    measure, asked = fake_processes(
        {keys[0]: [56e-6, 57e-6, 55.5e-6, 56.5e-6, 56e-6, 34e-6, 57e-6, 33.5e-6]}
    )
    outcome = confirm(new, judging(base), plan, measure, Observer(), budget=100)
    assert outcome.checked == [keys[0]] and len(asked) == 2
    assert judging(base).verdicts(new, plan)[keys[0]].verdict == "same"


def test_a_case_that_fails_in_a_fresh_process_keeps_its_measurement(write_suite):
    plan = planned(write_suite)
    keys = list(plan)
    base = keyed(run_of({1: 1e-3, 2: 1e-3, 3: 1e-3}), plan)
    new = keyed(run_of({1: 1.3e-3, 2: 1e-3, 3: 1e-3}), plan)
    before = new.cases[0]

    def measure(cases, observer, count):
        for case in cases:
            yield measured_case(status="error", seed=1).model_copy(update={"key": case.key})

    outcome = confirm(new, judging(base), plan, measure, Observer(), budget=100)
    assert outcome.confirmed == [] and new.cases[0] == before
    assert keys[0] not in outcome.left


def test_an_undecided_case_gets_a_second_look_that_settles_it(write_suite):
    """The miss measured on the quiet VM: 22% slower in five draws, p = 0.011, just short of
    alpha; nine draws settle it."""
    plan = planned(write_suite)
    keys = list(plan)
    base = keyed(run_of({1: 570e-6, 2: 1e-3, 3: 1e-3}), plan)
    new = keyed(run_of({1: 733.3e-6, 2: 1e-3, 3: 1e-3}), plan)
    draws = [673.5e-6, 664.9e-6, 699.1e-6, 714.2e-6, 690e-6, 705e-6, 680e-6, 710e-6]
    measure, asked = fake_processes({keys[0]: draws})
    after_stage_one = None

    def spy(cases, observer, count):
        nonlocal after_stage_one
        if len(asked) == 1:
            after_stage_one = judging(base).verdicts(new, plan)[keys[0]]
        yield from measure(cases, observer, count)

    outcome = confirm(new, judging(base), plan, spy, Observer(), budget=100)
    assert after_stage_one.verdict == "same" and 0.01 <= after_stage_one.p_value < 0.10
    assert outcome.checked == [keys[0]] and len(asked) == 2
    assert judging(base).verdicts(new, plan)[keys[0]].verdict == "slower"
