"""Watching the GPU while a case's samples are timed: clocks, power, temperature, throttle
reasons and other processes, through NVML (backends/nvml.py).

The device is read from a background thread every POLL_SECONDS while the samples are timed,
not at each sample's boundary. NVML's clocks and throttle reasons are states, not counters: a
look between two samples finds the device just after a synchronize, idle and ready to let its
clocks fall, and misses a dip that lies wholly inside a long sample (one sample may run for a
second of back-to-back calls). nvbench likewise reads the SM clock during its measurement. The
thread costs little: ctypes releases the GIL for each NVML call, the bookkeeping is tens of
microseconds per look, and a GPU case's host thread mostly waits on the device anyway.
"""

from __future__ import annotations

import statistics
import threading
from collections.abc import Callable
from types import TracebackType

from labench.backends.nvml import Device, NvmlUnavailable, Reading
from labench.results.gpu_state import ClockRange, GpuState

POLL_SECONDS = 0.01
"""Time between two looks at the device: a power-cap dip lasts tens of milliseconds, and a
look costs tens of microseconds of host time."""


class GpuWatch:
    """A context manager entered around a case's timed samples; `state()` then says what the
    device did. It never raises: what cannot be read is recorded with the reason."""

    def __init__(self, bus_id: Callable[[], str], threshold: float) -> None:
        self.bus_id = bus_id
        self.threshold = threshold
        self.device: Device | None = None
        self.reason: str | None = None
        self.readings: list[Reading] = []
        self.others: list[int | None] = []
        self.pids: set[int] = set()
        self.entered = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> GpuWatch:
        """Start watching; entered again (each timed sweep of the GPU roofs), it goes on
        adding to what it saw before."""
        if not self.entered:
            self.entered = True
            self.device = self._open()
        if self.device is None:
            return self
        self._stop.clear()
        self.poll()
        self._thread = threading.Thread(target=self._run, name="labench-gpu-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self.poll()

    def _open(self) -> Device | None:
        """The device CUDA computes on, opened through NVML; None with the reason kept."""
        try:
            return Device(self.bus_id())
        except NvmlUnavailable as error:
            self.reason = str(error)
        except Exception as error:  # the CUDA side cannot name its device
            self.reason = f"cannot tell which device CUDA computes on: {error}"
        return None

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self.poll()

    def poll(self) -> None:
        """One look at the device: its reading and the other processes on it."""
        assert self.device is not None
        self.readings.append(self.device.read())
        count, pids = self.device.others()
        self.others.append(count)
        self.pids.update(pids)

    def state(self) -> GpuState | None:
        """What the device did while watched; None when the watch was never entered (the
        case failed before its samples)."""
        if not self.entered:
            return None
        if self.device is None:
            return GpuState(reason=self.reason, throttle_threshold=self.threshold)
        readings, device = self.readings, self.device
        counts = [count for count in self.others if count is not None]
        reasons = {name for reading in readings for name in reading.reasons}
        return GpuState(
            uuid=device.uuid,
            name=device.name,
            sm_clock=clock_range([reading.sm_mhz for reading in readings]),
            sm_clock_max=device.max_sm_mhz,
            memory_clock=clock_range([reading.memory_mhz for reading in readings]),
            power_watts=_most([reading.power_watts for reading in readings]),
            temperature_c=_most([reading.temperature_c for reading in readings]),
            throttle_reasons=sorted(reasons),
            other_processes=max(counts) if counts else None,
            other_pids=sorted(self.pids),
            throttle_threshold=self.threshold,
            readings=len(readings),
            unread=dict(sorted(device.unread.items())),
        )


def clock_range(values: list[float | None]) -> ClockRange | None:
    """Start, end, lowest and mean of one clock's readings; None when the first or the last
    look could not read it (the others are then not a range over the sampling)."""
    if not values or values[0] is None or values[-1] is None:
        return None
    known = [value for value in values if value is not None]
    return ClockRange(start=values[0], end=values[-1], min=min(known), mean=statistics.fmean(known))


def _most(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return max(known) if known else None
