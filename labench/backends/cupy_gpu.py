"""CuPy on an NVIDIA GPU: optional; timed with CUDA events.

Availability is probed without crashing: CuPy missing, no driver, or no device each give a
reason, and every case that needs the GPU is skipped with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labench.backends.base import Availability, no_extra_thread_control


def cuda_loop_timer(function: Callable[[], Any], loops: int) -> float:
    """Seconds of GPU time for `loops` calls, between two CUDA events on the current stream.

    The device is synchronised first, so no earlier work leaks into the interval, and the end
    event is waited for, so the interval covers the work and not just its launch.
    """
    import cupy

    start, end = cupy.cuda.Event(), cupy.cuda.Event(block=True)
    cupy.cuda.Device().synchronize()
    start.record()
    for _ in range(loops):
        function()
    end.record()
    end.synchronize()
    return cupy.cuda.get_elapsed_time(start, end) / 1e3


def synchronized(function: Callable[[], Any]) -> Callable[[], Any]:
    """The call, then a device synchronize: what a host program waiting for the result sees."""
    import cupy

    def run() -> Any:
        output = function()
        cupy.cuda.Device().synchronize()
        return output

    return run


class CupyBackend:
    name = "cupy"
    loop_timer = staticmethod(cuda_loop_timer)
    synchronized = staticmethod(synchronized)

    def availability(self) -> Availability:
        try:
            import cupy
        except ImportError:
            return Availability(False, "CuPy is not installed (pip install 'labench[gpu]')")
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as error:  # CUDARuntimeError without a driver, and kin
            return Availability(False, f"no usable CUDA driver or device ({error})")
        if count == 0:
            return Availability(False, "no CUDA device found")
        return Availability(True, version=cupy.__version__)

    thread_limit = staticmethod(no_extra_thread_control)
