"""Hostile suites: files that are valid YAML, or nearly, yet stand for
an enormous or endless document or sweep. Each is refused at load, fast, with exit 2, the file
and the line, no traceback, and no result file written or changed."""

import time
from pathlib import Path

import pytest
from conftest import ROOT

from labench.suite.yamllimits import MAX_BYTES, MAX_DEPTH

CORPUS = ROOT / "tests" / "hostile"

# file -> (line:column the message points at, what it says)
EXPECTED = {
    "billion_laughs.yaml": (
        "15:17",
        "the alias *h stands for 111,111,111 values (anchored at line 11); with every alias "
        "expanded the suite would hold 234,567,922 values, more than the 100,000",
    ),
    "alias_cycle.yaml": (
        "6:10",
        "the alias *defaults stands for a value that contains it (anchored at line 4)",
    ),
    "deep_nesting.yaml": ("7:80", f"values nested deeper than {MAX_DEPTH} levels"),
    "alias_depth.yaml": ("9:17", "through the alias *b the suite nests values 85 levels deep"),
    "sweep_explodes.yaml": (
        "8:5",
        "benchmarks[1] 'explodes' sweeps 70,000,000,000 cases (100 n x 100 samples x "
        "100 features x 100 classes x 100 l2 x 7 implementations); a suite may hold 10,000 "
        "cases; set 'max_cases: N'",
    ),
    "sweeps_add_up.yaml": (
        "5:5",
        "the suite sweeps 12,000 cases in all; its largest benchmark, benchmarks[0] 'matmul', "
        "sweeps 4,000 (1,000 n x 4 implementations)",
    ),
    "threads_and_dtypes.yaml": (
        "5:5",
        "sweeps 32,000 cases (20 n x 2 dtypes x 200 thread counts x 4 implementations)",
    ),
    "huge_integer.yaml": ("7:17", "cannot read '99999999999999999999...': Exceeds the limit"),
    "infinite_max_time.yaml": ("4:22", "defaults.max_time: expected a finite number, got inf"),
    "gate_nan_threshold.yaml": (
        "9:23",
        "benchmarks[0].gate.threshold: expected a value between 0% and 1000%, got nan",
    ),
}


def test_the_corpus_is_exactly_what_is_tested():
    assert sorted(path.name for path in CORPUS.glob("*.yaml")) == sorted(EXPECTED)


@pytest.fixture
def working_folder(tmp_path, monkeypatch):
    """A working folder that already holds a result, as a user's would."""
    monkeypatch.chdir(tmp_path)
    kept = tmp_path / "results" / "earlier.json"
    kept.parent.mkdir()
    kept.write_text('{"precious": true}\n')
    return tmp_path


def assert_refused(cli, folder: Path, suite: Path, place: str, message: str) -> None:
    """validate and run both exit 2 within a bound that never flakes, naming file and place,
    without a traceback, leaving the results folder as it was."""
    before = {path: path.read_bytes() for path in folder.rglob("*.json")}
    for command in (
        ["validate", suite],
        ["run", suite, "-q"],
        ["run", suite, "-o", folder / "results" / "earlier.json", "--force"],
    ):
        start = time.perf_counter()
        result = cli(*command)
        elapsed = time.perf_counter() - start
        assert result.exit_code == 2, result.output
        assert f"{suite}:{place}: " in result.output
        assert message in result.output
        assert "Traceback" not in result.output
        assert elapsed < 10, f"{command[0]} took {elapsed:.1f} s to refuse {suite.name}"
    assert {path: path.read_bytes() for path in folder.rglob("*.json")} == before


@pytest.mark.parametrize("name", EXPECTED)
def test_hostile_suite_is_refused_fast_at_its_line(cli, working_folder, name):
    place, message = EXPECTED[name]
    assert_refused(cli, working_folder, CORPUS / name, place, message)


def test_nesting_that_would_exhaust_python_recursion_is_refused(cli, working_folder):
    depth = 30_000  # 60 KB: within the size limit, far beyond Python's recursion limit
    suite = working_folder / "deep.yaml"
    suite.write_text("labench: 1\nname: deep\nbenchmarks: " + "[" * depth + "]" * depth + "\n")
    assert_refused(cli, working_folder, suite, f"3:{13 + MAX_DEPTH}", "nested deeper than")


def test_a_gigantic_file_is_refused_by_its_size_before_it_is_read(cli, working_folder):
    suite = working_folder / "huge.yaml"
    valid = (ROOT / "suites" / "quick.yaml").read_text()
    suite.write_text(valid + "# padding\n" * (MAX_BYTES // 10 + 1))
    before = {path: path.read_bytes() for path in working_folder.rglob("*.json")}
    for command in ("validate", "run"):
        result = cli(command, suite)
        assert result.exit_code == 2
        assert f"{suite}: {suite.stat().st_size:,} bytes, more than the {MAX_BYTES:,}" in (
            result.output
        )
        assert "Traceback" not in result.output
    assert {path: path.read_bytes() for path in working_folder.rglob("*.json")} == before


def with_max_cases(name: str, limit: int) -> str:
    text = (CORPUS / name).read_text()
    return text.replace("\nbenchmarks:", f"\nmax_cases: {limit}\nbenchmarks:", 1)


def test_max_cases_lets_a_suite_run_the_sweep_it_means(cli, write_suite):
    allowed = cli("validate", write_suite(with_max_cases("threads_and_dtypes.yaml", 32_000)))
    assert allowed.exit_code == 0, allowed.output
    assert "32000 cases" in allowed.output
    short = write_suite(with_max_cases("threads_and_dtypes.yaml", 31_999))
    refused = cli("validate", short)
    assert refused.exit_code == 2
    assert f"{short}:6:5: " in refused.output and "a suite may hold 31,999 cases" in refused.output


def test_max_cases_must_be_a_positive_integer(cli, write_suite):
    path = write_suite(with_max_cases("threads_and_dtypes.yaml", 0))
    result = cli("validate", path)
    assert result.exit_code == 2
    assert f"{path}:4:12: max_cases: expected greater than or equal to 1, got 0" in result.output


def test_a_suite_may_share_settings_through_an_anchor(cli, write_suite):
    path = write_suite(
        """
        labench: 1
        name: shared
        defaults: {threads: 1}
        benchmarks:
          - &small {id: mm, workload: kernels.matmul, params: {n: 8}, max_time: 0.5}
          - {<<: *small, id: mv, workload: kernels.matvec, implementations: [numpy]}
        """
    )
    result = cli("validate", path)
    assert result.exit_code == 0, result.output
    assert "2 benchmarks, 5 cases" in result.output
