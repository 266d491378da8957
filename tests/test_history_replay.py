"""benchmarks/history_replay.py: four gates replayed on a committed real history.

What the replay must do, whatever the history holds: count a run as a false alarm exactly when a
direct call of the gate alarms on one of its cases, hand every gate the same planted series,
plant the step where it says, and catch with labench's gate a step on a steady case."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
HISTORY = ROOT / "benchmarks" / "histories" / "one_case.json"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


replay = load("history_replay")
extract = load("extract_history")


@pytest.fixture(scope="module")
def history():
    return replay.read_history(HISTORY)


def steady_case(runs: int = 30, noise: float = 0.01, draws: int = 8, seed: int = 3):
    """A synthetic case steady to `noise` (log-normal) between runs and between processes."""
    rng = np.random.default_rng(seed)
    plain = 1e-3 * np.exp(noise * rng.standard_normal(runs))
    fresh = tuple(1e-3 * np.exp(noise * rng.standard_normal(draws)) for _ in range(runs))
    return replay.CaseSeries("steady", plain, fresh)


def test_the_committed_history_is_long_enough_to_plant_steps(history):
    gates = replay.gates()
    assert history.runs >= 26 and len(history.cases) == 6
    assert replay.trials(history, gates, 10, [0.15])


def test_honest_false_alarms_are_what_direct_calls_of_each_gate_give(history):
    gates = {gate.name: gate for gate in replay.gates()}
    warmup = 10
    runs = range(warmup, history.runs)
    direct_labench = sum(
        any(
            replay.labench_outcome(replay.labench_verdict(series, run)) == replay.ALARM
            for series in history.cases.values()
        )
        for run in runs
    )

    def bencher(previous, new):  # written out again: mean + t(0.99, n-1) sd sqrt(1 + 1/n)
        n = len(previous[-64:])
        limit = np.mean(previous[-64:]) + stats.t.ppf(0.99, n - 1) * np.std(
            previous[-64:], ddof=1
        ) * math.sqrt(1 + 1 / n)
        return new > limit

    direct_bencher = sum(
        any(bencher(series.plain[:run], series.plain[run]) for series in history.cases.values())
        for run in runs
    )
    for name, expected in [
        ("labench history gate", direct_labench),
        ("Bencher t-test (0.99)", direct_bencher),
    ]:
        result = replay.GateResult()
        replay.honest(history, gates[name], warmup, result)
        assert result.judged == len(runs)
        assert result.alarm_runs == expected


def test_the_one_shortcut_never_changes_labench_outcome(history):
    """Within the threshold by `beyond_threshold`, `compare.judge` itself passes the case."""
    skipped = 0
    for series in history.cases.values():
        for run in range(10, history.runs):
            base = replay.history_series(series.plain[:run])
            plain = float(series.plain[run])
            if replay.beyond_threshold(base, plain):
                continue
            skipped += 1
            full = replay.judge(series.key, base, replay.process_series([plain]), 0.10, 0.01)
            assert not full.looks_slower
            assert replay.labench_outcome(full) == replay.PASS
    assert skipped > 0


def test_every_gate_judges_the_identical_planted_series(history):
    seen = []
    gates = replay.gates()
    for gate in gates:

        def spy(series, runs, name=gate.name, inner=gate.outcomes):
            seen.append((name, series))
            return inner(series, runs)

        gate.outcomes = spy
    chosen = replay.trials(history, gates, 10, [0.10], limit=4)
    results = {gate.name: replay.GateResult() for gate in gates}
    replay.planted(history, gates, chosen, results)
    assert len(seen) == len(chosen) * len(gates)
    for index, trial in enumerate(chosen):
        batch = seen[index * len(gates) : (index + 1) * len(gates)]
        assert [name for name, _ in batch] == [gate.name for gate in gates]
        honest = history.cases[trial.key]
        for _, series in batch:
            assert series is batch[0][1]
            assert series.key == trial.key
            before, after = slice(None, trial.start), slice(trial.start, None)
            assert np.array_equal(series.plain[before], honest.plain[before])
            assert np.allclose(series.plain[after], honest.plain[after] * 1.10)
            assert np.allclose(series.fresh[trial.start], honest.fresh[trial.start] * 1.10)
            assert np.array_equal(series.fresh[trial.start - 1], honest.fresh[trial.start - 1])
    assert all(result.planted[0.10] == len(chosen) for result in results.values())


def test_trials_cover_every_case_within_what_every_gate_can_judge(history):
    gates = replay.gates()
    chosen = replay.trials(history, gates, 10, [0.05, 0.15], limit=12)
    assert len(chosen) == 24
    assert {trial.key for trial in chosen} == set(history.cases)
    perfherder = next(gate for gate in gates if gate.tolerance)
    judged = perfherder.judged(history.runs, 10)
    for trial in chosen:
        assert judged.start < trial.start < judged.stop - 1
        assert trial.start >= 10


def test_labench_catches_a_15_percent_step_on_a_steady_case_at_its_run():
    series = steady_case()
    start = 20
    honest = replay.labench_verdict(series, start)
    assert replay.labench_outcome(honest) == replay.PASS
    verdict = replay.labench_verdict(series.planted(start, 0.15), start)
    assert verdict.verdict == "slower"
    assert verdict.new.process_medians is not None  # confirmed in fresh draws first
    assert len(verdict.new.process_medians) == 1 + 6 + 2  # stage one 6, stage two the rest


def test_labench_leaves_a_step_unsure_when_the_runs_flags_say_contended():
    series = steady_case()
    start = 20
    flagged = replay.CaseSeries(
        series.key, series.plain, series.fresh, tuple(() for _ in series.plain)
    )
    flags = list(flagged.flags)
    flags[start] = ("contended",)
    flagged = replay.CaseSeries(series.key, series.plain, series.fresh, tuple(flags))
    planted = flagged.planted(start, 0.15)
    assert replay.labench_verdict(planted, start).verdict == "slower"
    kept = replay.labench_verdict(planted, start, flagged=True)
    assert kept.verdict == "unsure"
    assert replay.labench_outcome(kept) == replay.UNDECIDED


def test_perfherder_finds_a_step_at_its_run_and_nothing_on_a_flat_series():
    series = steady_case(runs=40)
    assert replay.perfherder_scan(series.plain) == set()
    found = replay.perfherder_scan(series.planted(20, 0.15).plain)
    assert found and found <= {19, 20, 21}
    # a step smaller than 2% is never an alert, however significant
    assert replay.perfherder_scan(np.r_[np.ones(20), 1.01 * np.ones(20)]) == set()


def test_online_gates_alarm_more_as_the_step_grows(history):
    gates = [gate for gate in replay.gates() if gate.name.startswith(("Bencher", "conbench"))]
    steps = [0.05, 0.10, 0.15]
    chosen = replay.trials(history, replay.gates(), 10, steps, limit=12)
    results = {gate.name: replay.GateResult() for gate in gates}
    replay.planted(history, gates, chosen, results)
    for result in results.values():
        detected = [result.detected[step] for step in steps]
        assert detected == sorted(detected)


def test_extraction_rounds_and_matches_loads_to_the_run_they_started(tmp_path):
    assert extract.rounded(1.234567e-05) == 1.235e-05
    log = tmp_path / "log.txt"
    log.write_text(
        "20261203T184433 start load 0.96 0.87 0.96\nnoise\n"
        "20261203T184539 end load 1.60 1.08 1.03\n"
        "20261203T184733 start load 2.17 1.51 1.20\n"
    )
    assert extract.load_averages(log) == {
        "20261203T184433": {"start": 0.96, "end": 1.60},
        "20261203T184733": {"start": 2.17},
    }
