"""The timing engine: DESIGN.md's measurement rules in one place.

1. The first call is timed on its own (`first_call`): it holds JIT compilation and first-touch
   page faults, which are real costs but not the steady state.
2. Warm-up calls for `warmup` seconds, which also estimate the per-call time.
3. The inner loop count is calibrated so one sample lasts far longer than the clock's resolution
   and the loop's own overhead.
4. Samples are taken, with the garbage collector off, until the 95% CI of the median is within
   `target_rel_ci` of it (after at least `min_samples`) or `max_time` is spent.

A loop timer is a parameter so a device backend can time with its own clock (CUDA events)
while reusing the same policy.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from labench.core.clock import LoopTimer, cpu_loop_timer
from labench.core.stats import median_ci

CLOCK_RESOLUTION = time.get_clock_info("perf_counter").resolution
MIN_SAMPLE_TIME = max(1000 * CLOCK_RESOLUTION, 1e-3)
MAX_SAMPLES = 100_000


@dataclass(frozen=True)
class Policy:
    max_time: float
    target_rel_ci: float
    min_samples: int
    warmup: float
    min_sample_time: float = MIN_SAMPLE_TIME


@dataclass(frozen=True)
class Measurement:
    inner_loops: int
    samples: list[float]
    stopped_by: str
    """Why sampling stopped: 'ci' (precision reached), 'max_time' or 'max_samples'."""


def host_clock() -> float:
    """The host's clock for single-call latency; a module function so a test can replace it."""
    return time.perf_counter()


def single_calls(function: Callable[[], Any], policy: Policy) -> list[float]:
    """Seconds of calls timed one at a time on the host clock, until the median is precise
    enough or `max_time` is spent (after at least `min_samples`).

    For a device, `function` is the call plus a synchronize: this is the latency a program
    waiting for each result sees (launch, queueing, run, wait), where `sample`'s loop of
    back-to-back calls measures the throughput of a pipelined stream.
    """
    samples: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        deadline = host_clock() + policy.max_time
        while len(samples) < MAX_SAMPLES:
            start = host_clock()
            function()
            end = host_clock()
            samples.append(end - start)
            if len(samples) >= policy.min_samples and (
                end >= deadline or _precise_enough(samples, policy.target_rel_ci)
            ):
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


def first_call(function: Callable[[], Any]) -> tuple[float, Any]:
    """Time one cold call and keep its output for the correctness check."""
    start = time.perf_counter()
    output = function()
    return time.perf_counter() - start, output


def calibrate(function: Callable[[], Any], policy: Policy, timer: LoopTimer) -> int:
    """Warm up, then pick the inner loop count that makes one sample >= min_sample_time."""
    calls, spent = 0, 0.0
    while calls == 0 or spent < policy.warmup:
        spent += timer(function, 1)
        calls += 1
    per_call = max(spent / calls, CLOCK_RESOLUTION)
    loops = max(1, math.ceil(policy.min_sample_time / per_call))
    while (elapsed := timer(function, loops)) < policy.min_sample_time:
        loops = max(
            loops + 1,
            math.ceil(loops * 1.2 * policy.min_sample_time / max(elapsed, CLOCK_RESOLUTION)),
        )
    return loops


def sample(
    function: Callable[[], Any],
    policy: Policy,
    timer: LoopTimer = cpu_loop_timer,
    before_each: Callable[[], Any] | None = None,
    watch: AbstractContextManager[object] | None = None,
) -> Measurement:
    """Calibrate, then collect per-call times until precise enough or out of time.

    With `before_each` (a cache eviction) every sample is one call, preceded by it outside the
    timer: a second call in the same sample would find the cache warm again. `watch` is
    entered around the samples alone, after warm-up, when a device has reached its clocks
    (gpu_state.GpuWatch).
    """
    loops = 1 if before_each else calibrate(function, policy, timer)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with watch or nullcontext():
            return _loop(function, loops, policy, timer, before_each)
    finally:
        if gc_was_enabled:
            gc.enable()


def _loop(
    function: Callable[[], Any],
    loops: int,
    policy: Policy,
    timer: LoopTimer,
    before_each: Callable[[], Any] | None,
) -> Measurement:
    """Samples of `loops` calls each until precise enough, out of time or out of room."""
    samples: list[float] = []
    next_check = policy.min_samples
    start = time.perf_counter()
    while True:
        if before_each is not None:
            before_each()
        samples.append(timer(function, loops) / loops)
        count = len(samples)
        if count >= MAX_SAMPLES:
            return Measurement(loops, samples, "max_samples")
        if count >= next_check:
            if _precise_enough(samples, policy.target_rel_ci):
                return Measurement(loops, samples, "ci")
            next_check = count + max(1, count // 10)
        if count >= policy.min_samples and time.perf_counter() - start >= policy.max_time:
            return Measurement(loops, samples, "max_time")


def _precise_enough(samples: list[float], target_rel_ci: float) -> bool:
    interval = median_ci(samples)
    if interval is None:
        return False
    median = statistics.median(samples)
    return median > 0 and (interval[1] - interval[0]) / 2 <= target_rel_ci * median
