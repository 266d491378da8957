"""Start-up stays light: every `labench` command and every spawned worker pays for what the CLI
imports, so the heavy libraries are imported only where a case or a statistic needs them."""

import subprocess
import sys

import pytest

HEAVY = ("scipy.stats", "scipy.special", "scipy.linalg", "numba", "matplotlib", "cupy")
MEASURING = ("numpy", "yaml", "labench.results.model", "labench.suite.load", "labench.commands.run")
"""What the commands that measure, load or check need, and `labench --help` does not. (Not
pydantic: typer itself imports it to build some options' types.)"""


def modules_after(code: str, watched: tuple[str, ...] = HEAVY) -> set[str]:
    """The watched modules loaded after running `code` in a fresh interpreter."""
    loaded = f"' '.join(m for m in {watched!r} if m in sys.modules)"
    probe = f"{code}\nimport sys\nprint('loaded:', {loaded})"
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(output.rpartition("loaded:")[2].split())


def test_importing_the_cli_loads_no_heavy_library():
    assert modules_after("import labench.commands.app") == set()


def modules_after_command(argv: list[str]) -> set[str]:
    """The measuring modules loaded by `labench ARGV` in a fresh interpreter."""
    command = f"sys.argv = {['labench', *argv]!r}\ntry:\n    main()\nexcept SystemExit:\n    pass"
    return modules_after(f"import sys\nfrom labench.commands.app import main\n{command}", MEASURING)


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["compare", "--help"]])
def test_help_waits_for_nothing_that_measures(argv):
    """`labench --help` costs typer and rich only: each command imports the measuring side of
    labench (run_command.py, the suite model, NumPy) when it runs, not when it is listed."""
    assert modules_after_command(argv) == set()


def test_the_public_api_is_there_on_first_use():
    """User workloads import it from the package, which loads it lazily (PEP 562)."""
    code = (
        "import labench\nfrom labench import Workload, implementation\nprint(Workload.__module__)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "labench.workloads.base"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        import labench

        labench.nothing  # noqa: B018


@pytest.mark.parametrize("suite", ["suites/quick.yaml", "suites/seed-claims.yaml"])
def test_loading_and_expanding_a_suite_loads_no_heavy_library(suite):
    code = (
        "from pathlib import Path\nfrom labench.suite.load import load_suite\n"
        f"load_suite(Path({suite!r})).cases()"
    )
    assert modules_after(code) == set()


def test_the_heavy_libraries_are_really_probed():
    """The probe itself can see an import (so the tests above cannot pass vacuously)."""
    assert "scipy.stats" in modules_after("import scipy.stats")
    assert modules_after_command(["run", "no-such-suite.yaml"]) == set(MEASURING)


RUNNERS = ("labench.measure", "labench.execution", "labench.backends", "labench.workloads")
"""What only measuring needs: a command that reads results imports none of it."""


def runner_modules_after_command(argv: list[str]) -> set[str]:
    """The labench modules of RUNNERS that `labench ARGV` loads in a fresh interpreter."""
    command = f"sys.argv = {['labench', *argv]!r}\ntry:\n    main()\nexcept SystemExit:\n    pass"
    code = (
        f"import sys\nfrom labench.commands.app import main\n{command}\n"
        f"print('loaded:', ' '.join(m for m in sys.modules if m.startswith({RUNNERS!r})))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(output.rpartition("loaded:")[2].split())


def test_readers_load_no_runner_backend_or_workload(quick_run, tmp_path):
    """compare, show, history, report and export read files: they import none of the
    measuring side, so they start fast and cannot run a kernel by accident."""
    history = tmp_path / "history"
    history.mkdir()
    (history / "a.json").write_bytes(quick_run.read_bytes())
    for argv in (
        ["compare", quick_run, quick_run],
        ["show", quick_run],
        ["history", history],
        ["report", quick_run, "-o", tmp_path / "report.html"],
        ["export", quick_run, "-o", tmp_path / "exported.json"],
    ):
        assert runner_modules_after_command([str(arg) for arg in argv]) == set(), argv
    assert (tmp_path / "report.html").exists() and (tmp_path / "exported.json").exists()


def test_the_runner_probe_sees_a_measuring_command(tmp_path):
    """The probe above can see the measuring side load, so it cannot pass vacuously."""
    out = tmp_path / "q.json"
    argv = ["run", "quick", "--max-time", "0.001", "-q", "-o", str(out), "-k", "matvec"]
    assert "labench.measure.case" in runner_modules_after_command(argv)
