"""How `labench history` scales with the runs it reads, through the results store.

For each size R (runs) it writes R result files of C cases (default 500) of one machine and
suite: each case's medians wander by 2% (lognormal) from run to run, and one case in twenty
steps 10% slower at 70% of the history. Each file is indexed as `labench run` indexes what it
saves (timed: the cost of adding a run). Then it times the command a user types,
`labench history DIR`, in a fresh process (start-up and imports included), and its peak memory,
three times, and prints the medians, the lines printed, and the cases found changed.

It prints wall and CPU seconds, and the 1-minute load average after each size.

Run: python benchmarks/history_scale.py [--runs 100 300 1000] [--cases 500] [--keep DIR [--reuse]]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from labench.results import reader
from labench.results.store import open_store, rebuild


def base_document(cases: int) -> dict:
    """One run of `cases` cases with a few samples each, as `labench run` saves it."""
    case_list = []
    for index in range(cases):
        median = 1e-4 * (1 + index % 37)
        samples = [median * factor for factor in (0.98, 0.99, 1.0, 1.01, 1.02)]
        case_list.append(
            {
                "key": f"bench{index // 10}/n={index}/float64/t1/numpy",
                "group": f"bench{index // 10}/n={index}/float64/t1",
                "benchmark": f"bench{index // 10}",
                "workload": "kernels.matmul",
                "implementation": "numpy",
                "backend": "numpy",
                "params": {"n": index},
                "threads": 1,
                "threads_spec": 1,
                "dtype": "float64",
                "status": "ok",
                "timing": {
                    "median": median,
                    "mean": median,
                    "stdev": 0.014 * median,
                    "min": samples[0],
                    "max": samples[-1],
                    "iqr": 0.02 * median,
                    "ci95": [samples[1], samples[3]],
                    "outliers": 0,
                    "first_call": median,
                    "inner_loops": 1,
                    "stopped_by": "max_time",
                    "samples": samples,
                },
            }
        )
    return {
        "schema": "labench.result/2",
        "suite": {"name": "scale", "path": "scale.yaml", "sha256": "0" * 64, "baselines": {}},
        "run": {
            "id": "",
            "started": "",
            "finished": "",
            "labench_version": "0",
            "command": ["labench"],
        },
        "environment": {"machine_id": "scale-machine", "cpu": "synthetic"},
        "cases": case_list,
    }


def scaled(case: dict, factor: float) -> None:
    timing = case["timing"]
    for name in ("median", "mean", "stdev", "min", "max", "iqr", "first_call"):
        timing[name] *= factor
    timing["ci95"] = [value * factor for value in timing["ci95"]]
    timing["samples"] = [value * factor for value in timing["samples"]]


def write_history(folder: Path, runs: int, cases: int, seed: int = 0) -> list[float]:
    """R files, each indexed as it is saved; returns the seconds each index took."""
    rng = np.random.default_rng(seed)
    template = base_document(cases)
    stepped = set(range(0, cases, 20))
    rebuild(folder)
    store = open_store(folder)
    adds = []
    try:
        for run in range(runs):
            document = copy.deepcopy(template)
            document["run"]["id"] = f"run{run:05d}"
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(1.7e9 + 86400 * run))
            document["run"]["started"] = document["run"]["finished"] = stamp
            noise = np.exp(0.02 * rng.standard_normal(cases))
            for index, case in enumerate(document["cases"]):
                step = 1.1 if index in stepped and run >= 0.7 * runs else 1.0
                scaled(case, float(noise[index]) * step)
            path = folder / f"run{run:05d}.json"
            path.write_text(json.dumps(document))
            result = reader.load(path)
            started = time.perf_counter()
            store.add(result, path)
            adds.append(time.perf_counter() - started)
    finally:
        store.close()
    return adds


def timed_history(folder: Path) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds and peak memory (MB) of `labench history DIR` in a fresh
    process. On a shared machine the CPU time is the steadier figure: waiting for a core
    counts in the wall time only."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    shown = subprocess.run(
        [sys.executable, "-m", "labench", "history", str(folder)],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
    )
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = usage.ru_utime + usage.ru_stime - cpu
    return seconds, used, max(usage.ru_maxrss, before) / 1024, shown.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Time `history` on the folders a previous --keep left (the cost of adding is not "
        "measured again).",
    )
    options = parser.parse_args()
    root = options.keep or Path(tempfile.mkdtemp(prefix="labench-history-scale-"))
    print(
        f"{'runs':>6} {'add a run':>10} {'history':>9} {'CPU':>7} {'peak MB':>8} {'lines':>6} "
        f"{'load':>5}  last line"
    )
    for runs in options.runs:
        folder = root / f"runs-{runs}"
        folder.mkdir(parents=True, exist_ok=True)
        reused = options.reuse and len(list(folder.glob("*.json"))) == runs
        adds = [math.nan] if reused else write_history(folder, runs, options.cases)
        timings = [timed_history(folder) for _ in range(3)]
        seconds = statistics.median(timing[0] for timing in timings)
        cpu = statistics.median(timing[1] for timing in timings)
        peak = max(timing[2] for timing in timings)
        output = timings[-1][3]
        last = " ".join(output.strip().split("\n\n")[-1].split())
        print(
            f"{runs:>6} {statistics.median(adds) * 1e3:>8.1f}ms {seconds:>8.2f}s {cpu:>6.2f}s "
            f"{peak:>8.0f} {len(output.splitlines()):>6} {os.getloadavg()[0]:>5.1f}  {last}",
            flush=True,
        )


if __name__ == "__main__":
    main()
