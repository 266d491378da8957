"""Runs cases: setup -> check against the reference -> time -> record.

Inputs and the float64 reference are made once per data group (benchmark x parameters x dtype)
and shared by every implementation and thread count, so all contenders see identical data and
the reference is not recomputed per case. Each finished case is journaled at once.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from labench.backends import BACKENDS, Backend, ComputesElsewhere, availability
from labench.backends.cupy_gpu import bus_id
from labench.core import dtypes as precision
from labench.core import host
from labench.core.arrays import resident_bytes
from labench.core.host import available_memory, usable_cores
from labench.core.progress import Observer
from labench.core.stats import NOISY_REL_CI, summarize
from labench.measure import contention
from labench.measure.cache import TooShortForColdTiming, cache_resident, cold_sample
from labench.measure.correctness import check_output, unsupported, within_tolerance
from labench.measure.failures import CaseFailed, TooLargeForHost
from labench.measure.gpu_state import GpuWatch
from labench.measure.memory import peak_memory
from labench.measure.threads import limit_threads
from labench.measure.timing import (
    CLOCK_RESOLUTION,
    Measurement,
    Policy,
    first_call,
    sample,
    single_calls,
)
from labench.results import model as results
from labench.results.gpu_state import GpuState
from labench.results.merge import rates
from labench.results.model import CaseResult, Flag, Timing
from labench.suite.case import Case
from labench.workloads import Kernel, SkipCase, WrongAnswer

PEAK_SOURCE = "peak_bytes_source"
"""Travels with the metrics to `record`, which stores it in its own (text) field."""


def run_cases(cases: Iterable[Case], observer: Observer) -> Iterable[CaseResult]:
    for _, group in itertools.groupby(cases, key=lambda case: case.data_key):
        yield from _run_data_group(list(group), observer)


def _run_data_group(group: list[Case], observer: Observer) -> Iterable[CaseResult]:
    runnable = []
    for case in group:
        backend = availability(case.backend)
        cannot = unsupported(case.workload, BACKENDS[case.backend], case.dtype, case.math)
        if not backend.available:
            yield record(case, "skipped", f"backend {case.backend} unavailable: {backend.reason}")
        elif cannot:
            yield record(case, "skipped", cannot)
        else:
            runnable.append(case)
    if not runnable:
        return
    head = runnable[0]
    started = time.perf_counter()
    try:
        inputs, reference = _prepare_data(head)
    except TooLargeForHost as failure:
        for case in runnable:
            if _at_scale(case):
                observer.started(case)
                yield measure_case(case, None, None)
            else:
                yield record(case, failure.status, failure.reason)
        return
    except CaseFailed as failure:
        for case in runnable:
            yield record(case, failure.status, failure.reason)
        return
    except SkipCase as skip:
        for case in runnable:
            yield record(case, "skipped", str(skip))
        return
    except Exception as error:
        for case in runnable:
            yield record(case, "error", f"making inputs or reference failed: {_describe(error)}")
        return
    setup = time.perf_counter() - started
    for case in runnable:
        observer.started(case)
        started = time.perf_counter()
        result = measure_case(case, inputs, reference)
        yield with_costs(result, setup, time.perf_counter() - started)


def with_costs(result: CaseResult, setup: float, measuring: float) -> CaseResult:
    """`result` with what it cost to reproduce in a fresh process: `setup_seconds` (making its
    inputs and float64 reference, shared with the other implementations of its point) and
    `measure_seconds` (checking and timing it). The gate's confirmation plans by them: a
    low-rank case whose inputs take seconds to factor cannot be measured again six times
    within a budget of a few seconds (confirm.py)."""
    costs = {"setup_seconds": setup, "measure_seconds": measuring}
    return result.model_copy(update={"metrics": result.metrics | costs})


def _prepare_data(case: Case) -> tuple[Mapping[str, Any], np.ndarray]:
    dtype = precision.resolve(case.dtype)
    need = case.workload.footprint(case.params, dtype.itemsize)
    free = available_memory()
    if need is not None and need > free:
        raise TooLargeForHost(
            "skipped",
            f"needs {need / 2**30:.2f} GiB of memory, only {free / 2**30:.2f} GiB available",
        )
    inputs = case.workload.make_inputs(case.params, dtype, case.rng())
    zero = [
        name for name, value in inputs.items() if isinstance(value, np.ndarray) and not value.any()
    ]
    if zero:
        raise CaseFailed(
            "error", f"input {', '.join(zero)} is all zeros; timing on zeros is not honest"
        )
    reference = np.asarray(case.workload.reference(inputs, case.params), dtype=np.float64)
    return inputs, reference


def _at_scale(case: Case) -> bool:
    """Whether the case can build its inputs where its backend computes (a cluster)."""
    implementation = case.workload.implementations[case.implementation]
    return implementation.at_scale is not None and isinstance(
        BACKENDS[case.backend], ComputesElsewhere
    )


def measure_case(
    case: Case, inputs: Mapping[str, Any] | None, reference: np.ndarray | None
) -> CaseResult:
    """Check one implementation's answer, then time it, under the case's thread limit; without
    inputs, the implementation makes them where it computes (`at_scale`) and checks there."""
    backend = BACKENDS[case.backend]
    pools: dict[str, int] = {}
    cpus = host.allowed_cpus()
    watch = GpuWatch(bus_id, case.settings.throttle_threshold) if case.backend == "cupy" else None
    try:
        with (
            limit_threads(case.threads) as threads,
            backend.thread_limit(case.threads) as own,
            backend.precision(case.dtype, case.math) as computed,
        ):
            pools = threads.pools | own
            helpers = backend.local_processes() if isinstance(backend, ComputesElsewhere) else []
            before = contention.snapshot(cpus, helpers)
            cold, metrics, measurement, returned = _check_then_time(
                case, inputs, reference, backend, watch
            )
            others = contention.between(before, contention.snapshot(cpus, helpers), len(cpus))
            if returned is not None and returned != case.dtype:
                computed["output_dtype"] = returned
    except CaseFailed as failure:
        return record(case, failure.status, failure.reason, metrics=failure.metrics, pools=pools)
    except SkipCase as skip:
        return record(case, "skipped", str(skip), pools=pools)
    except WrongAnswer as wrong:
        return record(case, "wrong", str(wrong), pools=pools)
    except Exception as error:
        return record(case, "error", _describe(error), pools=pools)
    summary = summarize(measurement.samples)
    timing = Timing(
        **summary.model_dump(),
        first_call=cold,
        inner_loops=measurement.inner_loops,
        stopped_by=measurement.stopped_by,
        samples=measurement.samples,
    )
    metrics |= _rates(case, summary.median, metrics)
    metrics["cache_resident"] = cache_resident(metrics["bytes"], case.cache, case.backend)
    flags = noise_flags(timing)
    if others is not None:
        metrics |= {"others_cores": others.others_cores, "steal": others.steal}
        # a device case keeps one host thread busy, however many it was given
        host_threads = 1 if backend.synchronized is not None else case.threads
        if others.contended(host_threads, usable_cores()):
            flags.append("contended")
    gpu = watch.state() if watch is not None else None
    if gpu is not None and gpu.throttled:
        flags.append("throttled")
    return record(
        case,
        "ok",
        None,
        timing=timing,
        metrics=metrics,
        pools=pools,
        flags=flags,
        computed=computed,
        gpu=gpu,
    )


def noise_flags(timing: Timing) -> list[Flag]:
    """`noisy` when the case's confidence interval is wider than NOISY_REL_CI around its median:
    a figure that must not be quoted bare. A slow case may end with fewer samples than a 95%
    interval needs (6); then the range of its samples stands in, itself an interval of the
    median with coverage 1 - 2**(1 - n) (94% for 5 samples, 75% for 3)."""
    relative = timing.rel_ci
    if relative is None:
        relative = (timing.max - timing.min) / 2 / timing.median
    return ["noisy"] if relative > NOISY_REL_CI else []


def _check_then_time(
    case: Case,
    inputs: Mapping[str, Any] | None,
    reference: np.ndarray | None,
    backend: Backend,
    watch: GpuWatch | None,
) -> tuple[float, dict[str, Any], Measurement, str | None]:
    """Check the first call's answer, then time, `watch` looking at the GPU while the samples
    are taken; also return the dtype the output came in (a library may silently widen:
    ml_dtypes' bfloat16 matmul returns float32)."""
    implementation = case.workload.implementations[case.implementation]
    if inputs is None:
        assert implementation.at_scale is not None
        seed = int(case.rng().integers(2**63))
        kernel = implementation.at_scale(
            case.workload, case.params, precision.resolve(case.dtype), seed
        )
    else:
        prepared = implementation.prepare(case.workload, inputs, case.params)
        if not (isinstance(prepared, Kernel) or callable(prepared)):
            raise CaseFailed(
                "error",
                f"implementation {case.implementation!r} returned a {type(prepared).__name__}; "
                "expected a zero-argument callable (or a Kernel) that computes the output, e.g. "
                "`return lambda: a @ b` rather than `return a @ b`",
            )
        kernel = prepared if isinstance(prepared, Kernel) else Kernel(prepared)
    # On an asynchronous device the first call must include its completion, not just its launch.
    whole_call = backend.synchronized(kernel.run) if backend.synchronized else kernel.run
    cold, output = first_call(whole_call)
    if kernel.error_in_place is not None:
        checked = within_tolerance(case, kernel.error_in_place(output))
    else:
        target = reference if kernel.expected is None else kernel.expected
        assert target is not None
        checked = check_output(case, kernel.to_host(output), target)
    metrics: dict[str, Any] = checked | kernel.metrics
    policy = Policy(
        max_time=case.settings.max_time,
        target_rel_ci=case.settings.target_rel_ci,
        min_samples=case.settings.min_samples,
        warmup=case.settings.warmup,
    )
    if case.cache == "cold":
        try:
            measurement = cold_sample(kernel.run, policy, backend.loop_timer, case.backend, watch)
        except TooShortForColdTiming as short:
            raise CaseFailed("skipped", str(short), metrics) from None
        metrics["clock_resolution"] = CLOCK_RESOLUTION
    else:
        measurement = sample(kernel.run, policy, backend.loop_timer, watch=watch)
    # Memory is measured on a call of its own, after the samples, so it never slows them.
    peak = peak_memory(whole_call, case.backend)
    metrics |= {"peak_bytes": float(peak.bytes), PEAK_SOURCE: peak.source}
    if inputs is not None:  # else the kernel reports what it holds where it computes
        metrics["input_bytes"] = float(resident_bytes(inputs.values()))
    if "bytes_resident" in metrics:  # what the implementation keeps, plus what a call adds
        metrics["memory_bytes"] = metrics["bytes_resident"] + peak.bytes
    if backend.synchronized is not None:
        calls = single_calls(
            backend.synchronized(kernel.run), replace(policy, max_time=policy.max_time / 4)
        )
        metrics["latency"] = statistics.median(calls)
    return cold, metrics, measurement, precision.dtype_of(output)


def _rates(case: Case, median: float, metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """GFLOP/s and GB/s; an implementation that does other work than the workload's definition
    (a factored product) reports its own `flops`/`bytes`, so rates count work really done."""
    flops = metrics.get("flops") or case.workload.flops(case.params)
    itemsize = precision.ITEMSIZE[case.dtype]
    moved = metrics.get("bytes") or case.workload.bytes_moved(case.params, itemsize)
    written = None if "bytes" in metrics else case.workload.bytes_written(case.params, itemsize)
    return rates(flops, moved, median) | {"bytes_written": written}


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def record(
    case: Case,
    status: results.Status,
    reason: str | None,
    *,
    timing: Timing | None = None,
    metrics: Mapping[str, Any] | None = None,
    pools: Mapping[str, int] | None = None,
    flags: Sequence[Flag] = (),
    computed: Mapping[str, str] | None = None,
    gpu: GpuState | None = None,
) -> CaseResult:
    numbers = dict(metrics or {})
    source = numbers.pop(PEAK_SOURCE, None)
    return CaseResult(
        key=case.key,
        group=case.group_key,
        benchmark=case.benchmark,
        workload=case.workload.name,
        implementation=case.implementation,
        backend=case.backend,
        params=case.params,
        threads=case.threads,
        threads_spec=case.threads_spec,
        dtype=case.dtype,
        math=case.math,
        cache=case.cache,
        status=status,
        reason=reason,
        timing=timing,
        metrics={name: _finite(value) for name, value in numbers.items()},
        peak_bytes_source=source,
        thread_pools=dict(pools or {}),
        flags=list(flags),
        precision=dict(computed or {}),
        gpu=gpu,
    )


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: a non-finite metric (the error of a diverged answer) is
    stored as null, and the case's reason says what happened."""
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return value
