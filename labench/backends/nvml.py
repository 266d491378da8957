"""NVML (the `nvidia-ml-py` package, imported as `pynvml`): what a GPU's driver says about its
state, read without CUDA: clocks, power, temperature, why the clocks are held down, and which
processes hold a context on it.

CUDA numbers devices in its own order (fastest first, unless CUDA_DEVICE_ORDER says otherwise,
and only those CUDA_VISIBLE_DEVICES lets through), NVML in the order of the PCI bus. So a device
is opened by its PCI bus id, which both agree on. Whatever NVML cannot give (no package, no
driver library, no permission, a query the device does not support) is an `NvmlUnavailable`
or a field named with the reason, never a crash: the state of the GPU is evidence beside a
timing, not a condition for taking one.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

REASONS = (
    ("SwPowerCap", "sw_power_cap"),
    ("HwSlowdown", "hw_slowdown"),
    ("SwThermalSlowdown", "sw_thermal"),
    ("HwThermalSlowdown", "hw_thermal"),
    ("HwPowerBrakeSlowdown", "hw_power_brake"),
    ("SyncBoost", "sync_boost"),
    ("ApplicationsClocksSetting", "applications_clocks"),
    ("DisplayClockSetting", "display_clock"),
)
"""The reasons NVML gives for clocks below their maximum (its bit names, without the prefix),
and the names a result stores. `GpuIdle` is left out: a device between two calls is idle,
which holds no kernel back."""

REASON_PREFIXES = ("nvmlClocksEventReason", "nvmlClocksThrottleReason")
"""Drivers from 535 on call them clock event reasons; older bindings only know the throttle
names. Both name the same bits."""


class NvmlUnavailable(Exception):
    """NVML cannot say anything about the device; the message says why, in words."""


@dataclass(frozen=True)
class Reading:
    """One look at the device. A value NVML refused is None, and the device's `unread` says
    why."""

    sm_mhz: float | None
    memory_mhz: float | None
    power_watts: float | None
    temperature_c: float | None
    reasons: tuple[str, ...]


@cache
def _initialised(module: ModuleType) -> None:
    """nvmlInit, once per process and module: it costs up to a second on a device without
    persistence mode, and NVML stays usable until the process ends."""
    module.nvmlInit()


def library() -> ModuleType:
    """pynvml, initialised; NvmlUnavailable when the package or the driver's library is
    missing or refuses."""
    try:
        module = importlib.import_module("pynvml")
    except ImportError:
        raise NvmlUnavailable(
            "nvidia-ml-py is not installed (pip install 'labench[gpu]')"
        ) from None
    try:
        _initialised(module)
    except module.NVMLError as error:
        raise NvmlUnavailable(f"NVML could not start: {error}") from None
    return module


class Device:
    """One GPU opened through NVML, by the PCI bus id CUDA gives for it."""

    def __init__(self, pci_bus_id: str) -> None:
        self.nvml = library()
        try:
            self.handle = self.nvml.nvmlDeviceGetHandleByPciBusId(pci_bus_id.encode())
        except self.nvml.NVMLError as error:
            raise NvmlUnavailable(f"NVML cannot open the device at {pci_bus_id}: {error}") from None
        self.unread: dict[str, str] = {}
        """Each query NVML refused since the device was opened, with its first reason."""
        self.uuid = self._text(self._query("uuid", self.nvml.nvmlDeviceGetUUID))
        self.name = self._text(self._query("name", self.nvml.nvmlDeviceGetName))
        self.max_sm_mhz = self._number(
            self._query("sm_max", self.nvml.nvmlDeviceGetMaxClockInfo, self.nvml.NVML_CLOCK_SM)
        )

    def _query(self, name: str, function: Callable[..., Any], *arguments: Any) -> Any:
        """NVML's answer, or None with the reason kept in `unread` under `name`."""
        try:
            return function(self.handle, *arguments)
        except self.nvml.NVMLError as error:
            self.unread.setdefault(name, str(error))
            return None

    @staticmethod
    def _text(value: Any) -> str | None:
        return value.decode() if isinstance(value, bytes) else value

    @staticmethod
    def _number(value: Any) -> float | None:
        return None if value is None else float(value)

    def read(self) -> Reading:
        """Clocks, power, temperature and throttle reasons now."""
        nvml = self.nvml
        sm = self._query("sm_clock", nvml.nvmlDeviceGetClockInfo, nvml.NVML_CLOCK_SM)
        memory = self._query("memory_clock", nvml.nvmlDeviceGetClockInfo, nvml.NVML_CLOCK_MEM)
        milliwatts = self._query("power", nvml.nvmlDeviceGetPowerUsage)
        temperature = self._query(
            "temperature", nvml.nvmlDeviceGetTemperature, nvml.NVML_TEMPERATURE_GPU
        )
        reasons = (
            getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
            or nvml.nvmlDeviceGetCurrentClocksThrottleReasons
        )
        bits = self._query("throttle_reasons", reasons)
        return Reading(
            sm_mhz=self._number(sm),
            memory_mhz=self._number(memory),
            power_watts=None if milliwatts is None else milliwatts / 1000,
            temperature_c=self._number(temperature),
            reasons=() if bits is None else reason_names(nvml, bits),
        )

    def others(self) -> tuple[int | None, list[int]]:
        """How many other processes hold a compute context on the device, and their pids.

        In a container with its own PID namespace NVML gives the host's pids, so this process
        is not among them although it holds a context (it is timing a kernel there): then one
        of the listed processes is taken to be this one, and the others' pids mean nothing
        here, so none are given. (None, []) when NVML refuses (no permission)."""
        listed = self._query("other_processes", self.nvml.nvmlDeviceGetComputeProcesses)
        if listed is None:
            return None, []
        pids = [int(process.pid) for process in listed]
        if os.getpid() in pids:
            others = [pid for pid in pids if pid != os.getpid()]
            return len(others), others
        return max(len(pids) - 1, 0), []


def reason_names(nvml: ModuleType, bits: int) -> tuple[str, ...]:
    """The names of the throttle reasons set in `bits`, as REASONS words them."""
    names = []
    for suffix, name in REASONS:
        mask = next(
            (
                getattr(nvml, prefix + suffix)
                for prefix in REASON_PREFIXES
                if hasattr(nvml, prefix + suffix)
            ),
            0,
        )
        if bits & mask:
            names.append(name)
    return tuple(names)
