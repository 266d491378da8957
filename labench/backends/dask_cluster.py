"""The dask.distributed cluster a run's dask cases compute on: the scheduler named by
`LABENCH_DASK_SCHEDULER` (a user's cluster, `run --cluster ADDRESS`), else a LocalCluster that
this process starts once, at the first dask case, and closes at the end of the run.

The LocalCluster has one single-threaded worker process per usable core (distributed's nanny
also holds BLAS to one thread in each), so a case's `threads` maps onto it directly: a case with
t threads computes on t of those workers (`Placement.workers`), the others stay idle. On a
user's cluster every worker takes part, whatever `threads` says: its size is the cluster's, not
something a suite on this machine can pick.

A worker process of `--isolate` is daemonic and may not start processes of its own, and one
cluster per worker would not be one per run; so the run's parent starts the LocalCluster
(`share_with_workers`) and passes its address down with `LABENCH_DASK_SCHEDULER`, marked by
`LABENCH_DASK_CLUSTER=local` as this run's own (same thread mapping as in-process).

A `tls://` scheduler is reached with this machine's certificates (`Tls`): `run --tls-ca-file
--tls-cert --tls-key`, which a run passes to its workers as the LABENCH_TLS_* variables, or
Dask's own `distributed.comm.tls` configuration.

Imported only when a dask case runs, a suite asks for the cluster's memory, or a fleet run
starts.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labench.core.errors import InputError
from labench.core.host import usable_cores

SCHEDULER = "LABENCH_DASK_SCHEDULER"
"""The scheduler's address (`tcp://host:8786`); unset: this run's own LocalCluster."""
OWN_CLUSTER = "LABENCH_DASK_CLUSTER"
"""Set to `local` by a parent that passes its own LocalCluster to its worker processes."""
CONNECT_TIMEOUT = "30s"
TLS_VARIABLES = ("LABENCH_TLS_CA_FILE", "LABENCH_TLS_CERT", "LABENCH_TLS_KEY")
"""The certificates of `Tls`, as `run`'s options read them from the environment and pass them
to the run's workers."""


@dataclass(frozen=True)
class Tls:
    """This machine's credentials for a `tls://` scheduler: the CA that signed the cluster's
    certificates, and this machine's certificate and key, signed by a CA the cluster trusts.
    Dask's TLS is mutual: without a certificate the scheduler trusts, nothing connects."""

    ca_file: Path
    cert: Path
    key: Path | None = None
    """None: the key is in the `cert` file."""

    @classmethod
    def of(cls, ca_file: Path | None, cert: Path | None, key: Path | None) -> Tls | None:
        """The credentials given, checked to be files; None when none is given."""
        if ca_file is None and cert is None and key is None:
            return None
        if ca_file is None or cert is None:
            raise InputError(
                "--tls-ca-file and --tls-cert go together (--tls-key too, unless the "
                "certificate file holds the key): a TLS cluster checks both sides"
            )
        given = {"--tls-ca-file": ca_file, "--tls-cert": cert, "--tls-key": key}
        for option, path in given.items():
            if path is not None and not path.is_file():
                raise InputError(f"{option} {path}: no such file; expected a PEM file")
        return cls(ca_file.absolute(), cert.absolute(), key.absolute() if key else None)

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> Tls | None:
        """The credentials a parent passed down (`environment`), if any."""
        ca_file, cert, key = (environment.get(name) for name in TLS_VARIABLES)
        return cls.of(*(Path(value) if value else None for value in (ca_file, cert, key)))

    def environment(self) -> dict[str, str]:
        """The variables that pass these credentials to a worker process."""
        values = zip(TLS_VARIABLES, (self.ca_file, self.cert, self.key), strict=True)
        return {name: str(value) for name, value in values if value}

    def security(self) -> Any:
        """A `distributed.Security` that makes every connection of a client TLS, with these."""
        from distributed.security import Security

        return Security(
            tls_ca_file=str(self.ca_file),
            tls_client_cert=str(self.cert),
            tls_client_key=str(self.key) if self.key else None,
            require_encryption=True,
        )


def security(address: str, environment: Mapping[str, str]) -> Any:
    """The `security` argument of a client of `address`: for a tls:// one, from LABENCH_TLS_*
    when set; else None, which leaves it to Dask's own configuration (`distributed.comm.tls`)."""
    tls = Tls.from_environment(environment) if address.startswith("tls://") else None
    return tls.security() if tls else None


@dataclass(frozen=True)
class Placement:
    """Where one case computes: the client, the workers it may use, and what to record."""

    client: Any
    workers: tuple[str, ...]
    threads: int
    remote: bool
    cluster_workers: int
    memory: int
    """The memory limits of `workers`, summed: what the case's data must fit in."""

    def persist(self, collection: Any) -> Any:
        """`collection` computed and held on the case's workers, once it is all there."""
        from distributed import wait

        with warnings.catch_warnings():
            # host arrays (the inputs of a case that fits this machine) go into the graph: a
            # one-off cost before timing, which distributed warns about for large ones
            warnings.filterwarnings("ignore", "Sending large graph", UserWarning)
            held = self.client.persist(collection, workers=list(self.workers))
        with self.client.as_current():
            wait(held)
        return held

    def gather(self, *collections: Any) -> Any:
        """The values of `collections`, computed on the case's workers, on this host."""
        found = self.client.compute(list(collections), workers=list(self.workers), sync=True)
        return found[0] if len(collections) == 1 else tuple(found)

    def metrics(self) -> dict[str, float]:
        """What a dask case records about where it ran."""
        return {
            "cluster_remote": float(self.remote),
            "cluster_workers": float(self.cluster_workers),
            "cluster_memory": float(self.memory),
        }


class Cluster:
    """A client connected to the run's cluster, and the LocalCluster if this process owns it."""

    def __init__(self) -> None:
        from distributed import Client, LocalCluster

        address = os.environ.get(SCHEDULER)
        self.local: Any = None
        if address:
            self.remote = os.environ.get(OWN_CLUSTER) != "local"
            self.client = Client(
                address,
                timeout=CONNECT_TIMEOUT,
                set_as_default=False,
                security=security(address, os.environ),
            )
        else:
            if multiprocessing.current_process().daemon:
                raise RuntimeError(
                    f"a daemonic process cannot start a LocalCluster's workers; set {SCHEDULER} "
                    "to a scheduler's address (an isolated run's parent does it for its workers)"
                )
            self.remote = False
            self.local = LocalCluster(
                n_workers=usable_cores(),
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            )
            self.client = Client(self.local, set_as_default=False)
        self.address = address or self.local.scheduler_address

    def workers(self) -> dict[str, dict[str, Any]]:
        """The scheduler's view of every worker, by address (sorted, so placements repeat)."""
        found = self.client.scheduler_info(n_workers=-1)["workers"]
        return dict(sorted(found.items()))

    def memory(self) -> int:
        """The sum of the workers' memory limits (a worker without one counts as none)."""
        return sum(int(worker.get("memory_limit") or 0) for worker in self.workers().values())

    def local_processes(self) -> list[int]:
        """The processes on this machine doing this run's dask work: a LocalCluster's workers,
        their nannies, and the process that started them, which holds the scheduler (this one,
        or an isolated worker's parent). None for a user's cluster, whose workers' process ids
        may be another machine's."""
        from labench.core.host import parent_pid

        if self.remote:
            return []
        workers = {int(pid) for pid in self.client.run(os.getpid).values()}
        nannies = {nanny for nanny in map(parent_pid, workers) if nanny is not None}
        owners = {owner for owner in map(parent_pid, nannies) if owner is not None}
        return sorted((workers | nannies | owners) - {os.getpid()})

    def placement(self, threads: int) -> Placement:
        """The workers a case with `threads` threads computes on (see the module's docstring)."""
        workers = self.workers()
        chosen = list(workers) if self.remote else list(workers)[: max(1, threads)]
        return Placement(
            client=self.client,
            workers=tuple(chosen),
            threads=sum(int(workers[address]["nthreads"]) for address in chosen),
            remote=self.remote,
            cluster_workers=len(workers),
            memory=sum(int(workers[address].get("memory_limit") or 0) for address in chosen),
        )

    def close(self) -> None:
        self.client.close()
        if self.local is not None:
            self.local.close()


_cluster: Cluster | None = None
_placement: Placement | None = None


@contextmanager
def placed(threads: int) -> Iterator[Placement]:
    """Hold the placement of a case with `threads` threads for its duration (`current`)."""
    global _placement
    _placement = cluster().placement(threads)
    try:
        yield _placement
    finally:
        _placement = None


def current() -> Placement:
    """The placement of the dask case being measured (set by the backend's thread limit)."""
    if _placement is None:
        raise RuntimeError("a dask implementation ran outside the dask backend's thread limit")
    return _placement


def cluster() -> Cluster:
    """The run's cluster, connected (or started) at the first call and kept until `release`."""
    global _cluster
    if _cluster is None:
        _cluster = Cluster()
        atexit.register(release)
    return _cluster


def release() -> None:
    """Close the client and any LocalCluster this process started; the next dask case starts
    afresh. Called when a run's executor closes, and at exit."""
    global _cluster
    if _cluster is not None:
        held, _cluster = _cluster, None
        held.close()


def shared_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """What this run's worker processes, which will have `environment`, need to use the
    parent's cluster rather than each starting one (they cannot: they are daemonic); nothing
    when `environment` names a scheduler already (the user's, or a fleet's)."""
    if environment.get(SCHEDULER):
        return {}
    return {SCHEDULER: cluster().address, OWN_CLUSTER: "local"}


def local_processes() -> list[int]:
    """This run's cluster's processes on this machine, if a cluster is held (see Cluster)."""
    return _cluster.local_processes() if _cluster is not None else []


def memory() -> tuple[int, str]:
    """The memory dask cases can use, and where it is, without starting a LocalCluster for it:
    the workers' sum from the named scheduler, else this machine's memory (which a LocalCluster
    of this run would share)."""
    if os.environ.get(SCHEDULER) and os.environ.get(OWN_CLUSTER) != "local":
        held = cluster()
        return held.memory(), f"the dask cluster at {held.address}"
    from labench.core.host import total_memory

    return total_memory(), "this machine (a LocalCluster of this run)"
