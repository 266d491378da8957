"""The clocks: wall time for records, and the loop timer every backend may replace.

A loop timer is a parameter of the timing engine so a device backend can time with its own
clock (CUDA events) while reusing the same policy; the host's is here, beside the type.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

LoopTimer = Callable[[Callable[[], Any], int], float]


def cpu_loop_timer(function: Callable[[], Any], loops: int) -> float:
    """Seconds for `loops` back-to-back calls, timed as timeit does (no per-call clock reads)."""
    iterator = itertools.repeat(None, loops)
    start = time.perf_counter()
    for _ in iterator:
        function()
    return time.perf_counter() - start


def now() -> str:
    """The current UTC time as result files record it."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
