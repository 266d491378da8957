"""The machine fingerprint stored with every run.

Results are compared across machines, so a result must say what produced it: CPU, cores, memory,
OS, library versions and — the usual suspect behind surprising numbers — which BLAS was loaded
and with how many threads.
"""

from __future__ import annotations

import hashlib
import os
import platform
import socket
from importlib import metadata
from typing import Any

import numpy  # noqa: F401  (loads BLAS, so threadpoolctl can report it)
from threadpoolctl import threadpool_info

from labench.backends.nvml import Device, NvmlUnavailable
from labench.core.host import total_memory, usable_cores

_PACKAGES = ("labench", "numpy", "scipy", "numba", "cupy-cuda12x", "cupy", "threadpoolctl")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions() -> dict[str, str]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def blas_pools() -> list[dict[str, Any]]:
    """The native thread pools loaded right now (BLAS, OpenMP), as threadpoolctl sees them."""
    keep = ("user_api", "internal_api", "version", "num_threads", "threading_layer", "architecture")
    return [
        {key: pool[key] for key in keep if key in pool}
        | {"library": os.path.basename(pool.get("filepath", ""))}
        for pool in threadpool_info()
    ]


def nvml_identity(pci_bus_id: str) -> dict[str, Any]:
    """The device's UUID, the one name that tells two GPUs of one model apart across hosts,
    and its top SM clock, through NVML; or why NVML cannot say."""
    try:
        device = Device(pci_bus_id)
    except NvmlUnavailable as error:
        return {"nvml": str(error)}
    return {"uuid": device.uuid, "sm_clock_max_mhz": device.max_sm_mhz}


def gpu_info() -> list[dict[str, Any]]:
    """Name, memory, driver and NVML identity of each CUDA device CuPy can see (only the one
    `run --device` chose, then); empty without CuPy or a GPU."""
    try:
        import cupy

        runtime = cupy.cuda.runtime
        count = runtime.getDeviceCount()
        driver = runtime.driverGetVersion()
    except Exception:  # any failure (no CuPy, no driver, no device) means "no GPU here"
        return []
    devices = []
    for index in range(count):
        properties = runtime.getDeviceProperties(index)
        name = properties["name"]
        devices.append(
            {
                "name": name.decode() if isinstance(name, bytes) else str(name),
                "memory_bytes": int(properties["totalGlobalMem"]),
                "compute_capability": f"{properties['major']}.{properties['minor']}",
                "driver": f"{driver // 1000}.{driver % 1000 // 10}",
            }
            | _identity(cupy, index)
        )
    return devices


def _identity(cupy: Any, index: int) -> dict[str, Any]:
    """The device's PCI bus id and its NVML identity."""
    try:
        bus = str(cupy.cuda.Device(index).pci_bus_id)
    except Exception as error:  # an old CuPy, a device the runtime will not name
        return {"nvml": f"no PCI bus id for device {index}: {error}"}
    return {"pci_bus_id": bus} | nvml_identity(bus)


def machine_id(cpu: str, cores: int, memory: int) -> str:
    """Short id that stays the same across runs on one machine and differs between machines:
    enough to refuse resuming a run elsewhere and to label columns in comparisons."""
    identity = "|".join((socket.gethostname(), cpu, str(cores), str(memory), platform.machine()))
    return hashlib.sha256(identity.encode()).hexdigest()[:12]


def fingerprint() -> dict[str, Any]:
    """Everything about this machine and software stack that can change a timing."""
    cpu = cpu_model()
    memory = total_memory()
    logical = os.cpu_count() or 1
    return {
        "machine_id": machine_id(cpu, logical, memory),
        "hostname": socket.gethostname(),
        "cpu": cpu,
        "architecture": platform.machine(),
        "cores_logical": logical,
        "cores_usable": usable_cores(),
        "memory_bytes": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "packages": package_versions(),
        "thread_pools": blas_pools(),
        "gpus": gpu_info(),
    }
