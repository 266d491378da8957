"""Registry of execution backends, probed lazily and once: probing CuPy can take seconds."""

from __future__ import annotations

from functools import cache

from labench.backends.base import Availability, Backend
from labench.backends.cupy_gpu import CupyBackend
from labench.backends.dask_array import DaskBackend
from labench.backends.numba_jit import NumbaBackend
from labench.backends.numpy_blas import NumpyBackend

BACKENDS: dict[str, Backend] = {
    backend.name: backend
    for backend in (NumpyBackend(), NumbaBackend(), CupyBackend(), DaskBackend())
}


@cache
def availability(name: str) -> Availability:
    """Whether the named backend can run here; an unknown name is unavailable, with the reason."""
    backend = BACKENDS.get(name)
    if backend is None:
        known = ", ".join(sorted(BACKENDS))
        return Availability(False, f"unknown backend {name!r} (known: {known})")
    return backend.availability()


__all__ = ["BACKENDS", "Availability", "Backend", "availability"]
