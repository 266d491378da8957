"""Reading and writing pytest-benchmark JSON, so teams that already use it can gate with labench.

Both formats are read into one small model of a run: a label, the environment, and per case
its status and per-call times (raw samples when the file has them, else summary statistics).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from labench import results
from labench.errors import InputError
from labench.inputs import read_json


@dataclass(frozen=True)
class Series:
    """One case's times in one run."""

    status: str
    median: float | None
    samples: np.ndarray | None
    mean: float | None = None
    stdev: float | None = None
    count: int = 0
    process_medians: np.ndarray | None = None
    """One median per worker process (labench run --processes), when there were several."""


@dataclass(frozen=True)
class RunView:
    label: str
    environment: dict[str, Any]
    cases: dict[str, Series]


def load_run(path: Path) -> RunView:
    """A labench result or a pytest-benchmark JSON file; anything else is an InputError."""
    document = read_json(path, "a labench result or a pytest-benchmark --benchmark-json file")
    if isinstance(document, dict) and "benchmarks" in document and "machine_info" in document:
        return _from_pytest_benchmark(path, document)
    return _from_labench(path, results.with_journal(path, results.from_document(path, document)))


def _from_labench(path: Path, result: results.Result) -> RunView:
    cases = {}
    for case in result.cases:
        timing = case.timing
        cases[case.key] = Series(
            status=case.status,
            median=timing.median if timing else None,
            samples=np.asarray(timing.samples) if timing else None,
            mean=timing.mean if timing else None,
            stdev=timing.stdev if timing else None,
            count=len(timing.samples) if timing else 0,
            process_medians=np.asarray(timing.process_medians)
            if timing and timing.process_medians
            else None,
        )
    return RunView(path.name, result.environment, cases)


def _from_pytest_benchmark(path: Path, document: dict[str, Any]) -> RunView:
    machine = document.get("machine_info", {})
    cpu = machine.get("cpu", {})
    environment = {
        "machine_id": machine.get("node"),
        "cpu": cpu.get("brand_raw") or machine.get("processor"),
        "cores_logical": cpu.get("count"),
        "os": f"{machine.get('system', '')} {machine.get('release', '')}".strip(),
        "python": machine.get("python_version"),
        "architecture": machine.get("machine"),
    }
    cases = {}
    for index, benchmark in enumerate(document["benchmarks"]):
        try:
            stats = benchmark["stats"]
            key = benchmark.get("fullname") or benchmark["name"]
            data = stats.get("data")
            cases[key] = Series(
                status="ok",
                median=float(stats["median"]),
                samples=np.asarray(data, dtype=float) if data else None,
                mean=float(stats["mean"]),
                stdev=float(stats["stddev"]),
                count=int(stats["rounds"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(
                f"{path}: benchmarks[{index}]: damaged pytest-benchmark entry ({error!r} missing "
                "or malformed); expected name/fullname and stats with median, mean, stddev, rounds"
            ) from None
    return RunView(path.name, environment, cases)


def to_pytest_benchmark(result: results.Result) -> dict[str, Any]:
    """A labench run as pytest-benchmark JSON (raw samples in `data`), ok cases only."""
    environment = result.environment
    benchmarks = []
    for case in result.cases:
        if case.status != "ok" or case.timing is None:
            continue
        samples = np.asarray(case.timing.samples)
        q1, q3 = np.percentile(samples, [25, 75])
        benchmarks.append(
            {
                "group": case.group,
                "name": case.key,
                "fullname": case.key,
                "params": case.params,
                "param": None,
                "extra_info": {k: v for k, v in case.metrics.items() if v is not None},
                "options": {"timer": "perf_counter", "disable_gc": True, "warmup": True},
                "stats": {
                    "min": case.timing.min,
                    "max": case.timing.max,
                    "mean": case.timing.mean,
                    "stddev": case.timing.stdev,
                    "rounds": len(samples),
                    "median": case.timing.median,
                    "iqr": case.timing.iqr,
                    "q1": float(q1),
                    "q3": float(q3),
                    "iqr_outliers": case.timing.outliers,
                    "stddev_outliers": 0,
                    "outliers": f"0;{case.timing.outliers}",
                    "ld15iqr": float(samples[samples >= q1 - 1.5 * (q3 - q1)].min()),
                    "hd15iqr": float(samples[samples <= q3 + 1.5 * (q3 - q1)].max()),
                    "ops": 1.0 / case.timing.mean,
                    "total": float(samples.sum()),
                    "data": case.timing.samples,
                    "iterations": case.timing.inner_loops,
                },
            }
        )
    return {
        "machine_info": {
            "node": environment.get("hostname"),
            "processor": environment.get("cpu"),
            "machine": environment.get("architecture"),
            "python_implementation": environment.get("python_implementation"),
            "python_version": environment.get("python"),
            "system": environment.get("os"),
            "release": "",
            "cpu": {"brand_raw": environment.get("cpu"), "count": environment.get("cores_logical")},
        },
        "commit_info": {},
        "benchmarks": benchmarks,
        "datetime": result.run.finished or datetime.now(timezone.utc).isoformat(),
        "version": "5.1.0",
    }
