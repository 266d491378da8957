"""Which way of starting a worker draws a fresh memory placement? (for the gate's confirmation)

The same kernel's median moves between processes by far more than within one (the placement
lottery). A gate that re-measures a suspect needs independent draws of that lottery, cheaply.
This measures one case in N workers started three ways and prints each way's medians, their
spread (log-sd, max/min) and the cost of a worker:

- spawn: a fresh interpreter (independent, but pays Python, imports and JIT-cache loading);
- fork: forked from a server that imported labench (cheap, but every child inherits the same
  heap state, so it allocates its arrays at the same addresses);
- fork+jitter: forked, then the child makes a random number of random-sized allocations before
  anything else, so its arrays (and JIT code) land at other addresses;
- in-process: no new process at all; one process measures the case N times, each time after
  such allocations and with freshly made inputs (re-placing inputs between rounds): its
  arrays move, its compiled code does not.

Run: python benchmarks/placement_study.py [CASE_GLOB] [WORKERS]
(default: the quick suite's one-thread 64x64 Numba matmul, 10 workers each way; in-process:
10 rounds in one spawned process, the cost per round)
"""

from __future__ import annotations

import fnmatch
import math
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labench.suite.case import Case

SUITE = Path(__file__).resolve().parent.parent / "suites" / "quick.yaml"


def _first_case(pattern: str) -> Case:
    """The first case of the quick suite whose key matches (labench is imported in the worker)."""
    from labench.suite.load import load_suite

    return next(c for c in load_suite(SUITE).cases() if fnmatch.fnmatchcase(c.key, pattern))


def _median(case: Case) -> float:
    """One measurement of `case`, with freshly made inputs."""
    from labench.core.progress import Observer
    from labench.measure.case import run_cases

    result = next(iter(run_cases([case], Observer())))
    return result.timing.median if result.timing else float("nan")


def _median_in_worker(pattern: str, jitter_seed: int | None, queue: multiprocessing.Queue) -> None:
    kept = []
    if jitter_seed is not None:
        from labench.execution.placement import jitter_heap

        kept = jitter_heap(jitter_seed)
    queue.put(_median(_first_case(pattern)))
    del kept


def _medians_in_one_process(pattern: str, rounds: int, queue: multiprocessing.Queue) -> None:
    from labench.execution.placement import jitter_heap

    case = _first_case(pattern)
    kept = []
    for seed in range(1, rounds + 1):
        kept.append(jitter_heap(seed))  # kept alive: later inputs land beyond them
        queue.put(_median(case))  # fresh inputs, at new addresses


def draws(method: str, pattern: str, workers: int) -> tuple[list[float], float]:
    if method == "in-process":
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        started = time.perf_counter()
        worker = context.Process(target=_medians_in_one_process, args=(pattern, workers, queue))
        worker.start()
        medians = [queue.get() for _ in range(workers)]
        worker.join()
        return medians, (time.perf_counter() - started) / workers
    context = multiprocessing.get_context("spawn" if method == "spawn" else "forkserver")
    if method != "spawn":
        context.set_forkserver_preload(
            ["labench.measure.case", "labench.suite.load", "labench.execution.placement"]
        )
    queue = context.Queue()
    medians, started = [], time.perf_counter()
    for index in range(workers):
        seed = index + 1 if method == "fork+jitter" else None
        worker = context.Process(target=_median_in_worker, args=(pattern, seed, queue))
        worker.start()
        medians.append(queue.get())
        worker.join()
    return medians, (time.perf_counter() - started) / workers


def main() -> None:
    pattern = sys.argv[1] if len(sys.argv) > 1 else "matmul/n=64,*/t1/numba"
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    for method in ("spawn", "fork", "fork+jitter", "in-process"):
        medians, cost = draws(method, pattern, workers)
        logs = [math.log(m) for m in medians]
        print(
            f"{method:12s} medians (us): {' '.join(f'{m * 1e6:.1f}' for m in medians)}; "
            f"log-sd {statistics.stdev(logs):.3f}, max/min {max(medians) / min(medians):.2f}, "
            f"{cost:.2f} s per worker",
            flush=True,
        )


if __name__ == "__main__":
    main()
