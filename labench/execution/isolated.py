"""Cases in worker processes: a crash, a hang or a leak in one benchmark cannot take the run down.

Each benchmark runs in a fresh worker (forked from a clean server process, or spawned, see
`worker_context`, so it inherits no threads, JIT state or heap from the parent or from other
benchmarks). Its cases share that worker,
which keeps the overhead to one fork per benchmark while leaving JIT caches warm between a
benchmark's cases, where they belong. The worker takes the parent's steering environment
variables, rebuilds the cases from the work order (workorder.py) and sends each result back over
a pipe as it finishes. The parent keeps the clock: a case that passes its
timeout gets its worker killed; a worker that dies (a signal, os._exit, the OOM killer) has its
current case recorded as `error` with the cause, and the benchmark's remaining cases go on in a
new worker.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from typing import Any

from labench.backends import preload_modules, release_all, shared_with_workers
from labench.core.pause import pause_at
from labench.core.progress import Observer
from labench.execution.base import here_first
from labench.execution.placement import jitter_heap
from labench.execution.workorder import WorkOrder
from labench.measure.case import record, run_cases
from labench.results.model import CaseResult
from labench.suite.case import Case, Settings, Suite

EXIT_GRACE = 10.0
"""Seconds a worker that has reported everything gets to exit on its own."""
STARTUP_LIMIT = 300.0
"""Seconds a worker may take to import labench and load the suite before it is given up on."""


def preload_for(context: Any, cases: Sequence[Case]) -> None:
    """Have a fork server that is yet to start import what `cases`' backends need (a running
    one keeps what it has): Numba only when Numba cases are among the first it serves."""
    if context.get_start_method() == "forkserver":
        needed = preload_modules(case.backend for case in cases)
        context.set_forkserver_preload(["labench.execution.isolated", *needed])


def worker_context(independent: bool, jitter: bool = False) -> Any:
    """How workers start.

    For isolation alone they fork from a server process that has imported labench and the
    modules its first cases' backends need (`preload_for`, `Backend.preload`) but run nothing: a
    clean state without paying an interpreter start and the imports per worker (0.65 s here; a
    fresh fork measuring a Numba case cost 0.45 s, against 0.05 s for NumPy's, 0.2 s of it
    Numba's import). But forked workers share the server's address-space layout, so their
    timings share its placement luck: measured on the quick suite, the medians of 6 forked
    workers moved by up to 29% from one run to the next, as much as within a run. When the
    processes are meant as independent samples (`--processes`), each is spawned instead, with
    its own layout; run medians then agree within 2-8%. Or, with `jitter`, each is forked and
    then shifts its own heap first (placement.py), which draws a fresh placement at the cost of
    a fork: measured on a 64 x 64 Numba matmul, ten jittered forks spread over 27-58 us like ten
    spawned processes (log-sd 0.34 both), plain forks over 53-60 us (0.03). Without a fork
    server (Windows), spawn.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods() or (independent and not jitter):
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["labench.execution.isolated"])
    return context


class Isolated:
    """Each benchmark in a fresh worker process (`--isolate`); with `independent`, each worker
    is its own draw of the memory layout (rounds.py): spawned, or with `jitter` forked and then
    shifted (see `worker_context`). `together` runs all the cases it is given in one worker
    rather than one per benchmark (confirmation: one fork per round, not one per benchmark).
    `environment` adds steering variables the parent itself does not have (a fleet's dask cases
    get LABENCH_DASK_SCHEDULER)."""

    stops_hung_cases = True

    def __init__(
        self,
        suite: Suite,
        overrides: Mapping[str, Any],
        independent: bool = False,
        jitter: bool = False,
        together: bool = False,
        environment: Mapping[str, str] | None = None,
    ):
        order = WorkOrder.of(suite, overrides)
        self.order = replace(
            order, jitter=jitter, environment={**order.environment, **(environment or {})}
        )
        self.context = worker_context(independent, jitter)
        self.together = together

    def run(self, cases: Sequence[Case], observer: Observer) -> Iterator[CaseResult]:
        cases = here_first(cases)
        preload_for(self.context, cases)
        if self.together:
            yield from in_workers(self.context, cases, observer, self._order(cases))
        else:
            for _, group in itertools.groupby(cases, lambda case: case.benchmark):
                batch = list(group)
                yield from in_workers(self.context, batch, observer, self._order(batch))
        release_all()  # a cluster started for the pass's last cases must not outlive it

    def _order(self, cases: Sequence[Case]) -> WorkOrder:
        """The work order, plus what its workers need to share this run's cluster (dask's:
        a daemonic worker may not start one, and the run should start one, not one each)."""
        shared = shared_with_workers((case.backend for case in cases), self.order.environment)
        return replace(self.order, environment=self.order.environment | shared)

    def describe(self) -> str:
        return f"isolated ({self.context.get_start_method()})"

    def close(self) -> None:
        """Every worker is joined as its benchmark ends; a cluster shared with them closes."""
        release_all()


def in_workers(
    context: Any, cases: list[Case], observer: Observer, order: WorkOrder
) -> Iterator[CaseResult]:
    """Run `cases` in order in a worker, starting a new one after each that dies."""
    pending = list(cases)
    while pending:
        for result in _one_worker(context, pending, observer, order):
            pending.pop(0)
            yield result


def _one_worker(
    context: Any,
    pending: list[Case],
    observer: Observer,
    order: WorkOrder,
) -> Iterator[CaseResult]:
    """Start a worker for `pending` and yield results in order until it finishes or fails; the
    case it failed on is yielded as an error, and the caller restarts with what is left."""
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(
        target=_worker_main,
        args=(sender, order, [case.key for case in pending], [case.settings for case in pending]),
        name=f"labench-{pending[0].benchmark}",
        daemon=True,
    )
    worker.start()
    sender.close()
    try:
        message = _receive(receiver, worker, STARTUP_LIMIT)
        if message[0] != "ready":
            problem = _failure(worker, message, STARTUP_LIMIT)
            for case in list(pending):
                yield record(case, "error", f"worker could not start: {problem}")
            return
        pause_at("worker")
        for case in list(pending):
            observer.started(case)
            message = _receive(receiver, worker, case.settings.timeout)
            if message[0] != "case":
                yield record(case, "error", _failure(worker, message, case.settings.timeout))
                return
            yield CaseResult.model_validate(message[1])
        worker.join(EXIT_GRACE)  # let it exit cleanly: killed, it would leak its semaphores
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join()
        receiver.close()


def _receive(receiver: Connection, worker: Any, limit: float | None) -> tuple[str, Any]:
    """The worker's next message; ("died", None) when it stopped, or ("late", None) when `limit`
    seconds passed first."""
    ready = wait([receiver, worker.sentinel], limit)
    if not ready:
        return ("late", None)
    if receiver in ready:
        try:
            return receiver.recv()
        except EOFError:
            pass
    return ("died", None)


def _failure(worker: Any, message: tuple[str, Any], limit: float | None) -> str:
    """Why the worker did not report a case, in words; a late worker is killed."""
    kind, detail = message
    if kind == "failed":
        return str(detail)
    if kind == "late":
        worker.kill()
        worker.join()
        return f"timed out after {limit:g} s (worker killed)"
    worker.join()
    code = worker.exitcode
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"worker died from signal {name}{hint}"
    return f"worker exited with code {code} before reporting"


def _worker_main(
    sender: Connection, order: WorkOrder, keys: list[str], settings: list[Settings]
) -> None:
    """Entry point of a worker: rebuild the cases from the order, run them, report each."""
    kept = jitter_heap(os.getpid() ^ time.time_ns()) if order.jitter else []
    try:
        cases = order.rebuild(keys, settings)
    except Exception as error:  # reported to the parent, which records every case as error
        sender.send(("failed", f"{type(error).__name__}: {error}"))
        return
    sender.send(("ready", None))
    for result in run_cases(cases, Observer()):
        sender.send(("case", result.model_dump(mode="json")))
    sender.close()
    del kept  # the shifted heap stays in place until every case is measured
