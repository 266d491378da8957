"""Re-drawing the memory-placement lottery in a forked worker.

A forked child inherits its parent's heap, so it allocates its arrays (and Numba its compiled
code) at the very addresses every sibling uses: forked workers draw the same placement, and
their medians move together. A random number of random-sized allocations, made first and kept
alive, shifts where everything after them lands, so each child draws its own placement at the
cost of a fork rather than of a fresh interpreter (benchmarks/placement_study.py measures both).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

PAGE = 4096


def jitter_heap(seed: int) -> list[Any]:
    """Shift this process's heap and memory-map layout; keep the returned objects alive."""
    rng = random.Random(seed)
    kept: list[Any] = [bytearray(rng.randrange(16, 64 * 1024)) for _ in range(rng.randrange(1, 64))]
    # arrays above malloc's mmap threshold each take fresh pages: shift that region too
    kept += [np.empty(rng.randrange(32, 1024) * PAGE // 8 + rng.randrange(8)) for _ in range(3)]
    return kept
