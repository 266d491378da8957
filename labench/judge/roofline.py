"""The roofline: what a case could attain under a machine's measured roofs, and how close it came.

attainable = min(peak, intensity x bandwidth), with the bandwidth roof matching the case's mix
of reads and writes.

A GPU's roofs hold at the clock they were measured at: a case that ran at 70% of that SM clock
cannot reach the compute roof, however good its kernel. So a GPU case whose clocks and whose
roofs' clocks are both known gets `roof_clock_ratio`, its mean SM clock over the roofs'; a
ratio further from 1 than CLOCK_TOLERANCE means the two were measured in different clock
states, and the tables say so beside the share.
"""

from __future__ import annotations

from labench.results.ceilings import Ceiling, Ceilings, GpuCeiling
from labench.results.gpu_state import GpuState
from labench.results.model import CaseResult, Result

CLOCK_TOLERANCE = 0.05
"""How far a case's mean SM clock may lie from its roofs' before they count as measured at
different clocks: boost clocks step by about 15 MHz and wander by a few percent with
temperature while nothing throttles."""


def roofline_fraction(case: CaseResult, ceiling: Ceiling | GpuCeiling) -> float | None:
    """Achieved / attainable GFLOP/s, attainable = min(peak, intensity x bandwidth), with the
    bandwidth roof matching the case's reads and writes (`labench.machine.roofs.attainable`)."""
    flops, moved, achieved = (case.metrics.get(name) for name in ("flops", "bytes", "gflops"))
    peak = ceiling.peak(case.dtype, case.math)
    if not (flops and moved and achieved and peak):
        return None
    return achieved / attainable(
        flops=flops,
        moved=moved,
        written=case.metrics.get("bytes_written"),
        peak=peak,
        read_roof=getattr(ceiling, "gbps_read", None),
        copy_roof=ceiling.gbps,
    )


def add_roofline(result: Result, ceilings: Ceilings | None) -> None:
    """Give every measured case with flops and bytes its `roofline_frac`."""
    if ceilings is None:
        return
    for case in result.cases:
        ceiling = ceilings.for_case(case)
        if case.status == "ok" and ceiling is not None:
            fraction = roofline_fraction(case, ceiling)
            if fraction is not None:
                case.metrics["roofline_frac"] = fraction
            if isinstance(ceiling, GpuCeiling):
                ratio = clock_ratio(case.gpu, ceiling.clocks)
                if ratio is not None:
                    case.metrics["roof_clock_ratio"] = ratio


def clock_ratio(case: GpuState | None, roofs: GpuState | None) -> float | None:
    """The case's mean SM clock over the one its roofs were measured at; None when either is
    unknown."""
    if case is None or roofs is None or case.sm_clock is None or roofs.sm_clock is None:
        return None
    if not roofs.sm_clock.mean:
        return None
    return case.sm_clock.mean / roofs.sm_clock.mean


def other_clock(case: CaseResult) -> bool:
    """The case ran at another SM clock than its roofs were measured at."""
    ratio = case.metrics.get("roof_clock_ratio")
    return ratio is not None and abs(ratio - 1) > CLOCK_TOLERANCE


def bandwidth_for(read: float, written: float, read_roof: float, copy_roof: float) -> float:
    """The bandwidth roof (bytes/s) of a kernel reading `read` and writing `written` bytes.

    A copy of R bytes reads R and writes R in 2R / copy_roof seconds; reading alone takes
    R / read_roof of that, so each written byte costs 2 / copy_roof - 1 / read_roof more (its
    write-allocate read and its write-back). A kernel's least time is then
    read / read_roof + written x that cost, and its roof the bytes over that time: the read
    roof for a pure read, the copy roof for a copy, in between for a mix.
    """
    write_cost = max(2 / copy_roof - 1 / read_roof, 0.0)
    seconds = read / read_roof + written * write_cost
    return (read + written) / seconds if seconds > 0 else read_roof


def attainable(
    *,
    flops: float,
    moved: float,
    written: float | None,
    peak: float,
    read_roof: float | None,
    copy_roof: float,
) -> float:
    """min(compute roof, intensity x bandwidth roof), in the units of `peak` per second and
    roofs in the same scale (GFLOP/s and GB/s). Without a read roof (ceilings measured before
    it existed) or a write count (a workload that does not say), the copy roof is used."""
    if read_roof is None or written is None:
        bandwidth = copy_roof
    else:
        bandwidth = bandwidth_for(moved - written, written, read_roof, copy_roof)
    return min(peak, flops / moved * bandwidth)
