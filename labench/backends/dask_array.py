"""Dask arrays on a dask.distributed cluster (dask_cluster.py): the work is split into chunks,
and the cluster's workers run one task per chunk product.

The case's `threads` picks the workers (on this run's LocalCluster, `threads` single-threaded
worker processes; on a user's cluster, all of them) and the result records them in
`thread_pools`. Dask is imported only when a dask case runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from labench.backends.base import Availability, HostBackend


class DaskBackend(HostBackend):
    name = "dask"

    def availability(self) -> Availability:
        try:
            import dask
            import dask.array
            import distributed  # noqa: F401
        except ImportError as error:
            return Availability(
                False, f"dask is not installed ({error}; pip install 'labench[dask]')"
            )
        return Availability(True, version=dask.__version__)

    @contextmanager
    def thread_limit(self, count: int) -> Iterator[dict[str, int]]:
        from labench.backends import dask_cluster

        with dask_cluster.placed(count) as placement:
            yield {"dask workers": len(placement.workers), "dask threads": placement.threads}

    def memory(self) -> tuple[int, str]:
        """The memory dask cases compute in, and where (see dask_cluster.memory)."""
        from labench.backends import dask_cluster

        return dask_cluster.memory()

    def share_with_workers(self, environment: Mapping[str, str]) -> dict[str, str]:
        """Environment that makes worker processes use this run's cluster."""
        from labench.backends import dask_cluster

        return dask_cluster.shared_environment(environment)

    def local_processes(self) -> list[int]:
        """This run's LocalCluster's processes, if one is held (dask_cluster.Cluster)."""
        from labench.backends import dask_cluster

        return dask_cluster.local_processes()

    def release(self) -> None:
        """Close this run's cluster connection (and LocalCluster), if one was made."""
        from labench.backends import dask_cluster

        dask_cluster.release()
