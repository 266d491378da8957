"""CuPy on an NVIDIA GPU: optional; timed with CUDA events.

Availability is probed without crashing: CuPy missing, no driver, or no device each give a
reason, and every case that needs the GPU is skipped with it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from labench.backends.base import Availability, no_extra_thread_control
from labench.core.dtypes import MATH_MODES
from labench.core.errors import InputError

VISIBLE = "CUDA_VISIBLE_DEVICES"


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


def cublas_compute(dtype: str, tf32: bool) -> str:
    """The cuBLAS compute type CuPy's GEMM (tensordot_core_v11, CuPy 13 to 15) picks for a
    dtype: 16-bit inputs are multiplied on tensor cores and summed in float32; float32 in
    float32, or on TF32 tensor cores when its compute type says so. Derived from CuPy's rule,
    since neither CuPy nor cuBLAS reports the compute type of a call. It holds for 2-D
    products (cublasGemmEx), which every built-in workload uses; CuPy's batched matmul of 3-D
    and higher arrays casts float16 to float32 and fails in bfloat16 (cupy/cupy PR #10317)."""
    if dtype == "float64":
        return "CUBLAS_COMPUTE_64F"
    if dtype == "float32" and tf32:
        return "CUBLAS_COMPUTE_32F_FAST_TF32"
    return "CUBLAS_COMPUTE_32F"


@contextmanager
def gemm_precision(dtype: str, math: str) -> Iterator[dict[str, str]]:
    """Set CuPy's GEMM compute type for the case's dtype (TF32 or CuPy's default) and restore
    it after, so each case says its own math and CUPY_TF32 in the environment changes nothing.

    CuPy reads CUPY_TF32 once, at the first product; `cupy._core.set_compute_type` is its
    per-dtype switch. The setting is read back: on a GPU older than compute capability 8.0
    CuPy refuses TF32 (with a warning) and the case records the default it really used.
    """
    import cupy
    from cupy._core import _routines_linalg as linalg

    from labench.core.dtypes import resolve

    numpy_dtype = resolve(dtype)
    before = cupy._core.get_compute_type(numpy_dtype)
    wanted = linalg.COMPUTE_TYPE_TF32 if math == "tf32" else linalg.COMPUTE_TYPE_DEFAULT
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the read-back below records a refusal
        cupy._core.set_compute_type(numpy_dtype, wanted)
    try:
        used = cupy._core.get_compute_type(numpy_dtype)
        yield {
            "compute_type": str(linalg.compute_type_to_str(used)),
            "cublas_compute": cublas_compute(dtype, used == linalg.COMPUTE_TYPE_TF32),
        }
    finally:
        cupy._core.set_compute_type(numpy_dtype, before)


def bus_id() -> str:
    """The PCI bus id of the device CuPy computes on: the name NVML knows it by, whatever
    order CUDA numbers devices in."""
    import cupy

    return str(cupy.cuda.Device().pci_bus_id)


def choose_device(index: int, environment: MutableMapping[str, str]) -> str:
    """Make the `index`-th device CUDA can see the only one it sees (`--device N`), in
    `environment` (the process's, before CUDA starts, so worker processes inherit it); the
    value set. With CUDA_VISIBLE_DEVICES already set, N counts among the devices it lists."""
    listed = environment.get(VISIBLE)
    if listed is None:
        chosen = str(index)
    else:
        visible = [entry.strip() for entry in listed.split(",") if entry.strip()]
        if index >= len(visible):
            raise InputError(
                f"--device {index}: {VISIBLE}={listed!r} lets CUDA see {len(visible)} "
                f"device(s), numbered from 0; choose one of them"
            )
        chosen = visible[index]
    environment[VISIBLE] = chosen
    return chosen


class CupyBackend:
    name = "cupy"
    loop_timer = staticmethod(cuda_loop_timer)
    preload: tuple[str, ...] = ()
    """Nothing: a fork server should not hold a CUDA library that a fork cannot use."""
    jit = True
    synchronized = staticmethod(synchronized)
    math_modes = MATH_MODES
    precision = staticmethod(gemm_precision)

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
