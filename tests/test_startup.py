"""Start-up stays light: every `labench` command and every spawned worker pays for what the CLI
imports, so the heavy libraries are imported only where a case or a statistic needs them."""

import subprocess
import sys

import pytest

HEAVY = ("scipy.stats", "scipy.special", "scipy.linalg", "numba", "matplotlib", "cupy")


def modules_after(code: str) -> set[str]:
    """The heavy modules loaded after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(output.split())


def test_importing_the_cli_loads_no_heavy_library():
    assert modules_after("import labench.cli") == set()


@pytest.mark.parametrize("suite", ["suites/quick.yaml", "suites/seed-claims.yaml"])
def test_loading_and_expanding_a_suite_loads_no_heavy_library(suite):
    code = (
        "from pathlib import Path\nfrom labench.suite import load_suite\n"
        f"load_suite(Path({suite!r})).cases()"
    )
    assert modules_after(code) == set()


def test_the_heavy_libraries_are_really_probed():
    """The probe itself can see an import (so the tests above cannot pass vacuously)."""
    assert "scipy.stats" in modules_after("import scipy.stats")
