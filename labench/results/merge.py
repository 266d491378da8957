"""One case from several processes' measurements, and the rates that follow from a median.

Pure arithmetic on results, so readers and executors share it without importing a runner.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence

from labench.core.stats import summarize
from labench.results.gpu_state import merged_state
from labench.results.model import CaseResult, Flag, Timing


def rates(flops: float | None, moved: float | None, median: float) -> dict[str, float | None]:
    return {
        "flops": flops,
        "bytes": moved,
        "gflops": flops / median / 1e9 if flops and median > 0 else None,
        "gbps": moved / median / 1e9 if moved and median > 0 else None,
    }


def merge_processes(measured: Sequence[CaseResult]) -> CaseResult:
    """One case from its runs in several processes: all samples pooled, each process's median
    kept (an input that was itself merged brings all of its process medians). A process that
    did not measure the case makes the whole case that status.

    Each process calibrates its own inner loop count; the smallest is kept, the conservative
    figure for the clock-resolution margin of the pooled samples. The contention and the GPU
    state seen are the worst of any process; the flags are those of most processes
    (`majority_flags`)."""
    for index, result in enumerate(measured, start=1):
        if result.failed:
            reason = f"in process {index} of {len(measured)}: {result.reason}"
            return result.model_copy(update={"reason": reason})
        if result.status != "ok" or result.timing is None:
            return result
    timings = [result.timing for result in measured if result.timing is not None]
    samples = [sample for timing in timings for sample in timing.samples]
    summary = summarize(samples)
    timing = Timing(
        **summary.model_dump(),
        first_call=statistics.median(timing.first_call for timing in timings),
        inner_loops=min(timing.inner_loops for timing in timings),
        stopped_by=Counter(timing.stopped_by for timing in timings).most_common(1)[0][0],
        samples=samples,
        process_medians=[
            median for timing in timings for median in (timing.process_medians or [timing.median])
        ],
    )
    first = measured[0]
    metrics = first.metrics | rates(
        first.metrics.get("flops"), first.metrics.get("bytes"), summary.median
    )
    for name in ("others_cores", "steal"):
        seen = [value for result in measured if (value := result.metrics.get(name)) is not None]
        if seen:
            metrics[name] = max(seen)
    return first.model_copy(
        update={
            "timing": timing,
            "metrics": metrics,
            "flags": majority_flags(measured),
            "gpu": merged_state([result.gpu for result in measured]),
        }
    )


def majority_flags(measured: Sequence[CaseResult]) -> list[Flag]:
    """The flags carried by more than half of the processes (a result weighs as many processes
    as it holds medians). Each process flags itself (`noisy`, `contended`); one that a neighbour
    disturbed is a slow outlier that the noise model between processes already discounts
    (compare.side_statistic), and flagging the whole case for it made more processes give a
    less certain verdict: on the quiet 2-core VM, merged over 11 to 13 processes, one flagged
    process left a steady case 20% slower `unsure`. A neighbour present throughout flags most
    processes, and the case with them."""
    weight: Counter[Flag] = Counter()
    total = 0
    for result in measured:
        count = len(result.timing.process_medians) if result.timing else 0
        total += count or 1
        weight.update({flag: count or 1 for flag in result.flags})
    return sorted(flag for flag, carried in weight.items() if 2 * carried > total)
