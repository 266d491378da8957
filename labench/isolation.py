"""Cases in worker processes: a crash, a hang or a leak in one benchmark cannot take the run down.

Each benchmark runs in a fresh worker (forked from a clean server process, so it inherits no
threads, JIT state or heap from the parent or from other benchmarks). Its cases share that worker,
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
from collections.abc import Iterator, Mapping, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from labench.errors import InputError
from labench.results import CaseResult
from labench.runner import Observer, record, run_cases
from labench.suite import Case, Measurement, Suite, load_suite

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


def _context() -> Any:
    """Workers fork from a server process that has imported labench (numpy, scipy, numba) but
    run nothing: a clean state without paying an interpreter start and the imports per worker
    (0.65 s here). Where there is no fork server (Windows), workers are spawned."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["labench.isolation"])
    return context


def run_isolated(
    cases: Sequence[Case], observer: Observer, suite: Suite, overrides: Mapping[str, Any]
) -> Iterator[CaseResult]:
    """Run `cases` one worker per benchmark, yielding each result as the worker reports it."""
    context = _context()
    source = (str(suite.path.resolve()), suite.sha256, dict(overrides), dict(os.environ))
    for _, batch in itertools.groupby(cases, key=lambda case: case.benchmark):
        pending = list(batch)
        while pending:
            for result in _one_worker(context, pending, observer, source):
                pending.pop(0)
                yield result


def _one_worker(
    context: Any,
    pending: list[Case],
    observer: Observer,
    source: tuple[str, str, dict[str, Any], dict[str, str]],
) -> Iterator[CaseResult]:
    """Start a worker for `pending` and yield results in order until it finishes or fails; the
    case it failed on is yielded as an error, and the caller restarts with what is left."""
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(
        target=_worker_main,
        args=(sender, *source, [case.key for case in pending]),
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


def _worker_main(
    sender: Connection,
    suite_path: str,
    sha256: str,
    overrides: dict[str, Any],
    environment: dict[str, str],
    keys: list[str],
) -> None:
    """Entry point of a worker: rebuild the cases from the suite, run them, report each."""
    os.environ.clear()
    os.environ.update(environment)  # the fork server's is from when it started
    try:
        suite = load_suite(Path(suite_path))
        if suite.sha256 != sha256:
            raise InputError(f"{suite_path} changed on disk since the run started")
        planned = {case.key: case for case in suite.cases(Measurement(**overrides))}
        cases = [planned[key] for key in keys]
    except Exception as error:  # reported to the parent, which records every case as error
        sender.send(("failed", f"{type(error).__name__}: {error}"))
        return
    sender.send(("ready", None))
    for result in run_cases(cases, Observer()):
        sender.send(("case", result.model_dump(mode="json")))
    sender.close()
