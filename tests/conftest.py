from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from labench.cli import app
from labench.results import CaseResult, Environment, Result, RunInfo, SuiteInfo, Timing
from labench.stats import summarize

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Tests never read or write the user's real cache (ceilings of this machine)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def write_suite(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write dedented YAML to a file in tmp_path and return its path."""

    def write(text: str, name: str = "suite.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def cli() -> Callable[..., object]:
    """Invoke the labench CLI in-process and return the click Result."""
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(arg) for arg in args], catch_exceptions=False)

    return invoke


def measured_case(
    implementation="numpy",
    median=1e-3,
    *,
    n=1,
    threads=1,
    spec=None,
    status="ok",
    reason="kernel exploded",
    metrics=None,
    spread=0.01,
    size=30,
    seed=7,
    process_medians=(),
):
    """A case as a run records it, its samples scattered by `spread` around `median` (or
    around each of `process_medians`, when it was measured in several processes)."""
    rng = np.random.default_rng(seed)
    centres = list(process_medians) or [median]
    samples = [c * (1 + spread * x) for c in centres for x in rng.standard_normal(size)]
    timing = Timing(
        **summarize(samples).model_dump(),
        first_call=10 * median,
        inner_loops=4,
        stopped_by="max_time",
        samples=samples,
        process_medians=list(process_medians),
    )
    return CaseResult(
        key=f"b/n={n}/float64/t{threads}/{implementation}",
        group=f"b/n={n}/float64/t{threads}",
        benchmark="b",
        workload="w",
        implementation=implementation,
        backend="numpy",
        params={"n": n},
        threads=threads,
        threads_spec=spec or threads,
        dtype="float64",
        status=status,
        reason=None if status == "ok" else reason,
        timing=timing if status == "ok" else None,
        metrics=metrics or {},
    )


def write_result(path: Path, cases: list[CaseResult], machine: str = "test-machine") -> Path:
    """A result file holding exactly `cases`, as `labench run` would save it."""
    result = Result(
        suite=SuiteInfo(name="synthetic", path="s.yaml", sha256="0" * 64, baselines={}),
        run=RunInfo(
            id="r1", started="2026-01-01T00:00:00+00:00", labench_version="0", command=["labench"]
        ),
        environment=Environment(machine_id=machine),
        cases=cases,
    )
    path.write_text(result.to_json(), encoding="utf-8")
    return path
