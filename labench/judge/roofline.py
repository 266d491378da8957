"""The roofline: what a case could attain under a machine's measured roofs, and how close it came.

attainable = min(peak, intensity x bandwidth), with the bandwidth roof matching the case's mix
of reads and writes.
"""

from __future__ import annotations

from labench.results.ceilings import Ceiling, Ceilings, GpuCeiling
from labench.results.model import CaseResult, Result


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
