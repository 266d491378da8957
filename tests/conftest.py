from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

# pytest-xdist gives its workers COLUMNS=80, and labench honours COLUMNS in pipes: the tests
# render at the pipe width a serial run gets, whatever runs them (a test that wants a width sets it).
os.environ.pop("COLUMNS", None)

from labench.commands.app import app
from labench.core.stats import summarize
from labench.results.model import CaseResult, Environment, Result, RunInfo, SuiteInfo, Timing

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory):
    """Tests never read or write the user's real cache (ceilings of this machine): set for the
    whole session, so module-scoped fixtures that run the CLI are covered too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))
        yield


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


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory) -> Path:
    """One real run of the shipped quick suite, at smoke-test timings, shared by the readers'
    tests (tables, HTML report). In its own process: the quick suite loads Numba's OpenMP layer,
    which would change the thread pools that later in-process runs of the test session record."""
    out = tmp_path_factory.mktemp("quick") / "quick.json"
    environment = os.environ | {"XDG_CACHE_HOME": str(tmp_path_factory.getbasetemp() / "cache")}
    ran = subprocess.run(
        [sys.executable, "-m", "labench", "run", "quick", "--max-time", "0.01", "-q", "-o", out],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return out


def rescaled(result, factor: float, **run_fields):
    """A copy of a run with every time (samples, statistics, per-process medians) multiplied by
    `factor`, and these RunInfo fields replaced: a synthetic later run of the same cases."""
    copy = result.model_copy(deep=True)
    for case in copy.cases:
        timing = case.timing
        if timing is None:
            continue
        case.timing = timing.model_copy(
            update={
                name: getattr(timing, name) * factor
                for name in ("median", "mean", "stdev", "min", "max", "iqr")
            }
            | {
                "samples": [s * factor for s in timing.samples],
                "process_medians": [m * factor for m in timing.process_medians],
                "ci95": tuple(c * factor for c in timing.ci95) if timing.ci95 else None,
            }
        )
    copy.run = copy.run.model_copy(update=run_fields)
    return copy


def synthetic_result(cases, machine="m1", **run_fields):
    """A run of suite `s` on `machine` holding `cases` (see `measured_case`)."""
    run = {"id": "r", "started": "2026-01-01T00:00:00+00:00", "labench_version": "0", "command": []}
    return Result(
        suite=SuiteInfo(name="s", path="s.yaml", sha256="0" * 64, baselines={"b": "numpy"}),
        run=RunInfo(**(run | run_fields)),
        environment=Environment(machine_id=machine, cpu="test CPU", cores_usable=2),
        cases=cases,
    )


def git(folder: Path, *arguments: str) -> str:
    """Run git in `folder` as a throwaway identity; its output, stripped."""
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *arguments],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


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


def interruptible() -> None:
    """For `preexec_fn`: Ctrl-C's default in a process a test will interrupt. A job started in
    the background of a shell (a CI script under nohup, say) inherits SIGINT ignored, and would
    never see the test's signal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
