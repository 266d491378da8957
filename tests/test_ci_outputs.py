"""The CI outputs of the gating commands: JUnit XML, the pull request comment, and on GitHub
Actions the step summary and the workflow-command annotations."""

import json
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from conftest import measured_case, rescaled, write_result
from test_compare import TINY

from labench.judge.compare import compare
from labench.present.github import escape_data, escape_property, github_annotations
from labench.results import model as results
from labench.results import reader
from labench.results.views import load_run

FAST, SLOW = 1.0e-3, 1.6e-3
"""Two placements of one kernel: process medians that spread too widely to decide on."""


def lottery(median, seed, count=5):
    """`count` process medians with a 3% placement lottery around `median`."""
    rng = np.random.default_rng(seed)
    return [median * float(np.exp(0.03 * x)) for x in rng.standard_normal(count)]


def case(n, medians, seed):
    return measured_case(median=float(np.median(medians)), n=n, seed=seed, process_medians=medians)


@pytest.fixture
def pair(tmp_path):
    """BASE and NEW with one case of each kind: n=1 slower, n=2 undecided (a move within the
    spread between processes), n=3 faster, n=4 and n=5 the same."""
    base = [
        case(1, lottery(1e-5, 1), 11),
        case(2, [FAST, SLOW, FAST, SLOW, FAST], 12),
        case(3, lottery(2e-5, 3), 13),
        case(4, lottery(3e-5, 4), 14),
        case(5, lottery(4e-5, 5), 15),
    ]
    new = [
        case(1, lottery(1.3e-5, 21), 31),
        case(2, [SLOW, FAST, SLOW, SLOW, SLOW], 32),
        case(3, lottery(1e-5, 23), 33),
        case(4, lottery(3e-5, 24), 34),
        case(5, lottery(4e-5, 25), 35),
    ]
    return write_result(tmp_path / "base.json", base), write_result(tmp_path / "new.json", new)


def key(n):
    return f"b/n={n}/float64/t1/numpy"


def test_the_pair_holds_one_case_of_each_kind(pair):
    verdicts = compare([load_run(path) for path in pair]).verdicts[0]
    assert [v.verdict for v in verdicts] == ["slower", "unsure", "faster", "same", "same"]
    assert verdicts[1].moved_slower


def assert_junit_shape(root):
    """The common JUnit shape the reporters of GitLab, Jenkins and GitHub read: a testsuites
    root, testsuites with integer counts that agree with their testcases, each testcase named
    and classed, with at most one outcome element."""
    assert root.tag == "testsuites"
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in root:
        assert suite.tag == "testsuite" and suite.get("name")
        cases = suite.findall("testcase")
        assert len(cases) == len(suite)
        outcomes = [[child.tag for child in test] for test in cases]
        assert all(len(tags) <= 1 for tags in outcomes)
        counted = {
            "tests": len(cases),
            "failures": sum(tags == ["failure"] for tags in outcomes),
            "errors": sum(tags == ["error"] for tags in outcomes),
            "skipped": sum(tags == ["skipped"] for tags in outcomes),
        }
        for name, count in counted.items():
            assert int(suite.get(name)) == count, name
            totals[name] += count
        for test in cases:
            assert test.get("classname") and test.get("name")
            for outcome in test:
                assert outcome.get("message")
    assert {name: int(root.get(name)) for name in totals} == totals


def test_compare_writes_a_junit_report_of_its_verdicts(cli, pair, tmp_path):
    report = tmp_path / "junit.xml"
    ran = cli("compare", *pair, "--junit", report)
    assert ran.exit_code == 0, ran.output
    root = ElementTree.parse(report).getroot()
    assert_junit_shape(root)
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("5", "1", "1")
    tests = {test.get("name"): test for test in root.iter("testcase")}
    assert sorted(tests) == [key(n) for n in range(1, 6)]
    assert {test.get("classname") for test in tests.values()} == {"b"}
    failure = tests[key(1)].find("failure")
    assert failure.get("type") == "slower"
    assert "slower than in base.json: 10.1 µs -> 13.2 µs, ratio 1.305 [" in failure.get("message")
    assert "(95% interval), threshold 10%" in failure.text
    skipped = tests[key(2)].find("skipped")
    assert "undecided" in skipped.get("message")
    assert "spread too widely" in skipped.get("message")
    assert all(len(tests[key(n)]) == 0 for n in (3, 4, 5))  # passed


def test_the_pr_comment_says_the_verdict_then_what_needs_a_look(cli, pair, tmp_path):
    comment = tmp_path / "comment.md"
    assert cli("compare", *pair, "--markdown", comment).exit_code == 0
    text = comment.read_text()
    first = text.splitlines()[0]
    assert first.startswith("**labench REGRESSION**: 1 of 5 cases slower than base.json")
    order = [
        text.index(heading)
        for heading in (
            "#### Regressions (1)",
            "#### Undecided (1)",
            "#### Improvements (1)",
            "<details>",
            "<summary>2 unchanged</summary>",
            "</details>",
        )
    ]
    assert order == sorted(order)
    folded = text[text.index("<details>") : text.index("</details>")]
    assert f"`{key(4)}`" in folded and f"`{key(5)}`" in folded
    assert f"`{key(1)}`" not in folded
    # the tables are those of --format markdown, cut by verdict
    full = cli("compare", *pair, "--format", "markdown").stdout
    header = "| case | base.json | new.json | ratio [95% CI] | p | based on | verdict |"
    assert header in text and header in full
    slower_row = next(line for line in full.splitlines() if f"`{key(1)}`" in line)
    assert slower_row in text.split("#### Undecided")[0]


def test_on_github_the_summary_is_appended_and_cases_annotated(cli, pair, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("an earlier step's summary\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    ran = cli("compare", *pair, "--fail-on-regression")
    assert ran.exit_code == 1
    text = summary.read_text()
    assert text.startswith("an earlier step's summary\n**labench REGRESSION**")
    lines = ran.stdout.splitlines()
    errors = [line for line in lines if line.startswith("::error ")]
    warnings = [line for line in lines if line.startswith("::warning ")]
    assert errors == [
        f"::error title=labench regression%3A {key(1)}::{key(1)} is slower than in base.json: "
        + errors[0].split(": ", 1)[1]
    ]
    assert "(95%25 interval), threshold 10%25" in errors[0]
    assert len(warnings) == 1 and warnings[0].startswith(
        f"::warning title=labench undecided%3A {key(2)}::{key(2)} moved the slow way"
    )
    # a document on standard output stays whole: the annotations go to standard error
    document = cli("compare", *pair, "--format", "json")
    json.loads(document.stdout)
    assert "::error title=" in document.stderr


def test_off_github_nothing_is_annotated(cli, pair, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert "::" not in cli("compare", *pair).output


def test_workflow_command_values_are_escaped():
    assert escape_data("50% of\r\nit: a,b") == "50%25 of%0D%0Ait: a,b"
    assert escape_property("50% of\r\nit: a,b") == "50%25 of%0D%0Ait%3A a%2Cb"


def test_a_key_with_commas_and_colons_is_escaped_in_its_title(tmp_path):
    def run(name, factor):
        medians = lottery(1e-5 * factor, 1 if factor == 1 else 2)
        found = case(1, medians, 3).model_copy(update={"key": "mm/n=8,mode=a:b/float64/t1/np"})
        return load_run(write_result(tmp_path / name, [found]))

    (line,) = github_annotations(compare([run("a.json", 1), run("b.json", 1.5)]))
    title, message = line.removeprefix("::error title=").split("::", 1)
    assert title == "labench regression%3A mm/n=8%2Cmode=a%3Ab/float64/t1/np"
    assert message.startswith("mm/n=8,mode=a:b/float64/t1/np is slower")
    assert "\n" not in line and "%25" in message


def test_an_unwritable_report_is_unusable_input(cli, pair, tmp_path):
    ran = cli("compare", *pair, "--junit", tmp_path / "missing" / "junit.xml")
    assert ran.exit_code == 2 and "cannot write" in ran.output


def test_a_gated_run_writes_the_same_reports(cli, write_suite, tmp_path, monkeypatch):
    """`run --baseline` with every output: two cases that moved the slow way, left unexamined,
    end the run undecided (exit 3), skipped in JUnit, warned about on GitHub."""
    suite = write_suite(TINY)
    base = tmp_path / "base.json"
    assert cli("run", suite, "-o", base, "-q").exit_code == 0
    results.save(rescaled(reader.load(base), 0.1), tmp_path / "fast.json")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    gated = cli(
        "run", suite, "-q", "-o", tmp_path / "new.json", "--baseline", tmp_path / "fast.json",
        "--confirm-processes", "0", "--junit", tmp_path / "j.xml", "--markdown", tmp_path / "c.md",
    )  # fmt: skip
    assert gated.exit_code == 3, gated.output
    root = ElementTree.parse(tmp_path / "j.xml").getroot()
    assert_junit_shape(root)
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("2", "0", "2")
    comment = (tmp_path / "c.md").read_text()
    assert comment.startswith("**labench UNDECIDED**: 2 of 2 cases moved the slow way")
    assert "#### Undecided (2)" in comment and comment in summary.read_text()
    assert len([line for line in gated.stdout.splitlines() if line.startswith("::warning ")]) == 2


def test_reports_without_a_gate_are_refused(cli, write_suite, tmp_path):
    ran = cli("run", write_suite(TINY), "-q", "--junit", tmp_path / "j.xml")
    assert ran.exit_code == 2 and "need --baseline" in ran.output
    assert not (tmp_path / "j.xml").exists()
