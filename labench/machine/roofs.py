"""Roofs that hold on a many-core machine: pure rules, kept apart from the measuring so they can
be checked against figures from machines we do not have (tests feed them a 16-core host's).

Two mistakes made the first roofs wrong on a 16-core Xeon (see README, "Roofs"):
- one 1024 x 1024 GEMM does not fill 16 cores: it ran at 471 GFLOP/s, an 8192 GEMM at 905.
  So the compute roof is the rate where a sweep of sizes stops rising (`gemm_plateau`).
- a copy pays for its writes (and their write-allocate reads); a matvec only reads. Its
  2 GB matrix streamed at 149 GB/s against a 105 GB/s copy roof. So there is a read roof
  beside the copy roof, and a case's bandwidth roof follows from how many of its bytes are
  reads and how many writes (`bandwidth_for`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

PLATEAU_GAIN = 0.03
"""A size whose rate beats the previous size's by less than this has reached the plateau."""
CALLS_PER_POINT = 8
"""Calls one measured size costs at most (warm-up, calibration, minimum samples)."""


@dataclass(frozen=True)
class Plateau:
    rate: float
    """The highest rate seen, in the unit `rate_at` returns."""
    size: int
    """The size where the plateau begins (or the last size measured, when capped)."""
    capped: bool
    """True when the time or size cap stopped the sweep before the rate stopped rising."""
    sweep: dict[int, float] = field(default_factory=dict)
    """The rate at every size measured."""
    reason: str | None = None
    """Why a size failed (out of memory, say), where one did and ended the sweep."""


def gemm_plateau(
    rate_at: Callable[[int], float],
    work_at: Callable[[int], float],
    *,
    start: int,
    largest: int,
    budget: float,
) -> Plateau:
    """Double the size from `start` until the rate stops rising by PLATEAU_GAIN, the next size
    would exceed `largest`, or its predicted cost (CALLS_PER_POINT calls at the best rate so
    far) would not fit in what is left of `budget` seconds.

    `rate_at(size)` measures (work per second); `work_at(size)` is the work of one call, which
    with the rate predicts a call's time, so the predicted cost counts only measured figures.
    A size that fails beyond the first (out of memory) ends the sweep, capped, with the reason;
    a first size that fails raises, since then no rate was measured at all.
    """
    size, best = start, rate_at(start)
    sweep = {start: best}
    spent = CALLS_PER_POINT * work_at(start) / best
    while True:
        bigger = 2 * size
        cost = CALLS_PER_POINT * work_at(bigger) / best
        if bigger > largest or spent + cost > budget:
            return Plateau(best, size, capped=True, sweep=sweep)
        try:
            rate = rate_at(bigger)
        except Exception as error:  # out of memory, an unsupported size...
            reason = f"n={bigger}: {type(error).__name__}: {error}"
            return Plateau(best, size, capped=True, sweep=sweep, reason=reason)
        sweep[bigger] = rate
        spent += cost
        if rate < best * (1 + PLATEAU_GAIN):
            return Plateau(max(best, rate), size, capped=False, sweep=sweep)
        size, best = bigger, rate
