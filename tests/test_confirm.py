"""Confirm on suspicion: which cases are re-measured, within what budget, and how the fresh
processes' medians decide, with a fake measurement standing in for spawned processes."""

from conftest import measured_case

from labench.core.progress import Observer
from labench.execution.confirm import Judging, confirm, next_batch, suspects
from labench.judge.gate_settings import BATCH, CHECK_PROCESSES, CONFIRM_PROCESSES
from labench.results.model import Environment, Result, RunInfo, SuiteInfo
from labench.results.views import run_view
from labench.suite.load import load_suite

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
    found = [verdict.key for verdict in suspects(judging(base).verdicts(new, plan).values(), plan)]
    keys = list(plan)
    assert found == [keys[1], keys[0]]  # longest-running first; faster is no suspect


def numpy_and_numba(write_suite, sizes="4"):
    """The planned cases of a matmul with a NumPy and a Numba implementation, by key."""
    suite = (
        "labench: 1\nname: c\nbenchmarks:\n  - {id: b, workload: kernels.matmul, "
        f"params: {{n: {sizes}}}, implementations: [numpy, numba]}}\n"
    )
    return {case.key: case for case in load_suite(write_suite(suite)).cases()}


def test_suspects_whose_kernels_load_compiled_code_come_last(write_suite):
    """A fresh fork measuring a Numba case costs about 9 times a NumPy one (loading the
    kernel), so within a budget NumPy suspects go first, however long the Numba ones run."""
    plan = numpy_and_numba(write_suite)
    base = keyed(run_of({1: 1e-5, 2: 1e-3}), plan)
    new = keyed(run_of({1: 1.5e-5, 2: 1.5e-3}), plan)
    numpy_key, numba_key = list(plan)
    found = [verdict.key for verdict in suspects(judging(base).verdicts(new, plan).values(), plan)]
    assert found == [numpy_key, numba_key]


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


def cycled(values, count):
    """`count` draws going round `values`."""
    return [values[index % len(values)] for index in range(count)]


BOTH_LOOKS = CONFIRM_PROCESSES + CHECK_PROCESSES


def test_fresh_processes_confirm_a_real_slowdown_and_clear_a_lucky_baseline(write_suite):
    plan = planned(write_suite)
    keys = list(plan)
    base = keyed(run_of({1: 1e-3, 2: 1e-3, 3: 1e-3}), plan)
    new = keyed(run_of({1: 1.3e-3, 2: 1.3e-3, 3: 1e-3}), plan)
    measure, asked = fake_processes(
        {  # case 1 is really 30% slower; case 2 drew a slow placement in the run
            keys[0]: cycled([1.31e-3, 1.29e-3, 1.30e-3, 1.32e-3, 1.28e-3, 1.33e-3], BOTH_LOOKS),
            keys[1]: cycled([1.00e-3, 1.02e-3, 0.98e-3, 1.01e-3, 0.99e-3, 1.03e-3], BOTH_LOOKS),
        }
    )
    outcome = confirm(new, judging(base), plan, measure, Observer(), budget=100)
    # stage one: both suspects in fresh processes; stage two: the slower one in more
    assert asked == [(keys[:2], CONFIRM_PROCESSES), ([keys[0]], CHECK_PROCESSES)]
    assert outcome.confirmed == keys[:2] and outcome.checked == [keys[0]] and outcome.left == []
    assert len(new.cases[0].timing.process_medians) == 1 + CONFIRM_PROCESSES + CHECK_PROCESSES
    verdicts = judging(base).verdicts(new, plan)
    assert verdicts[keys[0]].verdict == "slower" and verdicts[keys[0]].basis == "noise model"
    assert verdicts[keys[1]].verdict == "same"
    assert verdicts[keys[2]].verdict == "same" and verdicts[keys[2]].basis == "one process"


def test_every_case_stage_one_finds_slower_is_checked_in_one_batch(write_suite):
    plan = planned(write_suite)
    keys = list(plan)
    base = keyed(run_of({1: 1e-3, 2: 2e-3, 3: 1e-3}), plan)
    new = keyed(run_of({1: 1.3e-3, 2: 2.6e-3, 3: 1e-3}), plan)
    slow = cycled([1.31, 1.29, 1.30, 1.32, 1.28, 1.33], BOTH_LOOKS)
    measure, asked = fake_processes(
        {keys[0]: [1e-3 * f for f in slow], keys[1]: [2e-3 * f for f in slow]}
    )
    outcome = confirm(new, judging(base), plan, measure, Observer(), budget=100)
    assert asked == [([keys[1], keys[0]], CONFIRM_PROCESSES), ([keys[1], keys[0]], CHECK_PROCESSES)]
    assert outcome.checked == [keys[1], keys[0]]


def test_suspects_on_every_core_come_after_those_that_leave_one_free(write_suite, monkeypatch):
    """A state of the machine that slows an all-core case can outlast the whole gated run,
    fresh processes included; a case that leaves a core free is confirmed first."""
    monkeypatch.setattr("labench.execution.confirm.usable_cores", lambda: 2)
    cases = load_suite(
        write_suite(
            """
labench: 1
name: c
defaults: {threads: [1, 2]}
benchmarks:
  - {id: b, workload: kernels.matmul, params: {n: 4}, implementations: [numpy]}
"""
        )
    ).cases()
    plan = {case.key: case for case in cases}
    one, both = list(plan)
    base = keyed(run_of({1: 1e-5, 2: 1e-3}), plan)  # the all-core case runs longer
    new = keyed(run_of({1: 1.5e-5, 2: 1.5e-3}), plan)
    found = [verdict.key for verdict in suspects(judging(base).verdicts(new, plan).values(), plan)]
    assert plan[both].threads == 2 and found == [one, both]


def test_batches_hold_one_kind_and_a_compiled_kernel_alone(write_suite):
    plan = numpy_and_numba(write_suite, "[4, 5]")
    kind = {key: plan[key].implementation for key in plan}
    numpy_first = sorted(plan, key=lambda key: kind[key] == "numba")
    costs = dict.fromkeys(plan, 0.1)
    first = next_batch(numpy_first, plan, costs, left=1.0)
    assert [kind[key] for key in first] == ["numpy", "numpy"]
    rest = numpy_first[len(first) :]
    assert next_batch(rest, plan, costs, left=1.0) == rest[:1]  # one numba case at a time
    assert next_batch(numpy_first, plan, costs, left=0.15) == numpy_first[:1]  # what fits


def test_every_suspect_is_examined_compiled_kernels_included(write_suite):
    """Without a cap, a Numba suspect (fresh processes cost it 0.45 s each on the 2-core VM) is
    confirmed after the cheaper NumPy one, never left `unsure` for its cost."""
    plan = numpy_and_numba(write_suite)
    numpy_key, numba_key = list(plan)
    base = keyed(run_of({1: 1e-3, 2: 1e-3}), plan)
    new = keyed(run_of({1: 1.3e-3, 2: 1.3e-3}), plan)
    measure, asked = fake_processes({key: [1e-3] * 12 for key in plan})
    outcome = confirm(new, judging(base), plan, measure, Observer())
    assert asked == [([numpy_key], CONFIRM_PROCESSES), ([numba_key], CONFIRM_PROCESSES)]
    assert outcome.confirmed == [numpy_key, numba_key] and outcome.left == []


def test_a_suspect_too_costly_to_measure_again_stays_unsure(write_suite):
    """Six fresh processes of a case whose inputs took 2 s to make (a large low-rank
    factorization) would cost 12 s: beyond a 4 s budget's first half it is left `unsure`, and
    a cheaper suspect after it is still confirmed."""
    plan = planned(write_suite)
    keys = list(plan)
    base = keyed(run_of({1: 1e-3, 2: 1e-3, 3: 1e-3}), plan)
    new = keyed(run_of({1: 1.3e-3, 2: 1.3e-3, 3: 1e-3}), plan)
    costly = {"setup_seconds": 2.0, "measure_seconds": 0.05}
    new.cases[0] = new.cases[0].model_copy(update={"metrics": new.cases[0].metrics | costly})
    cheap = {"setup_seconds": 0.001, "measure_seconds": 0.02}
    new.cases[1] = new.cases[1].model_copy(update={"metrics": new.cases[1].metrics | cheap})
    measure, asked = fake_processes({key: [1e-3] * BOTH_LOOKS for key in keys})
    outcome = confirm(new, judging(base), plan, measure, Observer(), budget=4)
    assert asked == [([keys[1]], CONFIRM_PROCESSES)]
    assert outcome.confirmed == [keys[1]] and outcome.left == [keys[0]]


def test_stage_one_takes_batches_while_half_the_budget_lasts_on_the_clock(write_suite):
    cases = load_suite(
        write_suite(SUITE.replace("n: [1, 2, 3]", "n: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"))
    ).cases()
    plan = {case.key: case for case in cases}
    keys = list(plan)
    base = keyed(run_of({n: 1e-3 for n in range(1, 11)}), plan)
    new = keyed(run_of({n: 1.3e-3 for n in range(1, 11)}), plan)
    now = [0.0]
    measure, asked = fake_processes({key: [1e-3] * 12 for key in keys})

    def one_second_a_batch(cases, observer, count):
        now[0] += 1.0
        yield from measure(cases, observer, count)

    outcome = confirm(
        new, judging(base), plan, one_second_a_batch, Observer(), budget=4, clock=lambda: now[0]
    )
    # half of 4 s: a batch at 0 s, another at 1 s, none at 2 s
    assert [len(cases) for cases, _ in asked] == [BATCH, BATCH]
    assert len(outcome.confirmed) == 2 * BATCH and len(outcome.left) == 10 - 2 * BATCH


def test_a_lopsided_lottery_is_cleared_by_the_second_look(write_suite):
    """The baseline drew a rare fast placement (34 vs the usual 56): fresh draws all land
    in the slow mode and look like a regression; more find the fast mode again, and the gate
    does not fail."""
    plan = planned(write_suite)
    keys = list(plan)
    base = keyed(run_of({1: 34e-6, 2: 1e-3, 3: 1e-3}), plan)
    new = keyed(run_of({1: 56e-6, 2: 1e-3, 3: 1e-3}), plan)
    measure, asked = fake_processes(
        {
            keys[0]: [
                *cycled([56e-6, 57e-6, 55.5e-6, 56.5e-6, 56e-6, 55e-6], CONFIRM_PROCESSES),
                *cycled([34e-6, 57e-6, 33.5e-6, 56e-6, 35e-6, 55.5e-6], CHECK_PROCESSES),
            ]  # stage one: all slow; stage two: the fast mode too
        }
    )
    after_stage_one = None

    def spy(cases, observer, count):
        nonlocal after_stage_one
        if len(asked) == 1:
            after_stage_one = judging(base).verdicts(new, plan)[keys[0]].verdict
        yield from measure(cases, observer, count)

    outcome = confirm(new, judging(base), plan, spy, Observer(), budget=100)
    assert after_stage_one == "slower"
    assert outcome.checked == [keys[0]] and len(asked) == 2
    # cleared: the baseline is a plausible draw of the new processes, so nothing fails, and
    # the verdict says the data cannot tell rather than `same` at a ratio of 1.6
    final = judging(base).verdicts(new, plan)[keys[0]]
    assert final.verdict == "unsure" and final.inconclusive and final.ratio > 1.5


PLACEMENTS = [0.655e-3, 0.66e-3, 0.695e-3, 0.702e-3, 0.71e-3, 0.712e-3]
"""Six fresh processes of a 256 x 256 matmul as the 2-core VM drew them, two in a faster
placement: with the run's own 0.70 ms, 17% above a 0.60 ms baseline but at p = 0.054."""


def test_the_second_look_decides_what_the_first_could_not(write_suite):
    """Seven draws leave a real slowdown `unsure` (moved beyond the threshold, not
    significantly); six more, as steady as most processes, make it `slower` (p = 0.009)."""
    plan = planned(write_suite)
    keys = list(plan)
    base = keyed(run_of({1: 0.60e-3, 2: 1e-3, 3: 1e-3}), plan)
    new = keyed(run_of({1: 0.70e-3, 2: 1e-3, 3: 1e-3}), plan)
    again = [0.70e-3, 0.71e-3, 0.69e-3, 0.70e-3, 0.705e-3, 0.695e-3]
    measure, asked = fake_processes({keys[0]: [*PLACEMENTS, *again]})
    first_look = []

    def spy(cases, observer, count):
        if len(asked) == 1:
            first_look.append(judging(base).verdicts(new, plan)[keys[0]])
        yield from measure(cases, observer, count)

    outcome = confirm(new, judging(base), plan, spy, Observer(), budget=100)
    assert first_look[0].verdict == "unsure" and first_look[0].inconclusive
    assert asked == [([keys[0]], CONFIRM_PROCESSES), ([keys[0]], CHECK_PROCESSES)]
    assert outcome.checked == [keys[0]]
    assert judging(base).verdicts(new, plan)[keys[0]].verdict == "slower"


def test_the_second_look_at_undecided_cases_stays_within_the_budget(write_suite):
    """A case found slower is always measured again before the gate may fail on it; one left
    undecided only while its planned cost fits in what is left of the budget."""
    plan = planned(write_suite)
    keys = list(plan)
    base = keyed(run_of({1: 0.60e-3, 2: 1e-3, 3: 1e-3}), plan)
    new = keyed(run_of({1: 0.70e-3, 2: 1.3e-3, 3: 1e-3}), plan)
    for index in (0, 1):  # 0.5 s a fresh process: 3 s for six
        costs = {"setup_seconds": 0.0, "measure_seconds": 0.5}
        new.cases[index] = new.cases[index].model_copy(update={"metrics": costs})
    slower = cycled([1.31e-3, 1.29e-3, 1.30e-3, 1.32e-3, 1.28e-3, 1.33e-3], BOTH_LOOKS)
    draws = {keys[0]: [*PLACEMENTS, *PLACEMENTS], keys[1]: slower}
    measure, asked = fake_processes({key: list(values) for key, values in draws.items()})
    now = [0.0]

    def half_again_as_long(cases, observer, count):
        now[0] += 1.5 * 0.5 * count * len(cases)
        yield from measure(cases, observer, count)

    # a 12 s budget: stage one plans both cases (6 s) in its 6 s half and takes 9 s, so the
    # plans of stage two are scaled by 1.5 (4.5 s a case) and 3 s are left: the slower case
    # is measured again anyway, the undecided one is not
    outcome = confirm(
        new, judging(base), plan, half_again_as_long, Observer(), 12, clock=lambda: now[0]
    )
    assert asked[0] == ([keys[1], keys[0]], CONFIRM_PROCESSES)
    assert asked[1:] == [([keys[1]], CHECK_PROCESSES)] and outcome.checked == [keys[1]]
    verdicts = judging(base).verdicts(new, plan)
    assert verdicts[keys[0]].inconclusive and verdicts[keys[1]].verdict == "slower"
    roomy = keyed(run_of({1: 0.70e-3, 2: 1.3e-3, 3: 1e-3}), plan)
    measure, asked = fake_processes({key: list(values) for key, values in draws.items()})
    outcome = confirm(roomy, judging(base), plan, measure, Observer(), budget=100)
    assert outcome.checked == [keys[1], keys[0]]


def test_a_disturbed_process_does_not_hide_a_slowdown(write_suite):
    """A steady case (1% between processes), 15% slower in every fresh process but one that a
    neighbour slowed to 1.9x. Over the first look's seven draws the standard deviation is 20%, and a t
    prediction interval would call the case `same` (p = 0.34); a slow process says nothing
    about how fast a draw can be, so the noise model judges on the fast side and the case
    stays slower through both stages."""
    plan = planned(write_suite)
    keys = list(plan)
    base = keyed(run_of({1: 500e-6, 2: 1e-3, 3: 1e-3}), plan)
    new = keyed(run_of({1: 500e-6 * 1.157, 2: 1e-3, 3: 1e-3}), plan)
    ratios = cycled([1.153, 1.149, 1.95, 1.16, 1.154, 1.151, 1.148, 1.156, 1.152, 2.02], BOTH_LOOKS)
    measure, _ = fake_processes({keys[0]: [500e-6 * r for r in ratios]})
    outcome = confirm(new, judging(base), plan, measure, Observer(), budget=100)
    assert outcome.checked == [keys[0]]
    assert judging(base).verdicts(new, plan)[keys[0]].verdict == "slower"


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
