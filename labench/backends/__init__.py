"""Registry of execution backends, probed lazily and once: probing CuPy can take seconds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

from labench.backends.base import Availability, Backend, ComputesElsewhere
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


def shared_with_workers(names: Iterable[str], environment: Mapping[str, str]) -> dict[str, str]:
    """What worker processes that will have `environment` need besides, to share what the
    named backends use per run (dask's cluster); nothing for a backend that is unavailable or
    computes here, or when `environment` already says where (a fleet's cluster)."""
    shared: dict[str, str] = {}
    for name in sorted(set(names)):
        backend = BACKENDS.get(name)
        if isinstance(backend, ComputesElsewhere) and availability(name).available:
            shared |= backend.share_with_workers(environment)
    return shared


def preload_modules(names: Iterable[str]) -> list[str]:
    """The modules worth importing once in a fork server for cases of the named backends."""
    return sorted(
        {module for name in names if name in BACKENDS for module in BACKENDS[name].preload}
    )


def computes_elsewhere(name: str) -> bool:
    """Whether the named backend computes on machines of its own (dask's cluster)."""
    return isinstance(BACKENDS.get(name), ComputesElsewhere)


def release_all() -> None:
    """End of a run: let go of every cluster or connection a backend holds."""
    for backend in BACKENDS.values():
        if isinstance(backend, ComputesElsewhere):
            backend.release()


__all__ = [
    "BACKENDS",
    "Availability",
    "Backend",
    "ComputesElsewhere",
    "availability",
    "computes_elsewhere",
    "preload_modules",
    "release_all",
    "shared_with_workers",
]
