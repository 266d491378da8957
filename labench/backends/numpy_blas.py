"""NumPy on the host: threads are BLAS's, limited through threadpoolctl by the runner."""

from __future__ import annotations

from contextlib import AbstractContextManager

import numpy as np

from labench.backends.base import Availability, HostBackend, no_extra_thread_control


class NumpyBackend(HostBackend):
    name = "numpy"

    def availability(self) -> Availability:
        return Availability(True, version=np.__version__)

    def thread_limit(self, count: int) -> AbstractContextManager[dict[str, int]]:
        return no_extra_thread_control(count)
