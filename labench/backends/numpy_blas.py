"""NumPy on the host: threads are BLAS's, limited through threadpoolctl by the runner."""

from __future__ import annotations

from contextlib import AbstractContextManager

import numpy as np

from labench.backends.base import Availability, no_extra_thread_control, no_precision_control
from labench.precision import DEFAULT_MATH
from labench.timing import cpu_loop_timer


class NumpyBackend:
    name = "numpy"
    loop_timer = staticmethod(cpu_loop_timer)
    synchronized = None
    math_modes = (DEFAULT_MATH,)
    precision = staticmethod(no_precision_control)

    def availability(self) -> Availability:
        return Availability(True, version=np.__version__)

    def thread_limit(self, count: int) -> AbstractContextManager[dict[str, int]]:
        return no_extra_thread_control(count)
