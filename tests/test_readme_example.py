"""The documented user-workload example is the shipped file, and it runs; the README starts with
the install and test commands CI runs."""

import re

import numpy as np
from conftest import ROOT

from labench.results import reader


def test_own_workloads_guide_shows_the_example_module_verbatim():
    guide = (ROOT / "docs" / "how-to" / "own-workloads.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", guide, flags=re.S)
    assert (ROOT / "examples" / "my_workloads.py").read_text() in blocks


def test_readme_starts_with_install_then_test_command():
    lines = [line for line in (ROOT / "README.md").read_text().splitlines() if line.strip()]
    fence = lines.index("```bash")
    assert lines[fence + 1 : fence + 3] == ['pip install -e ".[dev]"', "pytest"]


def test_example_user_workload_runs_and_is_correct(cli, tmp_path):
    out = tmp_path / "axpy.json"
    result = cli("run", ROOT / "examples" / "axpy.yaml", "--max-time", "0.02", "-o", out)
    assert result.exit_code == 0, result.output
    cases = reader.load(out).cases
    assert {case.implementation for case in cases} == {"expression", "fused"}
    assert all(case.status == "ok" for case in cases)
    float32 = [case for case in cases if case.dtype == "float32"]
    assert all(0 < case.metrics["error_rel"] < 1e-6 for case in float32)
    assert all(case.metrics["temporaries"] == 0 for case in cases if case.implementation == "fused")
    assert np.isclose(cases[0].metrics["flops"], 2 * 10000)
