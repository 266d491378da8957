import gc
import time

import pytest

from labench.core.clock import cpu_loop_timer
from labench.measure.timing import MIN_SAMPLE_TIME, Policy, calibrate, first_call, sample


def busy(seconds: float):
    def run():
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    return run


def test_first_call_returns_time_and_output():
    seconds, output = first_call(lambda: 42)
    assert output == 42
    assert 0 <= seconds < 0.1


def test_calibrated_samples_last_at_least_the_minimum_sample_time():
    policy = Policy(max_time=0.2, target_rel_ci=0.01, min_samples=5, warmup=0.01)
    loops = calibrate(lambda: None, policy, cpu_loop_timer)
    assert cpu_loop_timer(lambda: None, loops) >= MIN_SAMPLE_TIME * 0.5
    assert calibrate(busy(0.01), policy, cpu_loop_timer) == 1


def test_a_steady_function_stops_on_precision_with_a_correct_per_call_time():
    measurement = sample(
        busy(2e-4), Policy(max_time=5, target_rel_ci=0.05, min_samples=5, warmup=0.01)
    )
    assert measurement.stopped_by == "ci"
    assert len(measurement.samples) >= 5
    assert sorted(measurement.samples)[len(measurement.samples) // 2] == pytest.approx(
        2e-4, rel=0.3
    )


def test_sampling_stops_when_the_time_budget_is_spent():
    rng_noise = iter(range(10**9))

    def jittery():
        # alternating 0.1 ms / 2 ms calls never give a tight CI
        busy(2e-3 if next(rng_noise) % 2 else 1e-4)()

    start = time.perf_counter()
    measurement = sample(
        jittery, Policy(max_time=0.3, target_rel_ci=1e-6, min_samples=5, warmup=0.0)
    )
    assert measurement.stopped_by == "max_time"
    assert time.perf_counter() - start < 3


def test_gc_is_off_while_sampling_and_restored_after():
    seen = []
    assert gc.isenabled()
    sample(lambda: seen.append(gc.isenabled()), Policy(0.05, 0.5, 5, 0.0))
    assert gc.isenabled()
    # the warm-up/calibration calls run with gc on, the samples with gc off
    assert seen.count(False) >= 5
