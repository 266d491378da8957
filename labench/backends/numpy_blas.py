"""NumPy on the host: threads are BLAS's, limited through threadpoolctl by the runner."""

from __future__ import annotations

from contextlib import AbstractContextManager

import numpy as np

from labench.backends.base import Availability, no_extra_thread_control
from labench.timing import cpu_loop_timer


class NumpyBackend:
    name = "numpy"
    loop_timer = staticmethod(cpu_loop_timer)
    synchronized = None

    def availability(self) -> Availability:
        return Availability(True, version=np.__version__)

    def thread_limit(self, count: int) -> AbstractContextManager[dict[str, int]]:
        return no_extra_thread_control(count)
