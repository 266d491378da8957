"""Dask arrays on this machine: the work is split into chunks, and dask's threaded scheduler runs
one task per chunk product on `threads` workers.

Each task calls BLAS, so BLAS is held to one thread inside them: the parallelism under test is
dask's, and `threads` workers never each start a full BLAS pool (2 x 2 threads on 2 cores).
Dask is imported only when a dask case runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from labench.backends.base import Availability, HostBackend
from labench.threads import limit_threads


class DaskBackend(HostBackend):
    name = "dask"

    def availability(self) -> Availability:
        try:
            import dask
            import dask.array
        except ImportError as error:
            return Availability(
                False, f"dask is not installed ({error}; pip install 'labench[dask]')"
            )
        return Availability(True, version=dask.__version__)

    @contextmanager
    def thread_limit(self, count: int) -> Iterator[dict[str, int]]:
        import dask

        with (
            dask.config.set(scheduler="threads", num_workers=count),
            limit_threads(1) as inside,
        ):
            yield {"dask": count} | {
                f"{pool} (in each task)": n for pool, n in inside.pools.items()
            }
