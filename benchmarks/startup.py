"""Start-up: what every command and every worker process pays before it measures anything.

Prints the median of N interleaved runs, each in a fresh interpreter, with bytecode cached as
any install has it (one unreported round writes it first):
- `python -c "import numpy"`: the yardstick; `labench --help` and `labench validate` should take
  at most 4x as long;
- `labench --help`, `labench run --help`, `labench validate suites/quick.yaml`;
- a spawned worker ready to measure the quick suite's first NumPy case (interpreter, imports,
  the suite rebuilt), as `--processes` starts it. (A Numba case's worker is ready as soon: it
  imports Numba when the case's kernel is first called, which is the case's own cost.)

Run: python benchmarks/startup.py [N]   (default 11; about a minute on 2 cores). With PYTHONPATH
pointing at another checkout it measures that one (its commands run from its folder).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import labench
from labench.core.progress import Observer
from labench.execution.isolated import Isolated
from labench.suite.case import Case
from labench.suite.load import load_suite

ROOT = Path(labench.__file__).resolve().parents[1]
QUICK = ROOT / "suites" / "quick.yaml"
COMMANDS = {
    "python -c 'import numpy'": ["-c", "import numpy"],
    "labench --help": ["-m", "labench", "--help"],
    "labench run --help": ["-m", "labench", "run", "--help"],
    "labench validate quick.yaml": ["-m", "labench", "validate", str(QUICK)],
}


def command_seconds(arguments: list[str]) -> float:
    """Wall time of one fresh interpreter running `arguments`, bytecode writes allowed."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, *arguments], cwd=ROOT, env=environment, capture_output=True, check=True
    )
    return time.perf_counter() - started


def worker_seconds(case: Case) -> Callable[[], float]:
    """Time from asking for a spawned worker to the worker starting to measure `case`."""
    suite = load_suite(QUICK)

    def measure() -> float:
        ready: list[float] = []
        observer = Observer(started=lambda _: ready.append(time.perf_counter()))
        started = time.perf_counter()
        executor = Isolated(suite, {"max_time": 0.01, "warmup": 0.0}, independent=True)
        for _ in executor.run([case], observer):
            pass
        executor.close()
        return ready[0] - started

    return measure


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 11
    cases = load_suite(QUICK).cases()
    numpy_case = next(case for case in cases if case.backend == "numpy")
    probes: dict[str, Callable[[], float]] = {
        name: (lambda arguments=arguments: command_seconds(arguments))
        for name, arguments in COMMANDS.items()
    }
    probes["worker ready: NumPy case"] = worker_seconds(numpy_case)
    for probe in probes.values():
        probe()  # bytecode written, caches warm
    times: dict[str, list[float]] = {name: [] for name in probes}
    for _ in range(rounds):
        for name, probe in probes.items():
            times[name].append(probe())
    yardstick = statistics.median(times["python -c 'import numpy'"])
    print(f"{ROOT}: median of {rounds} rounds, load average {os.getloadavg()[0]:.2f}")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"{name:30s} {median:6.3f} s  {median / yardstick:5.2f}x the numpy import")


if __name__ == "__main__":
    main()
