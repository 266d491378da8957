"""Merging one case measured in several processes into one result.

A process is a sample of the things one run cannot vary: where the allocator put the arrays
(cache-set and 4K aliasing), which physical pages back them, the state of the JIT cache. On a
shared machine these move a median by tens of percent from one process to the next while the
samples inside a process agree to 1-2%, so a confidence interval from one process is far too
narrow. Keeping each process's median lets `compare` judge with the variance between processes,
as pyperf does.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence

from labench.results import CaseResult, Timing
from labench.runner import noise_flags, rates
from labench.stats import summarize


def merge_processes(measured: Sequence[CaseResult]) -> CaseResult:
    """One case from its runs in several processes: all samples pooled, each process's median
    kept (an input that was itself merged brings all of its process medians). A process that
    did not measure the case makes the whole case that status.

    Each process calibrates its own inner loop count; the smallest is kept, the conservative
    figure for the clock-resolution margin of the pooled samples. Flags and the contention
    seen are the worst of any process."""
    for index, result in enumerate(measured, start=1):
        if result.status in ("wrong", "error"):
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
        seen = [result.metrics[name] for result in measured if result.metrics.get(name) is not None]
        if seen:
            metrics[name] = max(seen)
    flags = {flag for result in measured for flag in result.flags} | set(noise_flags(timing))
    return first.model_copy(update={"timing": timing, "metrics": metrics, "flags": sorted(flags)})
