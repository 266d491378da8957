"""Runs cases: setup -> check against the reference -> time -> record.

Inputs and the float64 reference are made once per data group (benchmark x parameters x dtype)
and shared by every implementation and thread count, so all contenders see identical data and
the reference is not recomputed per case. Each finished case is journaled at once.
"""

from __future__ import annotations

import itertools
import statistics
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from labench import contention, results
from labench.backends import BACKENDS, Backend, availability
from labench.environment import available_memory, fingerprint
from labench.journal import Journal
from labench.results import CaseResult, Flag, Result, RunInfo, SuiteInfo, Timing
from labench.stats import NOISY_REL_CI, summarize
from labench.suite import Case, Suite
from labench.threads import limit_threads, usable_cores
from labench.timing import Measurement, Policy, first_call, sample
from labench.workloads import Kernel, SkipCase, WrongAnswer


class CaseFailed(Exception):
    """A case cannot produce a trustworthy timing; carries the status and reason to record."""

    def __init__(
        self, status: results.Status, reason: str, metrics: Mapping[str, Any] | None = None
    ):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.metrics = dict(metrics or {})


@dataclass
class Observer:
    """Hooks for progress display; the runner itself prints nothing."""

    started: Callable[[Case], None] = lambda case: None
    finished: Callable[[CaseResult], None] = lambda result: None


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_result(
    suite: Suite, overrides: Mapping[str, Any], processes: int = 1, execution: str | None = None
) -> Result:
    return Result(
        suite=SuiteInfo(
            name=suite.name,
            path=str(suite.path),
            sha256=suite.sha256,
            baselines={b.id: suite.baseline(b.id) for b in suite.model.benchmarks},
        ),
        run=RunInfo(
            id=uuid.uuid4().hex[:12],
            started=now(),
            labench_version=metadata.version("labench"),
            command=list(sys.argv),
            overrides=dict(overrides),
            processes=processes,
            execution=execution,
        ),
        environment=fingerprint(),
    )


Execute = Callable[[Sequence[Case], Observer], Iterable[CaseResult]]


def run_suite(
    cases: Sequence[Case],
    result: Result,
    path: Path,
    observer: Observer,
    execute: Execute | None = None,
    retry_noisy: int = 0,
) -> Result:
    """Run every case (in this process, or as `execute` says), appending to `result`; each
    finished case is journaled beside `path` at once, and `path` is written at the start and
    the end (see labench.journal: rewriting it per case made runs quadratic). Cases measured
    `noisy` or `contended` are measured again at the end, up to `retry_noisy` times, and the
    steadier measurement is kept: a neighbour's burst of activity rarely lasts the whole run.

    On Ctrl-C (or SIGTERM, see signals.py) the file is saved marked as interrupted, holding
    every finished case, and the KeyboardInterrupt propagates so the caller can exit 130/143.
    """
    run = execute or run_cases
    results.save(result, path)
    journal = Journal.start(result, path)
    try:
        for case_result in run(cases, observer):
            result.cases.append(case_result)
            journal.append(case_result)
            observer.finished(case_result)
        by_key = {case.key: case for case in cases}
        for _ in range(retry_noisy):
            position = {case.key: index for index, case in enumerate(result.cases)}
            again = [by_key[case.key] for case in result.cases if case.flags and case.key in by_key]
            if not again:
                break
            for case_result in run(again, observer):
                index = position[case_result.key]
                result.cases[index] = steadier(result.cases[index], case_result)
                results.save(result, path)
                observer.finished(case_result)
    except KeyboardInterrupt:
        result.run.interrupted = True
        raise
    finally:
        result.run.finished = now()
        results.save(result, path)
        journal.discard()
    return result


def steadier(first: CaseResult, second: CaseResult) -> CaseResult:
    """Of two measurements of one case, the one with fewer flags, then the tighter CI."""
    if second.status != "ok" or second.timing is None or first.timing is None:
        return first

    def unsteadiness(case: CaseResult) -> tuple[int, float]:
        assert case.timing is not None
        return len(case.flags), case.timing.rel_ci if case.timing.rel_ci is not None else 1e9

    return second if unsteadiness(second) < unsteadiness(first) else first


def run_cases(cases: Iterable[Case], observer: Observer) -> Iterable[CaseResult]:
    for _, group in itertools.groupby(cases, key=lambda case: case.data_key):
        yield from _run_data_group(list(group), observer)


def _run_data_group(group: list[Case], observer: Observer) -> Iterable[CaseResult]:
    runnable = []
    for case in group:
        backend = availability(case.backend)
        if backend.available:
            runnable.append(case)
        else:
            yield record(case, "skipped", f"backend {case.backend} unavailable: {backend.reason}")
    if not runnable:
        return
    head = runnable[0]
    try:
        inputs, reference = _prepare_data(head)
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
    for case in runnable:
        observer.started(case)
        yield measure_case(case, inputs, reference)


def _prepare_data(case: Case) -> tuple[Mapping[str, Any], np.ndarray]:
    dtype = np.dtype(case.dtype)
    need = case.workload.footprint(case.params, dtype.itemsize)
    free = available_memory()
    if need is not None and need > free:
        raise CaseFailed(
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


def measure_case(case: Case, inputs: Mapping[str, Any], reference: np.ndarray) -> CaseResult:
    """Check one implementation's answer, then time it, under the case's thread limit."""
    backend = BACKENDS[case.backend]
    pools: dict[str, int] = {}
    cpus = contention.allowed_cpus()
    try:
        with limit_threads(case.threads) as threads, backend.thread_limit(case.threads) as own:
            pools = threads.pools | own
            before = contention.snapshot(cpus)
            cold, metrics, measurement = _check_then_time(case, inputs, reference, backend)
            others = contention.between(before, contention.snapshot(cpus), len(cpus))
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
    flags = noise_flags(timing)
    if others is not None:
        metrics |= {"others_cores": others.others_cores, "steal": others.steal}
        if others.contended(case.threads, usable_cores()):
            flags.append("contended")
    return record(case, "ok", None, timing=timing, metrics=metrics, pools=pools, flags=flags)


def noise_flags(timing: Timing) -> list[Flag]:
    """`noisy` when the case's confidence interval is wider than NOISY_REL_CI around its median
    (or too few samples for one): a figure that must not be quoted bare."""
    relative = timing.rel_ci
    return ["noisy"] if relative is None or relative > NOISY_REL_CI else []


def _check_then_time(
    case: Case, inputs: Mapping[str, Any], reference: np.ndarray, backend: Backend
) -> tuple[float, dict[str, Any], Measurement]:
    implementation = case.workload.implementations[case.implementation]
    prepared = implementation.prepare(case.workload, inputs, case.params)
    kernel = prepared if isinstance(prepared, Kernel) else Kernel(prepared)
    # On an asynchronous device the first call must include its completion, not just its launch.
    cold, output = first_call(
        backend.synchronized(kernel.run) if backend.synchronized else kernel.run
    )
    target = reference if kernel.expected is None else kernel.expected
    metrics = _check(case, kernel.to_host(output), target) | kernel.metrics
    policy = Policy(
        max_time=case.settings.max_time,
        target_rel_ci=case.settings.target_rel_ci,
        min_samples=case.settings.min_samples,
        warmup=case.settings.warmup,
    )
    measurement = sample(kernel.run, policy, backend.loop_timer)
    if backend.synchronized is not None:
        host_policy = replace(policy, max_time=policy.max_time / 4)
        host = sample(backend.synchronized(kernel.run), host_policy)
        metrics["host_time"] = statistics.median(host.samples)
    return cold, metrics, measurement


def _check(case: Case, output: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Correctness before timing: a fast wrong kernel must never be ranked."""
    dtype = np.dtype(case.dtype)
    implementation = case.workload.implementations[case.implementation]
    tolerance = (
        case.settings.tolerance
        or implementation.tolerance
        or case.workload.tolerance(case.params, dtype)
    )
    if np.shape(output) != reference.shape:
        raise CaseFailed(
            "wrong",
            f"output shape {np.shape(output)} differs from the reference's {reference.shape}",
        )
    error = case.workload.error(output, reference)
    metrics = {"error_rel": error, "tolerance": tolerance}
    if not np.isfinite(error) or error > tolerance:
        raise CaseFailed(
            "wrong", f"relative error {error:.3g} exceeds the tolerance {tolerance:.3g}", metrics
        )
    return metrics


def _rates(case: Case, median: float, metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """GFLOP/s and GB/s; an implementation that does other work than the workload's definition
    (a factored product) reports its own `flops`/`bytes`, so rates count work really done."""
    flops = metrics.get("flops") or case.workload.flops(case.params)
    moved = metrics.get("bytes") or case.workload.bytes_moved(
        case.params, np.dtype(case.dtype).itemsize
    )
    return rates(flops, moved, median)


def rates(flops: float | None, moved: float | None, median: float) -> dict[str, float | None]:
    return {
        "flops": flops,
        "bytes": moved,
        "gflops": flops / median / 1e9 if flops and median > 0 else None,
        "gbps": moved / median / 1e9 if moved and median > 0 else None,
    }


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
) -> CaseResult:
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
        status=status,
        reason=reason,
        timing=timing,
        metrics={name: _finite(value) for name, value in (metrics or {}).items()},
        thread_pools=dict(pools or {}),
        flags=list(flags),
    )


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: a non-finite metric (the error of a diverged answer) is
    stored as null, and the case's reason says what happened."""
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return value
