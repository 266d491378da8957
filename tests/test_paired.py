"""Paired A/B statistics (judge/paired.py) on synthetic data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labench.core.errors import InputError
from labench.judge.gates import CaseGate
from labench.judge.paired import (
    Schedule,
    classify,
    look,
    paired_comparison,
    paired_logs,
    paired_test,
    sequential,
    side_drift,
)
from labench.results.model import Environment
from labench.results.views import RunView, Series

SCHEDULE = Schedule(first=6, step=6, cap=24)
GATE = CaseGate(0.02)


def rounds_of(medians: np.ndarray) -> Series:
    return Series("ok", float(np.median(medians)), None, process_medians=np.asarray(medians))


def honest_pair(rng: np.random.Generator, rounds: int, drift: float, noise: float):
    """Both sides measured round by round on a machine whose speed wanders by `drift` (log sd
    from round to round, shared by the round's two measurements) plus `noise` per process."""
    machine = np.cumsum(rng.normal(0, drift, rounds))
    base = 1e-3 * np.exp(machine + rng.normal(0, noise, rounds))
    new = 1e-3 * np.exp(machine + rng.normal(0, noise, rounds))
    return base, new


def test_looks_are_fixed_and_alpha_is_split_over_them():
    assert SCHEDULE.looks == (6, 12, 18, 24)
    assert SCHEDULE.level(0.01) == pytest.approx(0.0025)
    assert Schedule(6, 5, 12).looks == (6, 11, 12)
    assert Schedule(6, 6, 6).looks == (6,)


@pytest.mark.parametrize(
    ("first", "step", "cap", "says"),
    [(2, 6, 24, "at least 3 rounds"), (6, 0, 24, "--step"), (12, 6, 6, "below --rounds")],
)
def test_a_schedule_that_cannot_work_is_refused(first, step, cap, says):
    with pytest.raises(InputError, match=says):
        Schedule(first, step, cap)


def test_honest_pairs_on_a_drifting_machine_are_the_same():
    """The machine drifts by 30% over the run; both sides of each round share the drift, so the
    pairs see only the 1% process noise."""
    base, new = honest_pair(np.random.default_rng(3), 12, drift=0.1, noise=0.01)
    assert max(base) / min(base) > 1.3  # the machine really moved
    verdict = look("k", rounds_of(base), rounds_of(new), GATE, 0.0025)
    assert verdict.verdict == "same"
    assert verdict.basis == "pairs"
    assert verdict.ci95 is not None and verdict.ci95[0] < 1 < verdict.ci95[1]


def test_a_planted_ratio_is_caught_with_its_interval():
    base, new = honest_pair(np.random.default_rng(4), 12, drift=0.1, noise=0.01)
    verdict = look("k", rounds_of(base), rounds_of(new * 1.05), GATE, 0.0025)
    assert verdict.verdict == "slower"
    assert verdict.ci95 is not None and verdict.ci95[0] < 1.05 < verdict.ci95[1]
    assert verdict.ratio == pytest.approx(1.05, abs=0.01)


def test_a_benchmark_s_own_gate_is_honoured():
    base, new = honest_pair(np.random.default_rng(4), 12, drift=0.1, noise=0.01)
    slower = rounds_of(base), rounds_of(new * 1.05)
    assert look("k", *slower, CaseGate(0.10), 0.0025).verdict == "same"
    excluded = look("k", *slower, CaseGate(0.02, excluded="sleeps on purpose"), 0.0025)
    assert excluded.verdict == "excluded"
    assert excluded.ratio == pytest.approx(1.05, abs=0.01)


def test_a_faster_side_is_faster():
    base, new = honest_pair(np.random.default_rng(5), 12, drift=0.05, noise=0.01)
    assert look("k", rounds_of(base), rounds_of(new / 1.1), GATE, 0.0025).verdict == "faster"


def test_a_move_beyond_the_threshold_without_evidence_is_unsure():
    base, new = honest_pair(np.random.default_rng(6), 6, drift=0.0, noise=0.2)
    verdict = look("k", rounds_of(base), rounds_of(new * 1.1), GATE, 0.0025)
    assert (verdict.verdict, verdict.doubt) == ("unsure", "spread")
    assert verdict.moved_slower


def test_identical_pairs_are_the_same_with_p_one():
    times = np.full(6, 1e-3)
    test = paired_test(np.log(times / times))
    assert (test.ratio, test.p_value, test.ci95) == (1.0, 1.0, None)
    assert classify(test, 0.0, 0.01) == ("same", "")


def test_a_broken_side_is_judged_as_compare_judges_it():
    ok = rounds_of(np.full(6, 1e-3))
    broken = Series("error", None, None)
    assert look("k", ok, broken, GATE, 0.0025).verdict == "broken"


def test_pairs_need_the_same_rounds_on_both_sides():
    with pytest.raises(ValueError, match="same rounds"):
        paired_logs(rounds_of(np.ones(6)), rounds_of(np.ones(5)))


def honest_cases(count: int = 1500) -> np.ndarray:
    """Per-round log ratios of unchanged cases, up to SCHEDULE's cap (fixed seed)."""
    return np.random.default_rng(20261203).normal(0, 0.03, (count, SCHEDULE.cap))


def naive_slower(logs: np.ndarray, alpha: float) -> bool:
    """Whether looking at SCHEDULE's looks, each at the full `alpha`, calls the case slower."""
    for rounds in SCHEDULE.looks:
        outcome, _ = classify(paired_test(logs[:rounds]), 0.0, alpha)
        if outcome != "unsure":
            return outcome == "slower"
    return False


def test_the_split_keeps_the_false_alarm_rate_over_all_looks():
    """Bonferroni over four looks: P(any look calls an unchanged case slower) <= alpha / 2 (one
    side of a two-sided alpha), threshold 0 so every significant move counts. Testing each look
    at the full alpha would not keep it."""
    alpha = 0.1
    cases = honest_cases()
    split = np.mean([sequential(logs, SCHEDULE, 0.0, alpha)[0] == "slower" for logs in cases])
    naive = np.mean([naive_slower(logs, alpha) for logs in cases])
    assert split <= alpha / 2
    assert naive > alpha / 2


def test_sequential_stops_at_the_first_look_that_decides():
    rng = np.random.default_rng(8)
    clear = rng.normal(math.log(1.2), 0.01, 24)
    assert sequential(clear, SCHEDULE, 0.02, 0.01) == ("slower", 6)
    noisy = rng.normal(math.log(1.03), 0.05, 24)
    outcome, rounds = sequential(noisy, SCHEDULE, 0.02, 0.01)
    assert rounds > 6 or outcome != "slower"


def test_sequential_power_on_a_five_percent_slowdown():
    """A 5% slowdown with 3% noise per pair, threshold 2%: caught by the cap in nearly every
    case (fixed seed; the campaign measures the real figure)."""
    rng = np.random.default_rng(9)
    outcomes = [
        sequential(rng.normal(math.log(1.05), 0.03, 24), SCHEDULE, 0.02, 0.01)[0]
        for _ in range(200)
    ]
    assert outcomes.count("slower") / len(outcomes) > 0.95


def test_drift_is_the_median_move_from_first_to_last_round():
    moved = [rounds_of(np.array([1.0, 1.1, 1.2])), rounds_of(np.array([2.0, 2.0, 2.4]))]
    assert side_drift(moved) == pytest.approx(1.2)
    assert side_drift([rounds_of(np.array([1.0]))]) is None


def test_a_paired_comparison_reads_like_compare_s():
    base, new = honest_pair(np.random.default_rng(10), 6, drift=0.05, noise=0.01)
    run = lambda label, times: RunView(label, Environment(machine_id="m"), {"k": rounds_of(times)})  # noqa: E731
    comparison, pairing = paired_comparison(
        run("base.json", base),
        run("new.json", new * 1.3),
        {"k": 6},
        {"base": ["gone"], "new": []},
        Schedule(6, 6, 6),
        0.02,
        0.01,
    )
    assert [v.verdict for v in comparison.regressions()] == ["slower"]
    assert comparison.only_in == {"base.json": ["gone"], "new.json": []}
    assert comparison.alpha == pytest.approx(0.01)
    assert pairing.rounds == {"k": 6} and pairing.level == pytest.approx(0.01)
