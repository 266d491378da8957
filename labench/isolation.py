"""Cases in worker processes: a crash, a hang or a leak in one benchmark cannot take the run down.

Each benchmark runs in a fresh worker (forked from a clean server process, or spawned, see
`_context`, so it inherits no threads, JIT state or heap from the parent or from other
benchmarks). Its cases share that worker,
which keeps the overhead to one fork per benchmark while leaving JIT caches warm between a
benchmark's cases, where they belong. The worker takes the parent's current environment
variables, rebuilds the cases from the suite file itself and sends each result back over a pipe
as it finishes. The parent keeps the clock: a case that passes its
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
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from labench.errors import InputError
from labench.placement import jitter_heap
from labench.processes import merge_processes
from labench.results import CaseResult
from labench.runner import Observer, record, run_cases
from labench.suite import Case, Measurement, Suite, load_suite

EXIT_GRACE = 10.0
"""Seconds a worker that has reported everything gets to exit on its own."""
STARTUP_LIMIT = 300.0
"""Seconds a worker may take to import labench and load the suite before it is given up on."""


def refuse_timeouts_without_isolation(suite: Suite, timeout: float | None) -> None:
    """A hung kernel can only be stopped by killing the process it runs in, so a timeout asked
    for without --isolate is an error rather than a promise labench could not keep."""
    why = "a hung case can only be stopped by killing its process: add --isolate"
    if timeout is not None:
        raise InputError(f"--timeout needs --isolate; {why}")
    places = [("defaults", "timeout")] if suite.model.defaults.timeout is not None else []
    places += [
        ("benchmarks", index, "timeout")
        for index, benchmark in enumerate(suite.model.benchmarks)
        if benchmark.timeout is not None
    ]
    if places:
        raise InputError(
            [
                f"{suite.source.key(place)}: timeout needs process isolation; {why}"
                for place in places
            ]
        )


def _context(independent: bool, jitter: bool = False) -> Any:
    """How workers start.

    For isolation alone they fork from a server process that has imported labench (numpy,
    scipy, numba) but run nothing: a clean state without paying an interpreter start and the
    imports per worker (0.65 s here). But forked workers share the server's address-space
    layout, so their timings share its placement luck: measured on the quick suite, the medians
    of 6 forked workers moved by up to 29% from one run to the next, as much as within a run.
    When the processes are meant as independent samples (`--processes`), each is spawned
    instead, with its own layout; run medians then agree within 2-8%. Or, with `jitter`, each is
    forked and then shifts its own heap first (placement.py), which draws a fresh placement at
    the cost of a fork: measured on a 64 x 64 Numba matmul, ten jittered forks spread over 27-58
    us like ten spawned processes (log-sd 0.34 both), plain forks over 53-60 us (0.03). Without
    a fork server (Windows), spawn.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods() or (independent and not jitter):
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["labench.isolation"])
    return context


@dataclass(frozen=True)
class WorkOrder:
    """What a worker needs to rebuild its cases exactly as the parent planned them."""

    suite_path: str
    sha256: str
    overrides: dict[str, Any]
    environment: dict[str, str]
    time_share: float = 1.0
    """Fraction of each case's max_time and warm-up this process spends (with several)."""
    jitter: bool = False
    """Shift the worker's heap before anything else (placement.py): a fresh placement draw."""


def run_isolated(
    cases: Sequence[Case],
    observer: Observer,
    suite: Suite,
    overrides: Mapping[str, Any],
    processes: int = 1,
    together: bool = False,
    jitter: bool = False,
) -> Iterator[CaseResult]:
    """Run `cases` one worker per benchmark (or all in one worker, `together`), yielding each
    result as the worker reports it; `jitter` forks workers that re-draw their placement
    instead of spawning them (see `_context`).

    With several `processes`, the whole list runs that many times (rounds), each benchmark in a
    fresh worker taking its share of the time budget, and every case is yielded once, merged,
    during the last round: its statistics then reflect the variance between processes.
    """
    context = _context(independent=processes > 1, jitter=jitter)
    order = WorkOrder(
        str(suite.path.resolve()),
        suite.sha256,
        dict(overrides),
        dict(os.environ),
        1 / processes,
        jitter,
    )
    benchmarks = (
        [list(cases)]
        if together
        else [list(batch) for _, batch in itertools.groupby(cases, lambda c: c.benchmark)]
    )
    if processes == 1:
        for benchmark in benchmarks:
            yield from _in_workers(context, benchmark, observer, order)
        return
    # Round-robin, so each case's processes are spread over the whole run rather than clustered
    # in the few seconds when a neighbour on a shared machine may happen to be busy.
    measured: dict[str, list[CaseResult]] = {}
    for round_number in range(1, processes + 1):
        for benchmark in benchmarks:
            for result in _in_workers(context, benchmark, observer, order):
                measured.setdefault(result.key, []).append(result)
                if round_number == processes:
                    yield merge_processes(measured.pop(result.key))


def _in_workers(
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
        args=(sender, order, [case.key for case in pending]),
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
            return receiver.recv()  # type: ignore[no-any-return]
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


def _worker_main(sender: Connection, order: WorkOrder, keys: list[str]) -> None:
    """Entry point of a worker: rebuild the cases from the suite, run them, report each."""
    os.environ.clear()
    os.environ.update(order.environment)  # the fork server's is from when it started
    kept = jitter_heap(os.getpid() ^ time.time_ns()) if order.jitter else []
    try:
        suite = load_suite(Path(order.suite_path))
        if suite.sha256 != order.sha256:
            raise InputError(f"{order.suite_path} changed on disk since the run started")
        planned = {case.key: case for case in suite.cases(Measurement(**order.overrides))}
        cases = [_share(planned[key], order.time_share) for key in keys]
    except Exception as error:  # reported to the parent, which records every case as error
        sender.send(("failed", f"{type(error).__name__}: {error}"))
        return
    sender.send(("ready", None))
    for result in run_cases(cases, Observer()):
        sender.send(("case", result.model_dump(mode="json")))
    sender.close()
    del kept  # the shifted heap stays in place until every case is measured


def _share(case: Case, share: float) -> Case:
    """One process's part of the case's time budget, warm-up included, so a run in K processes
    takes about as long as the suite says."""
    if share == 1.0:
        return case
    settings = case.settings
    return replace(
        case,
        settings=replace(
            settings, max_time=settings.max_time * share, warmup=settings.warmup * share
        ),
    )
