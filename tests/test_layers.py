"""The import layers hold: pyproject's import-linter contracts (commands -> execution -> measure
-> parts; readers never load a runner, a backend or a workload) are kept."""

import shutil
import subprocess

import pytest
from conftest import ROOT


def test_the_import_contracts_are_kept():
    linter = shutil.which("lint-imports")
    if linter is None:
        pytest.skip("import-linter is not installed (it is in the dev extra)")
    checked = subprocess.run([linter], cwd=ROOT, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 broken" in checked.stdout
