"""What a GPU was doing while a case (or the GPU roofs) was measured, as stored in a result.

A GPU does not run at one speed: its SM clock boosts while power and temperature allow and
drops when a power cap, a thermal limit or the board's slowdown signal says so, and a second
process on the device takes its share of the multiprocessors. A timing taken at 1,100 MHz is
not a timing of the kernel at 1,980 MHz. So each GPU case keeps the clocks beside its samples,
and a case whose SM clock fell below a share of its maximum, or whose device another process
used, is flagged `throttled` (measure/gpu_state.py). Every field is optional: without NVML, or
without permission for a query, the state says why it is missing.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ClockRange(_Model):
    """One clock over the sampling, in MHz."""

    start: float = Field(ge=0)
    end: float = Field(ge=0)
    min: float = Field(ge=0)
    mean: float = Field(ge=0, description="over evenly spaced readings")


class GpuState(_Model):
    """The device a GPU case ran on, and its clocks, power, temperature, throttle reasons and
    other processes while the samples were timed."""

    uuid: str | None = Field(
        None, description="NVML's device UUID: the same on every host only for the same device"
    )
    name: str | None = None
    sm_clock: ClockRange | None = None
    sm_clock_max: float | None = Field(None, ge=0, description="the device's highest SM clock")
    memory_clock: ClockRange | None = None
    power_watts: float | None = Field(None, ge=0, description="highest draw seen")
    temperature_c: float | None = Field(None, description="highest GPU temperature seen")
    throttle_reasons: list[str] = Field(
        default_factory=list, description="every reason NVML gave while sampling (sw_power_cap...)"
    )
    other_processes: int | None = Field(
        None, ge=0, description="most other processes seen holding a compute context on it"
    )
    other_pids: list[int] = Field(default_factory=list)
    throttle_threshold: float | None = Field(
        None, gt=0, le=1, description="an SM clock below this share of its maximum throttles"
    )
    readings: int = Field(0, ge=0, description="looks at the device during the sampling")
    reason: str | None = Field(None, description="why nothing could be read (no NVML, say)")
    unread: dict[str, str] = Field(
        default_factory=dict, description="fields NVML refused, with its reason"
    )

    @property
    def clock_share(self) -> float | None:
        """The lowest SM clock seen as a share of the device's highest."""
        if self.sm_clock is None or not self.sm_clock_max:
            return None
        return self.sm_clock.min / self.sm_clock_max

    @property
    def throttled(self) -> bool:
        """The SM clock fell below `throttle_threshold` of its maximum, or another process
        held the device."""
        share, threshold = self.clock_share, self.throttle_threshold
        dipped = share is not None and threshold is not None and share < threshold
        return dipped or bool(self.other_processes)


def _most(values: Sequence[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return max(known) if known else None


def merged_clock(clocks: Sequence[ClockRange | None]) -> ClockRange | None:
    """One clock over several processes' samplings, in the order they ran: the first's start,
    the last's end, the lowest of all, the mean of their means."""
    if not clocks or any(clock is None for clock in clocks):
        return None
    known = [clock for clock in clocks if clock is not None]
    return ClockRange(
        start=known[0].start,
        end=known[-1].end,
        min=min(clock.min for clock in known),
        mean=statistics.fmean(clock.mean for clock in known),
    )


def merged_state(states: Sequence[GpuState | None]) -> GpuState | None:
    """What the device did over a case measured in several processes: the worst each process
    saw (lowest clock, highest power and temperature, most other processes), every reason; the
    first state that could not be read, where one could not."""
    if not states or any(state is None for state in states):
        return None
    known = [state for state in states if state is not None]
    unreadable = next((state for state in known if state.reason is not None), None)
    if unreadable is not None:
        return unreadable
    first = known[0]
    others = [state.other_processes for state in known if state.other_processes is not None]
    unread: dict[str, str] = {}
    for state in known:
        unread = state.unread | unread
    return first.model_copy(
        update={
            "sm_clock": merged_clock([state.sm_clock for state in known]),
            "memory_clock": merged_clock([state.memory_clock for state in known]),
            "power_watts": _most([state.power_watts for state in known]),
            "temperature_c": _most([state.temperature_c for state in known]),
            "throttle_reasons": sorted(
                {name for state in known for name in state.throttle_reasons}
            ),
            "other_processes": max(others) if others else None,
            "other_pids": sorted({pid for state in known for pid in state.other_pids}),
            "readings": sum(state.readings for state in known),
            "unread": dict(sorted(unread.items())),
        }
    )
