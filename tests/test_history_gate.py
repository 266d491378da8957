"""run --against: the machine's history as the baseline of a gate."""

import json
import os

import numpy as np
import pytest
from conftest import measured_case, rescaled, synthetic_result
from test_history import jittered, write_history

from labench.judge.compare import compare, judge
from labench.judge.history_gate import case_baseline, current_level, history_baseline
from labench.present.comparison import comparison_summary
from labench.results import model as results
from labench.results import reader
from labench.results.model import Environment
from labench.results.store import opened
from labench.results.views import RunView, Series


def test_a_flat_history_is_all_one_level():
    medians = list(1e-3 * np.array(jittered(20)))
    assert current_level(medians, 5, 0.05) == (medians, None, medians)


def test_an_accepted_step_leaves_only_the_newest_level_as_the_baseline():
    medians = list(1e-3 * np.array(jittered(20)))
    medians[12:] = [1.3 * value for value in medians[12:]]
    level, pending, settled = current_level(medians, 5, 0.05)
    assert level == medians[12:] and pending is None and settled == medians


def test_a_young_step_is_not_accepted_and_the_level_before_stays_the_baseline():
    medians = list(1e-3 * np.array(jittered(20)))
    medians[17:] = [1.3 * value for value in medians[17:]]
    level, pending, settled = current_level(medians, 5, 0.05)
    assert level == medians[:17] and settled == medians[:17], "a young level is no state"
    assert pending == pytest.approx(1.3, rel=0.03)


def test_a_short_level_before_a_young_one_gives_way_to_every_run_before_it():
    medians = list(1e-3 * np.array(jittered(20)))
    medians[14:17] = [1.6 * value for value in medians[14:17]]  # three slow runs
    medians[17:] = [2.5 * value for value in medians[17:]]  # then a young level
    level, pending, _ = current_level(medians, 5, 0.05)
    assert level == medians[:17] and pending is not None


def test_the_baseline_holds_this_machine_and_suite_and_says_what_it_left_out(tmp_path):
    folder = write_history(tmp_path / "results", jittered(8))
    write_history(folder, jittered(3), machine="m2")
    other_suite = rescaled(
        synthetic_result([measured_case("numpy", 1e-3)]), 1.0, id="other", started="2026-01-03"
    )
    other_suite.suite.name = "another"
    results.save(other_suite, folder / "other.json")
    stopped = rescaled(synthetic_result([measured_case("numpy", 1e-3)]), 1.0, id="stopped")
    stopped.run.interrupted = True
    results.save(stopped, folder / "stopped.json")
    with opened(folder) as store:
        found = history_baseline(store, "s", Environment(machine_id="m1"), window=30, minimum=5)
    assert found.runs_used == 8
    assert found.view.label == "history (8 runs)"
    assert set(found.left_out) == {
        "3 runs of other machines",
        "1 runs of another suite (another)",
        "1 interrupted runs",
    }
    for series in found.view.cases.values():
        assert len(series.process_medians) == 8 and series.median == pytest.approx(1e-3, rel=0.03)
    header = found.header(folder, 30, 5)
    assert "8 runs of this machine and suite" in header[0]


def test_a_case_with_few_runs_on_its_level_is_judged_as_against_one_process(tmp_path):
    folder = write_history(tmp_path / "results", jittered(4))
    with opened(folder) as store:
        found = history_baseline(store, "s", Environment(machine_id="m1"), minimum=5)
    assert sorted(found.few) == sorted(found.view.cases)
    assert all(series.process_medians is None for series in found.view.cases.values())
    assert "fewer than 5 runs on their level" in " ".join(found.header(folder, 30, 5))


def test_a_young_step_is_named_in_the_header(tmp_path):
    factors = jittered(16)
    factors[13:] = [1.4 * factor for factor in factors[13:]]
    folder = write_history(tmp_path / "results", factors)
    with opened(folder) as store:
        found = history_baseline(store, "s", Environment(machine_id="m1"))
    assert set(found.pending) == set(found.view.cases)
    assert all(len(series.process_medians) == 13 for series in found.view.cases.values())
    assert "not yet accepted" in " ".join(found.header(folder, 30, 5))


@pytest.fixture
def slowed_suite(write_suite, tmp_path):
    """A one-case suite whose kernel repeats LABENCH_TEST_REPEAT times (default 20)."""
    (tmp_path / "slowed_workloads.py").write_text(
        """
import os
import numpy as np
from labench import Param, Workload, implementation

class Repeated(Workload):
    name = "test.repeated"
    summary = "an elementwise update, repeated"
    params = {"n": Param(256, int, positive=True, help="length")}
    dtypes = ("float64",)
    dtypes_reason = "float64 only"

    def make_inputs(self, params, dtype, rng):
        return {"x": rng.standard_normal(params["n"]), "y": rng.standard_normal(params["n"])}

    def reference(self, inputs, params):
        return inputs["x"] * 0.5 + inputs["y"]

    @implementation("numpy")
    def numpy(self, inputs, params):
        x, y = inputs["x"], inputs["y"]
        repeat = int(os.environ.get("LABENCH_TEST_REPEAT", "20"))

        def run():
            for _ in range(repeat):
                out = x * 0.5 + y
            return out

        return run
"""
    )
    return write_suite(
        "labench: 1\nname: slowed\ndefaults: {threads: 1, max_time: 0.1}\n"
        "benchmarks:\n  - id: upd\n    workload: slowed_workloads:Repeated\n"
        "    params: {n: [256]}\n"
    )


def test_a_run_four_times_as_slow_as_its_history_fails_after_confirming(
    cli, slowed_suite, tmp_path
):
    first = tmp_path / "first.json"
    assert cli("run", slowed_suite, "-o", first, "-q").exit_code == 0
    history = tmp_path / "history"
    history.mkdir()
    measured = reader.load(first)
    for index, factor in enumerate(jittered(8)):
        copy = rescaled(measured, factor, id=f"h{index}", started=f"2026-01-01T0{index}:00:00")
        results.save(copy, history / f"h{index}.json")
    # four times the work: beyond any busy moment of the one run the history is copied from
    os.environ["LABENCH_TEST_REPEAT"] = "80"
    try:
        gated = cli("run", slowed_suite, "--against", history, "-o", tmp_path / "new.json")
    finally:
        del os.environ["LABENCH_TEST_REPEAT"]
    output = " ".join(gated.output.split())
    assert "the history in" in output and "8 runs of this machine and suite" in output
    saved = json.loads((tmp_path / "new.json").read_text())
    (case,) = saved["cases"]
    if case["flags"]:
        # measured while another process took the cores: by design never failed on, but
        # never passed either: the run ends undecided, naming the case
        assert gated.exit_code == 3 and "UNDECIDED" in output and case["key"] in output
        return
    assert gated.exit_code == 1, gated.output
    assert "confirming in" in output and "REGRESSION" in output
    assert saved["run"]["confirmed"] == [case["key"]]


def test_against_refusals_are_one_paragraph_exit_2(cli, slowed_suite, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    shown = cli("run", slowed_suite, "--against", empty)
    assert shown.exit_code == 2 and "no result files" in shown.output
    others = write_history(tmp_path / "others", jittered(3), machine="elsewhere")
    shown = cli("run", slowed_suite, "--against", others)
    assert shown.exit_code == 2
    assert "no earlier run of suite 'slowed' on this machine" in " ".join(shown.output.split())
    assert "3 runs of other machines" in shown.output
    both = cli("run", slowed_suite, "--against", others, "--baseline", tmp_path / "x.json")
    assert both.exit_code == 2 and "give one" in both.output
    for refused in (shown, both):
        assert "Traceback" not in refused.output


def test_measurements_flagged_unsteady_are_left_out_of_the_baseline(tmp_path):
    folder = write_history(tmp_path / "results", jittered(8))
    base = synthetic_result([measured_case("numpy", 1e-3), measured_case("numba", 1e-3)])
    for index in range(2):
        busy = rescaled(base, 3.0, id=f"busy{index}", started=f"2026-01-02T0{index}:00:00")
        for case in busy.cases:
            case.flags = ["contended"]
        results.save(busy, folder / f"busy{index}.json")
    with opened(folder) as store:
        found = history_baseline(store, "s", Environment(machine_id="m1"))
    assert found.runs_used == 10
    for series in found.view.cases.values():
        assert len(series.process_medians) == 8
        assert series.median == pytest.approx(1e-3, rel=0.03)
    assert any("4 case measurements flagged" in reason for reason in found.left_out)


HOPPING = [1.0] * 8 + [1.7] * 6 + [1.0] * 6 + [1.7] * 6 + [1.0] * 6
"""A case that moves between a fast and a slow state of the machine, each lasting runs."""


def history_of(factors):
    return [1e-3 * factor * wobble for factor, wobble in zip(factors, jittered(len(factors)), strict=True)]


def fresh_processes(median):
    """A new run's case measured in six processes, tightly."""
    values = np.array([median * wobble for wobble in jittered(6)])
    median = float(np.median(values))
    return Series(status="ok", median=median, samples=None, process_medians=values)


def test_a_run_as_slow_as_a_state_the_case_returns_to_is_unsure_not_slower():
    found = case_baseline(history_of(HOPPING), [False] * len(HOPPING))
    assert len(found.series.process_medians) == 6, "judged against its current level"
    assert len(found.series.history) == 30, "the newest 30 runs, the window"
    in_state = judge("k", found.series, fresh_processes(1.7e-3), 0.10, 0.01)
    assert (in_state.verdict, in_state.doubt) == ("unsure", "state")
    assert in_state.might_be_slower, "examined, and a gate left with it ends undecided"
    for slower in (1.15e-3, 1.7e-3 * 1.15):  # beyond the threshold of either state
        assert judge("k", found.series, fresh_processes(slower), 0.10, 0.01).verdict == "slower"
    here = Environment(machine_id="m1")
    runs = [
        RunView("history", here, {"k": found.series}),
        RunView("new", here, {"k": fresh_processes(1.7e-3)}),
    ]
    comparison = compare(runs, 0.10, 0.01)
    assert [verdict.key for verdict in comparison.undecided()] == ["k"]
    said = " ".join(comparison_summary(comparison).split())
    assert "as slow as earlier runs of theirs after which they came back" in said


def test_slow_runs_scattered_in_the_current_level_are_a_state_too():
    """Single slow runs among fast ones: the level holds them, and they came after fast ones."""
    scattered = [1.0] * 6 + [1.7] + [1.0] * 6 + [1.7] + [1.0] * 6
    found = case_baseline(history_of(scattered), [False] * len(scattered))
    in_state = judge("k", found.series, fresh_processes(1.7e-3), 0.10, 0.01)
    assert (in_state.verdict, in_state.doubt) == ("unsure", "state")
    once = [1.0] * 12 + [1.7] + [1.0] * 6  # seen once: not a state yet
    found = case_baseline(history_of(once), [False] * len(once))
    assert judge("k", found.series, fresh_processes(1.7e-3), 0.10, 0.01).verdict == "slower"


def test_a_change_that_undoes_an_improvement_is_slower_however_slow_the_code_once_was():
    improved = [1.0] * 10 + [0.6] * 10
    found = case_baseline(history_of(improved), [False] * len(improved))
    assert found.series.median == pytest.approx(0.6e-3, rel=0.03)
    assert judge("k", found.series, fresh_processes(1e-3), 0.10, 0.01).verdict == "slower"


def test_a_young_slow_level_is_no_state_even_in_a_case_that_hops():
    """A regression's first runs never become the state that would excuse it."""
    regressed = HOPPING + [2.5] * 3
    found = case_baseline(history_of(regressed), [False] * len(regressed))
    assert found.pending == pytest.approx(2.5, rel=0.05)
    assert len(found.series.history) == 27, "the newest 30 runs but the young level's 3"
    assert judge("k", found.series, fresh_processes(2.5e-3), 0.10, 0.01).verdict == "slower"
