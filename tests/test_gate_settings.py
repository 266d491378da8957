"""Per-benchmark gate settings in a suite (`gate: {threshold: 15%}` or `gate: {exclude: why}`):
validated with the suite, stored in the result, and honoured by every gate."""

import json
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from conftest import measured_case, rescaled, write_result

from labench.judge.gates import CaseGate, case_gate
from labench.results import model as results
from labench.results import reader
from labench.results.model import GateSetting
from labench.results.views import load_run

SUITE = """
labench: 1
name: gated
defaults: {{max_time: 0.02, warmup: 0.005}}
benchmarks:
  - id: mm
    workload: kernels.matmul
    params: {{n: [16, 32]}}
    implementations: [numpy]
    gate: {mm}
  - id: mv
    workload: kernels.matvec
    params: {{n: 16}}
    implementations: [numpy]
    gate: {mv}
"""
REASON = "depends on the page cache; tracked but not gated"


@pytest.mark.parametrize(
    "gate, place, message",
    [
        (
            "{threshold: 15%, exclude: why}",
            "9:11",
            "benchmarks[0].gate: expected exactly one of 'threshold' (e.g. 15%) or 'exclude' "
            "(the reason it is not gated), got both",
        ),
        ("{}", "9:11", "benchmarks[0].gate: expected exactly one of 'threshold'"),
        (
            "{threshold: fifteen}",
            "9:23",
            "benchmarks[0].gate.threshold: expected a percentage such as 10% or a fraction such "
            "as 0.1, got 'fifteen'",
        ),
        ("{threshold: 1500%}", "9:23", "expected a value between 0% and 1000%, got '1500%'"),
        ("{threshold: -0.1}", "9:23", "expected a value between 0% and 1000%, got -0.1"),
        (
            "{exclude: ''}",
            "9:21",
            "benchmarks[0].gate.exclude: expected a string that should have at least 1 character, got ''",
        ),
        ("{skip: flaky}", "9:12", "benchmarks[0].gate: unknown key 'skip'"),
        ("15%", "9:11", "benchmarks[0].gate: expected a mapping: {threshold: 15%} for a threshold"),
    ],
)
def test_a_bad_gate_setting_names_file_line_and_field(cli, write_suite, gate, place, message):
    path = write_suite(SUITE.format(mm=gate, mv="{threshold: 0.2}"))
    ran = cli("validate", path)
    assert ran.exit_code == 2
    line = next(line for line in ran.output.splitlines() if line.startswith("error:"))
    assert f"{path}:{place}: " in line and message in " ".join(ran.output.split())
    assert "Traceback" not in ran.output


def test_the_schema_documents_the_settings(cli):
    document = json.loads(cli("schema").output)
    gate = document["$defs"]["Gate"]
    assert set(gate["properties"]) == {"threshold", "exclude"}
    assert gate["additionalProperties"] is False
    assert gate["minProperties"] == gate["maxProperties"] == 1  # exactly one of them
    assert "--threshold" in json.dumps(gate["properties"]["threshold"])


def test_a_case_gate_is_the_benchmarks_own_or_the_command_lines():
    settings = {"mv": GateSetting(threshold=0.15), "flaky": GateSetting(exclude=REASON)}
    assert case_gate(settings, "mv/n=16/float64/t1/numpy", 0.1) == CaseGate(0.15, own=True)
    assert case_gate(settings, "flaky/n=1/float64/t1/numpy", 0.1) == CaseGate(0.1, REASON)
    assert case_gate(settings, "mm/n=16/float64/t1/numpy", 0.1) == CaseGate(0.1)
    assert case_gate(settings, "test_matmul[mv]", 0.2) == CaseGate(0.2)  # pytest-benchmark


def test_a_stored_setting_holds_exactly_one_of_them():
    for bad in ({}, {"threshold": 0.1, "exclude": "x"}, {"threshold": 12}):
        with pytest.raises(ValueError):
            GateSetting(**bad)


def test_result_files_older_than_the_settings_still_load(tmp_path):
    path = write_result(tmp_path / "old.json", [measured_case()])
    document = json.loads(path.read_text())
    del document["suite"]["gates"]
    path.write_text(json.dumps(document))
    assert reader.load(path).suite.gates == {}
    assert load_run(path).gates == {}


@pytest.mark.parametrize(
    "gates, problem",
    [
        ({"b": {"threshold": 50}}, "suite.gates.b.threshold: input should be less than 10"),
        ({"b": {"exclude": "x" * 501}}, "suite.gates.b.exclude: string should have at most 500"),
        ({"b": {"threshold": 0.1, "exclude": "x"}}, "exactly one of 'threshold' and 'exclude'"),
    ],
)
def test_a_result_file_with_a_damaged_gate_setting_is_refused(cli, tmp_path, gates, problem):
    path = write_result(tmp_path / "new.json", [measured_case()])
    document = json.loads(path.read_text())
    document["suite"]["gates"] = gates
    path.write_text(json.dumps(document))
    ran = cli("compare", write_result(tmp_path / "base.json", [measured_case()]), path)
    assert ran.exit_code == 2 and "damaged result file, refused" in ran.output
    assert problem in " ".join(ran.output.split())


def with_gates(path, **gates):
    result = reader.load(path)
    result.suite.gates = {name: GateSetting(**setting) for name, setting in gates.items()}
    results.save(result, path)
    return path


@pytest.fixture
def slower_pair(tmp_path):
    """Benchmark `b`, two cases measured in four processes each, 30% slower in NEW."""

    def run(path, factor, seed):
        rng = np.random.default_rng(seed)
        cases = []
        for n, median in ((16, 1e-5), (32, 4e-5)):
            medians = [factor * median * float(np.exp(0.03 * x)) for x in rng.standard_normal(4)]
            cases.append(
                measured_case(median=factor * median, n=n, seed=seed + n, process_medians=medians)
            )
        return write_result(path, cases)

    return run(tmp_path / "base.json", 1.0, 0), run(tmp_path / "new.json", 1.3, 1)


def test_compare_takes_the_threshold_from_the_new_file(cli, slower_pair):
    base, new = slower_pair
    assert cli("compare", base, new, "--fail-on-regression").exit_code == 1
    with_gates(base, b={"threshold": 0.5})  # the base's settings are not the ones judged by
    assert cli("compare", base, new, "--fail-on-regression").exit_code == 1
    with_gates(new, b={"threshold": 0.5})
    ran = cli("compare", base, new, "--fail-on-regression")
    assert ran.exit_code == 0 and "2 same" in ran.output
    assert "ratio beyond 10% (b: 50%)" in ran.output
    assert cli("compare", base, new, "--fail-on-regression", "--threshold", "40%").exit_code == 0
    document = json.loads(cli("compare", base, new, "--format", "json").stdout)
    assert [case["threshold"] for case in document["runs"][0]["cases"]] == [0.5, 0.5]


def test_an_excluded_benchmark_is_shown_with_its_reason_and_never_fails(cli, slower_pair, tmp_path):
    base, new = with_gates(slower_pair[0]), with_gates(slower_pair[1], b={"exclude": REASON})
    gated = ["compare", base, new, "--fail-on-regression", "--fail-on-unsure"]
    table = cli(*gated, "--junit", tmp_path / "j.xml", "--markdown", tmp_path / "c.md")
    assert table.exit_code == 0, table.output
    assert "2 excluded" in table.output and f"not gated: b (2 cases): {REASON}" in table.output
    markdown = cli(*gated, "--format", "markdown").stdout
    assert f"not gated: b (2 cases): {REASON}" in markdown and "| excluded |" in markdown
    document = json.loads(cli(*gated, "--format", "json").stdout)
    assert document["regressions"] == [] and document["unsure"] == []
    assert document["excluded"] == dict.fromkeys(
        ["b/n=16/float64/t1/numpy", "b/n=32/float64/t1/numpy"], REASON
    )
    assert document["runs"][0]["cases"][0]["verdict"] == "excluded"
    assert document["runs"][0]["cases"][0]["ratio"] == pytest.approx(1.3, rel=0.05)
    root = ElementTree.parse(tmp_path / "j.xml").getroot()
    assert (root.get("failures"), root.get("skipped")) == ("0", "2")
    assert all(REASON in skipped.get("message") for skipped in root.iter("skipped"))
    comment = (tmp_path / "c.md").read_text()
    assert comment.startswith("**labench PASS**: none of 0 cases is slower")
    assert "2 more not gated" in comment and "#### Not gated (2)" in comment


def test_a_gated_run_honours_the_suite_and_stores_its_settings(cli, write_suite, tmp_path):
    """Against a baseline 3.3x faster, `mm` is excluded and `mv` allows 900%: nothing is a
    suspect, nothing is confirmed, and the run passes, naming what it did not gate."""
    suite = write_suite(SUITE.format(mm=f"{{exclude: '{REASON}'}}", mv="{threshold: 900%}"))
    base = tmp_path / "base.json"
    assert cli("run", suite, "-o", base, "-q").exit_code == 0
    stored = reader.load(base).suite.gates
    assert stored == {"mm": GateSetting(exclude=REASON), "mv": GateSetting(threshold=9.0)}
    results.save(rescaled(reader.load(base), 0.3), tmp_path / "fast.json")
    new = tmp_path / "new.json"
    gated = cli("run", suite, "-q", "-o", new, "--baseline", tmp_path / "fast.json")
    assert gated.exit_code == 0, gated.output
    assert reader.load(new).run.confirmed == []
    said = " ".join(gated.output.split())
    assert "PASS: none of 1 cases is slower than fast.json beyond 10% (mv: 900%)" in said
    assert "1 same" in said and f"not gated: mm (2 cases): {REASON}" in said
    assert "2 more not gated" in said
