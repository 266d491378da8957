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
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labench.core.errors import InputError, shown
from labench.core.files import read_json
from labench.results import model as results
from labench.results import reader
from labench.results.model import Environment, GateSetting, SuiteInfo


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
    flags: tuple[str, ...] = ()
    """`noisy`, `contended`, `throttled`: the measurement is not steady enough to decide on."""
    history: tuple[float, ...] = ()
    """For a baseline drawn from a machine's history, the medians of the case's runs in it,
    oldest first, a young level's left out (`compare.in_known_state`)."""


@dataclass(frozen=True)
class RunView:
    label: str
    environment: Environment
    cases: dict[str, Series]
    suite: SuiteInfo | None = None
    """The suite a labench run measured, with its benchmarks' gate settings; None for a
    pytest-benchmark file."""

    @property
    def gates(self) -> dict[str, GateSetting]:
        """The benchmarks' own gate settings stored with the run (none for older files)."""
        return self.suite.gates if self.suite is not None else {}

    devices: tuple[str, ...] = ()
    """UUIDs of the GPUs the run's cases ran on, where NVML named them."""


class _Lenient(BaseModel):
    """pytest-benchmark writes more than labench needs; what it needs is checked strictly."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class _PytestStats(_Lenient):
    median: float = Field(gt=0)
    mean: float = Field(gt=0)
    stddev: float = Field(ge=0)
    rounds: int = Field(ge=1)
    data: list[float] | None = None

    def samples(self) -> np.ndarray | None:
        if not self.data:
            return None
        if min(self.data) <= 0:
            raise ValueError("stats.data holds a time that is not positive")
        return np.asarray(self.data, dtype=float)


class _PytestBenchmark(_Lenient):
    name: str
    fullname: str | None = None
    stats: _PytestStats


class _PytestCpu(_Lenient):
    brand_raw: str | None = None
    count: int | None = Field(None, ge=1)


class _PytestMachine(_Lenient):
    node: str | None = None
    processor: str | None = None
    machine: str | None = None
    system: str | None = None
    release: str | None = None
    python_version: str | None = None
    cpu: _PytestCpu = Field(default_factory=_PytestCpu)


class _PytestCommit(_Lenient):
    id: str | None = None
    branch: str | None = None
    dirty: bool | None = None


class _PytestDocument(_Lenient):
    """The parts of a `pytest --benchmark-json` file that a comparison reads."""

    machine_info: _PytestMachine
    benchmarks: list[_PytestBenchmark]
    datetime: str | None = None
    commit_info: _PytestCommit = Field(default_factory=_PytestCommit)


PYTEST_SUITE = "pytest-benchmark"
"""The suite a pytest-benchmark file's tests belong to in a history: such files name none."""


@dataclass(frozen=True)
class PytestRun:
    """A pytest-benchmark file as a history keeps it: one process per file, when it was made,
    and on which commit."""

    view: RunView
    started: str
    git_commit: str | None
    git_branch: str | None
    git_dirty: bool | None

    @property
    def environment(self) -> Environment:
        """The machine it ran on, read as a labench result's `environment` is."""
        return self.view.environment


def load_run(path: Path) -> RunView:
    """A labench result or a pytest-benchmark JSON file; anything else is an InputError."""
    return as_view(load_any(path), path.name)


def as_view(loaded: results.Result | PytestRun, label: str) -> RunView:
    """What `load_any` read, as the comparison sees it (a labench run labelled `label`)."""
    return loaded.view if isinstance(loaded, PytestRun) else run_view(loaded, label)


def load_any(path: Path) -> results.Result | PytestRun:
    """A labench result, or a pytest-benchmark JSON file with what a history needs of it;
    anything else is an InputError."""
    document = read_json(path, "a labench result or a pytest-benchmark --benchmark-json file")
    if isinstance(document, dict) and "benchmarks" in document and "machine_info" in document:
        return _from_pytest_benchmark(path, document)
    return reader.with_journal(path, results.from_document(path, document))


def run_view(result: results.Result, label: str) -> RunView:
    """A labench run as the comparison sees it."""
    devices = sorted({case.gpu.uuid for case in result.cases if case.gpu and case.gpu.uuid})
    cases = {case.key: series(case) for case in result.cases}
    return RunView(label, result.environment, cases, result.suite, tuple(devices))


def series(case: results.CaseResult) -> Series:
    """One labench case as the comparison sees it."""
    timing = case.timing
    if timing is None:
        return Series(status=case.status, median=None, samples=None)
    return Series(
        status=case.status,
        median=timing.median,
        samples=np.asarray(timing.samples),
        mean=timing.mean,
        stdev=timing.stdev,
        count=len(timing.samples),
        process_medians=np.asarray(timing.process_medians) if timing.process_medians else None,
        flags=tuple(case.flags),
    )


def _from_pytest_benchmark(path: Path, document: dict[str, Any]) -> PytestRun:
    try:
        parsed = _PytestDocument.model_validate(document)
        cases = {}
        for benchmark in parsed.benchmarks:
            stats = benchmark.stats
            key = benchmark.fullname or benchmark.name
            if key in cases:
                raise ValueError(f"benchmark {shown(key, 200)} appears twice")
            cases[key] = Series(
                status="ok",
                median=stats.median,
                samples=stats.samples(),
                mean=stats.mean,
                stdev=stats.stddev,
                count=stats.rounds,
            )
        started = _started(parsed.datetime)
    except ValidationError as error:
        raise InputError(
            f"{path}: damaged pytest-benchmark file, refused (expected benchmarks with a name "
            f"and stats holding a positive median, mean and rounds): "
            f"{results.problems(error, document)}"
        ) from None
    except ValueError as error:
        raise InputError(f"{path}: damaged pytest-benchmark file: {error}") from None
    machine = parsed.machine_info
    environment = Environment(
        machine_id=machine.node or "unknown",
        hostname=machine.node,
        cpu=machine.cpu.brand_raw or machine.processor,
        cores_logical=machine.cpu.count,
        os=f"{machine.system or ''} {machine.release or ''}".strip() or None,
        python=machine.python_version,
        architecture=machine.machine,
    )
    commit = parsed.commit_info
    return PytestRun(
        RunView(path.name, environment, cases), started, commit.id, commit.branch, commit.dirty
    )


def _started(stamp: str | None) -> str:
    """pytest-benchmark's `datetime` (ISO 8601) in UTC, as labench records a run's start; ""
    when the file has none (it then sorts first in a history)."""
    if stamp is None:
        return ""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        raise ValueError(f"datetime {shown(stamp, 60)} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


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
            "node": environment.hostname,
            "processor": environment.cpu,
            "machine": environment.architecture,
            "python_implementation": environment.python_implementation,
            "python_version": environment.python,
            "system": environment.os,
            "release": "",
            "cpu": {"brand_raw": environment.cpu, "count": environment.cores_logical},
        },
        "commit_info": {},
        "benchmarks": benchmarks,
        "datetime": result.run.finished or datetime.now(timezone.utc).isoformat(),
        "version": "5.1.0",
    }
