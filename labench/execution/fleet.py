"""Fleet runs: the whole suite once on every host of a Dask cluster, one result per host.

labench builds no distributed layer of its own: the hosts are the workers of a Dask cluster the
user already runs (`--cluster tcp://host:8786`), or a LocalCluster started here (`--cluster
local`, `local:N`) whose workers stand in for hosts `local-0`, `local-1`, ... On each host one
Dask worker runs the host's cases exactly as `labench run --isolate` would (a fresh worker
process per benchmark, killed past its timeout), from a work order that carries the suite text,
its user workload modules and its steering environment (workorder.py). Each result is put on a
Dask queue as it finishes, so the parent saves every finished case of every host as it comes.

Workers that share a machine share its cores, so they never measure at once: hosts are grouped
by the address they run on, and one thread per address runs its hosts one after another, while
distinct addresses run in parallel. A host that dies, leaves the cluster or stops reporting has
its remaining cases recorded as `error` with the cause; the other hosts are not touched.

A case of the dask backend computes on the cluster's workers, not on one host, so no host
measures it: the command (fleet_run.py) measures those once after the hosts, pointing them at
`scheduler_address`, into a file whose environment is `cluster_environment`.

Dask is imported here (and in backends/dask) only, and only when a fleet run asks for it.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from labench.backends.dask_cluster import Tls
from labench.core.clock import now
from labench.core.errors import InputError
from labench.core.pause import pause_at
from labench.core.progress import Observer
from labench.execution.isolated import STARTUP_LIMIT, in_workers, worker_context
from labench.execution.workorder import WorkOrder
from labench.measure.case import record
from labench.measure.environment import fingerprint
from labench.results import model as results
from labench.results.model import CaseResult, Environment, Result
from labench.suite.case import Case, Settings

LOCAL_WORKERS = 2
"""Stand-in hosts of `--cluster local`."""
POLL = 0.05
"""Seconds between looks at a host that has not reported (each look asks the scheduler)."""
CLUSTER = "cluster"
"""The host name of the file that holds the run's dask cases, measured once on the whole
cluster rather than once per host (results/<suite>-cluster-<stamp>.json)."""
CONNECT_TIMEOUT = 5.0
"""Seconds to reach a scheduler: a live one answers in milliseconds, so a wrong address or a
scheduler that is down is refused quickly rather than after distributed's default 30 s."""
CASE_PATIENCE = 10.0
"""A host may take this many times a case's time budget (plus STARTUP_LIMIT, plus its timeout)
to report it before it is given up on as hung."""


@dataclass(frozen=True)
class Host:
    """One machine of the fleet, measured by one of its Dask workers."""

    name: str
    worker: str
    """The Dask worker's address."""
    machine: str
    """Where it runs: hosts with the same one share cores and run one after another."""
    environment: dict[str, Any]


@dataclass
class HostRun:
    """One host's part of a fleet run."""

    host: Host
    result: Result
    cases: list[Case]
    """What the host still has to measure (a resumed file's missing cases)."""
    path: Path | None = None
    """A resumed file's, or reserved as the host starts, so that a host that never started
    leaves no empty file."""
    lost: str | None = None
    """Why the host stopped before its last case, if it did."""


@dataclass
class Fleet:
    """A connection to a Dask cluster (or a LocalCluster started for the run)."""

    address: str
    client: Any
    cluster: Any = None
    hosts: list[Host] = field(default_factory=list)

    def describe(self) -> str:
        """As a host's cases run: isolated, so a host's file resumes there with --isolate (the
        command line, kept in the result, names the cluster)."""
        return f"isolated ({worker_context(independent=False).get_start_method()})"

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def exposure(address: str) -> str | None:
    """Why a plain-TCP scheduler address away from this machine deserves a warning: anyone who
    can reach a Dask scheduler can run code on its workers. None for `local`, loopback and TLS."""
    if re.fullmatch(r"local(?::\d+)?", address) or address.startswith("tls://"):
        return None
    host = address.removeprefix("tcp://").rsplit(":", 1)[0].strip("[]")
    if host in ("localhost", "::1") or host.startswith("127."):
        return None
    return (
        f"{address} is plain TCP to another machine: whoever can reach that scheduler can run "
        "code on every worker; use tls:// with certificates (Dask's distributed.comm.tls "
        "settings) on any network you do not fully trust"
    )


def connect(address: str, tls: Tls | None = None) -> Fleet:
    """Connect to `address` (or start a LocalCluster for `local` / `local:N`) and find its
    hosts; refuse, by name and before anything runs, a worker with another labench version or
    one that could not start isolated workers. A tls:// address is reached with `tls`, else
    with Dask's own TLS configuration; with neither, or certificates the scheduler does not
    accept, it is refused."""
    import dask
    from distributed import Client, LocalCluster

    if address.startswith("tls://") and tls is None and not dask.config.get(TLS_CA, None):
        raise InputError(
            f"--cluster {address}: a TLS scheduler admits only clients with a certificate it "
            "trusts, and none is configured here: give --tls-ca-file CA.pem --tls-cert "
            "CERT.pem --tls-key KEY.pem (or Dask's distributed.comm.tls settings)"
        )

    cluster = None
    local = re.fullmatch(r"local(?::(\d+))?", address)
    # Isolated case workers are child processes, which a daemonic Dask worker may not have; a
    # worker's death must fail its task at once rather than move it to another host.
    with dask.config.set(
        {"distributed.worker.daemon": False, "distributed.scheduler.allowed-failures": 0}
    ):
        if local:
            workers = int(local.group(1) or LOCAL_WORKERS)
            if workers < 1:
                raise InputError(f"--cluster {address}: expected at least one local worker")
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                memory_limit=0,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)
        else:
            secure = tls.security() if tls and address.startswith("tls://") else None
            try:
                client = Client(address, timeout=f"{CONNECT_TIMEOUT}s", security=secure)
            except (OSError, TimeoutError, ValueError, TypeError) as error:
                raise InputError(_unreachable(address, error)) from None
    fleet = Fleet(address, client, cluster)
    try:
        fleet.hosts = _hosts(client, stand_ins=cluster is not None)
    except BaseException:
        fleet.close()
        raise
    return fleet


TLS_CA = "distributed.comm.tls.ca-file"
"""Dask's own setting of the CA for TLS connections, the alternative to `run --tls-ca-file`."""


def _unreachable(address: str, error: BaseException) -> str:
    """Why no client connected to `address`, for one paragraph: a TLS handshake that failed is
    a matter of certificates, not of the address."""
    detail = " ".join(str(error).split()) or type(error).__name__
    if address.startswith("tls://"):
        return (
            f"--cluster {address}: no TLS connection to a Dask scheduler there ({detail}); "
            "the scheduler's certificate must be signed by the CA given here (--tls-ca-file), "
            "and this machine's (--tls-cert, --tls-key) by a CA the scheduler trusts"
        )
    return (
        f"--cluster {address}: cannot reach a Dask scheduler there ({detail}); "
        "expected an address such as tcp://host:8786, or 'local'"
    )


def scheduler_address(fleet: Fleet) -> str:
    """Where a dask case of the run finds the cluster (LABENCH_DASK_SCHEDULER): for `local`,
    the LocalCluster's scheduler."""
    return str(fleet.client.scheduler.address)


def cluster_environment(fleet: Fleet) -> Environment:
    """The cluster as the one machine that measures the run's dask cases: its workers, threads
    and memory as the scheduler reports them (the sum of the workers' memory limits, or of its
    hosts' memory when a worker has none), its software as its first host's. Its machine id is
    made of its hosts' machine ids and its worker and thread counts, not of addresses, so a file
    resumes on the same machines however they were restarted, and not on another cluster."""
    try:
        info = fleet.client.scheduler_info(n_workers=-1)  # newer ones list 5 unless asked
    except TypeError:  # an older distributed: no such argument, and every worker listed
        info = fleet.client.scheduler_info()
    workers = list(info["workers"].values())
    threads = sum(int(worker["nthreads"]) for worker in workers)
    limits = [int(worker.get("memory_limit") or 0) for worker in workers]
    memory = sum(limits) if all(limits) else None
    if memory is None:
        memory = sum(host.environment.get("memory_bytes") or 0 for host in fleet.hosts) or None
    machines = sorted(host.environment["machine_id"] for host in fleet.hosts)
    identity = hashlib.sha256(repr((machines, len(workers), threads)).encode()).hexdigest()
    return Environment.model_validate(
        dict(
            fleet.hosts[0].environment,
            machine_id=f"cluster-{identity[:16]}",
            hostname=CLUSTER,
            cpu=f"Dask cluster: {len(workers)} workers, {threads} threads on "
            + ", ".join(host.name for host in fleet.hosts),
            cores_logical=threads,
            cores_usable=threads,
            memory_bytes=memory,
            thread_pools=[],
            gpus=[],
        )
    )


def _probe() -> dict[str, Any]:
    """Run on every worker: what decides whether it can take part."""
    return {
        "version": metadata.version("labench"),
        "daemon": multiprocessing.current_process().daemon,
        "hostname": socket.gethostname(),
        "environment": fingerprint(),
    }


def labench_version() -> str:
    return metadata.version("labench")


def _hosts(client: Any, stand_ins: bool) -> list[Host]:
    probes = client.run(_probe)
    if not probes:
        raise InputError("--cluster: the cluster has no workers")
    workers = sorted(probes)
    ours = labench_version()
    problems = []
    hosts: list[Host] = []
    seen: set[str] = set()
    for index, worker in enumerate(workers):
        probe = probes[worker]
        name = f"local-{index}" if stand_ins else _safe(probe["hostname"])
        if probe["version"] != ours:
            problems.append(
                f"worker {worker} on {name} has labench {probe['version']}, this is {ours}; "
                "install the same version on every worker"
            )
        if probe["daemon"]:
            problems.append(
                f"worker {worker} on {name} is daemonic, so it cannot start isolated case "
                "workers; start it with DASK_DISTRIBUTED__WORKER__DAEMON=False"
            )
        if name in seen:  # another worker of a host already measured: they share its cores
            continue
        seen.add(name)
        environment = dict(probe["environment"], hostname=name)
        machine = worker.rsplit(":", 1)[0] if not stand_ins else "local"
        hosts.append(Host(name, worker, machine, environment))
    if problems:
        raise InputError(problems)
    return hosts


def _safe(name: str) -> str:
    """A host name fit for a file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name) or "host"


def _host_task(order: WorkOrder, keys: list[str], settings: list[Settings], queue: str) -> None:
    """Run on the host's worker: its cases as --isolate would, each result onto `queue`."""
    from distributed import Queue

    out = Queue(queue)
    try:
        cases = order.rebuild(keys, settings)
    except Exception as error:
        out.put(("failed", f"{type(error).__name__}: {error}"))
        return
    context = worker_context(independent=False)
    benchmarks: dict[str, list[Case]] = {}
    for case in cases:
        benchmarks.setdefault(case.benchmark, []).append(case)
    for batch in benchmarks.values():
        for result in in_workers(context, batch, Observer(), order):
            out.put(("case", result.model_dump(mode="json")))
    out.put(("end", None))


class OnHost:
    """An executor that runs cases on one host of a fleet."""

    stops_hung_cases = True

    def __init__(self, fleet: Fleet, host: Host, order: WorkOrder, stop: threading.Event):
        self.fleet, self.host, self.order, self.stop = fleet, host, order, stop
        self.lost: str | None = None

    def describe(self) -> str:
        return self.fleet.describe()

    def close(self) -> None:
        """The fleet holds the connection."""

    def run(self, cases: Sequence[Case], observer: Observer) -> Iterator[CaseResult]:
        from distributed import Queue

        name = f"labench-{self.host.name}-{uuid.uuid4().hex[:8]}"
        queue = Queue(name, client=self.fleet.client)
        future = self.fleet.client.submit(
            _host_task,
            self.order,
            [case.key for case in cases],
            [case.settings for case in cases],
            name,
            workers=[self.host.worker],
            allow_other_workers=False,
            pure=False,
            key=name,
        )
        pending = list(cases)
        try:
            while pending and self.lost is None:
                for kind, detail in self._next(queue, future, pending[0]):
                    if kind == "case":
                        result = CaseResult.model_validate(detail)
                        pending = [case for case in pending if case.key != result.key]
                        yield result
                    elif kind == "failed":
                        self.lost = f"its worker could not start: {detail}"
                    elif pending:
                        self.lost = "its worker ended before reporting every case"
        finally:
            future.cancel()
        for case in pending:
            yield record(case, "error", f"host {self.host.name} lost: {self.lost}")

    def _next(self, queue: Any, future: Any, case: Case) -> list[tuple[str, Any]]:
        """The host's next messages, waiting up to the case's patience; sets `lost` (and
        returns none) when the host died, left the cluster, failed or hung."""
        patience = STARTUP_LIMIT + (case.settings.timeout or 0.0)
        patience += CASE_PATIENCE * (case.settings.max_time + case.settings.warmup)
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            if self.stop.is_set():
                raise KeyboardInterrupt
            messages = queue.get(batch=True)  # what has arrived, without waiting
            if messages:
                return [tuple(message) for message in messages]
            if future.status == "error":
                error = future.exception()
                self.lost = f"its worker failed: {type(error).__name__}: {error}"
                return []
            if self.host.worker not in self.fleet.client.ncores():
                self.lost = "its worker left the cluster (died or was killed)"
                return []
            time.sleep(POLL)
        self.lost = f"no result for {patience:.0f} s (hung?)"
        return []


def run_fleet(
    fleet: Fleet,
    order: WorkOrder,
    runs: Sequence[HostRun],
    folder: Path,
    name: str,
    stamp: str,
    finished: Callable[[HostRun], None],
) -> None:
    """Measure each host's cases into its own result, saved after every case (as
    folder/<name>-<host>-<stamp>.json unless the run has its path already); hosts on one machine
    one after another, machines in parallel. `finished` is called (from a host's thread) as each
    host ends. On Ctrl-C every host stops, its file is saved marked interrupted, and the
    KeyboardInterrupt propagates."""
    stop = threading.Event()
    machines: dict[str, list[HostRun]] = {}
    for run in runs:
        machines.setdefault(run.host.machine, []).append(run)

    lock, all_ended = threading.Lock(), threading.Event()
    running = [len(machines)]

    def measure(host_runs: list[HostRun]) -> None:
        try:
            for run in host_runs:
                if stop.is_set():
                    return
                if run.path is None:
                    run.path = results.reserve_path(folder, f"{name}-{run.host.name}", stamp)
                _measure_host(fleet, run, run.path, order, stop)
                if stop.is_set():  # its file stays as it stood, claims unjudged, for --resume
                    return
                finished(run)
        finally:
            with lock:
                running[0] -= 1
                if not running[0]:
                    all_ended.set()

    for machine, group in machines.items():
        threading.Thread(target=measure, args=(group,), name=f"labench-{machine}").start()
    # Waiting on an event, not Thread.join: a Ctrl-C that lands inside join can leave the
    # thread looking finished (CPython before 3.13), and the client would close under it.
    try:
        while not all_ended.wait(POLL):
            if any(run.result.cases for run in runs):
                pause_at("hosts")
    except KeyboardInterrupt:
        stop.set()
        all_ended.wait()
        raise


def _measure_host(
    fleet: Fleet, run: HostRun, path: Path, order: WorkOrder, stop: threading.Event
) -> None:
    executor = OnHost(fleet, run.host, order, stop)
    results.save(run.result, path)
    try:
        for case_result in executor.run(run.cases, Observer()) if run.cases else ():
            run.result.cases.append(case_result)
            results.save(run.result, path)
    except KeyboardInterrupt:
        run.result.run.interrupted = True
    finally:
        run.lost = executor.lost
        run.result.run.finished = now()
        results.save(run.result, path)
