"""What a newcomer meets in the first hour: names with a "did you mean", files of the wrong
kind told apart, a workload's mistakes named, and the small conventions of a command line."""

import shutil

from conftest import ROOT

from labench.results import reader

SUITE = """labench: 1
name: mine
defaults: {max_time: 0.01, warmup: 0.0, min_samples: 3}
benchmarks:
  - {id: s, workload: 'softmax_wl:WORKLOAD', implementations: [IMPLEMENTATIONS]}
"""

MODULE = '''
import numpy as np
from labench import Param, Workload, implementation


class Softmax(Workload):
    params = {"n": Param(64, int, positive=True)}

    def make_inputs(self, params, dtype, rng):
        return {"x": rng.standard_normal(params["n"]).astype(dtype)}

    def reference(self, inputs, params):
        x = inputs["x"].astype(np.float64)
        return np.exp(x - x.max()) / np.exp(x - x.max()).sum()

    @implementation("numpy")
    def plain(self, inputs, params):
        x = inputs["x"]
        return lambda: np.exp(x - x.max()) / np.exp(x - x.max()).sum()

    @implementation("numpy")
    def eager(self, inputs, params):
        x = inputs["x"]
        return np.exp(x - x.max()) / np.exp(x - x.max()).sum()


class NoReference(Workload):
    params = {"n": Param(64, int, positive=True)}

    def make_inputs(self, params, dtype, rng):
        return {"x": rng.standard_normal(params["n"]).astype(dtype)}

    @implementation("numpy")
    def plain(self, inputs, params):
        return lambda: inputs["x"]
'''


def project(tmp_path, workload="Softmax", implementations="plain"):
    (tmp_path / "softmax_wl.py").write_text(MODULE)
    suite = tmp_path / "suite.yaml"
    text = SUITE.replace("WORKLOAD", workload).replace("IMPLEMENTATIONS", implementations)
    suite.write_text(text)
    return suite


def one_line(output):
    return " ".join(output.split())


def test_a_misspelled_workload_class_is_named_with_what_the_module_defines(cli, tmp_path):
    refused = cli("validate", project(tmp_path, workload="Softmx"))
    assert refused.exit_code == 2
    assert "module 'softmax_wl' has no 'Softmx'; did you mean 'Softmax'?" in one_line(refused.output)


def test_a_workload_without_a_reference_is_refused_before_running(cli, tmp_path):
    refused = cli("validate", project(tmp_path, workload="NoReference"))
    assert refused.exit_code == 2
    assert "does not define reference" in one_line(refused.output)


def test_an_implementation_that_returns_an_array_says_what_was_expected(cli, tmp_path):
    out = tmp_path / "r.json"
    ran = cli("run", project(tmp_path, implementations="plain, eager"), "-q", "-o", out)
    assert ran.exit_code == 1  # a case errored
    by_name = {case.implementation: case for case in reader.load(out).cases}
    assert by_name["plain"].status == "ok"
    eager = by_name["eager"]
    assert eager.status == "error" and "returned a ndarray" in eager.reason
    assert "expected a zero-argument callable" in eager.reason


def test_a_misspelled_shipped_suite_gets_a_did_you_mean(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    refused = cli("run", "quik")
    assert refused.exit_code == 2 and "did you mean 'quick'?" in one_line(refused.output)


def test_a_checkout_path_to_a_shipped_suite_outside_a_checkout_names_the_short_form(
    cli, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    refused = cli("run", "suites/quick.yaml")
    assert refused.exit_code == 2 and "run it as `labench run quick`" in one_line(refused.output)


def test_compare_refuses_a_file_compared_with_itself_and_a_suite_given_for_a_result(
    cli, tmp_path
):
    result = tmp_path / "a.json"
    shutil.copy(ROOT / "results" / "example-seed-claims-epyc-2core.json", result)
    itself = cli("compare", result, result)
    assert itself.exit_code == 2 and "given twice" in one_line(itself.output)
    suite = cli("compare", ROOT / "suites" / "quick.yaml", result)
    assert suite.exit_code == 2
    assert "this is a suite (YAML), not a result" in one_line(suite.output)


def test_version_and_its_verbose_form(cli):
    from importlib import metadata

    plain = cli("--version")
    assert plain.exit_code == 0 and plain.output.strip() == f"labench {metadata.version('labench')}"
    verbose = cli("--version", "--verbose").output
    assert "Python 3." in verbose and "numpy " in verbose and "numba " in verbose


def test_list_names_an_unavailable_backend_once(cli):
    listed = cli("list").output
    lines = [line for line in listed.splitlines() if "not available here" in line]
    assert len(lines) == len({line.split(":")[0] for line in lines})


def test_the_progress_counter_never_runs_past_its_total(write_suite):
    """A noisy case measured again adds a step to the bar instead of counting past the end."""
    from io import StringIO

    from rich.console import Console

    from labench.present.progress import progress_observer
    from labench.suite.load import load_suite

    suite = write_suite(
        "labench: 1\nname: p\nbenchmarks:\n"
        "  - {id: mm, workload: kernels.matmul, params: {n: [8, 16]}, implementations: [numpy]}\n"
    )
    cases = load_suite(suite).cases()
    console = Console(file=StringIO(), force_terminal=True, width=100)
    with progress_observer(console, cases, enabled=True) as observer:
        progress = observer.started.__closure__  # the bar lives in the observer's closures
        for case in [*cases, cases[0]]:  # the first case measured again at the end
            observer.started(case)
            observer.finished(type("Done", (), {"key": case.key})())
        task = next(
            cell.cell_contents for cell in progress if hasattr(cell.cell_contents, "tasks")
        ).tasks[0]
        assert (task.completed, task.total) == (3, 3)


def help_text(*argv, columns):
    """`labench ARGV` as a user's terminal of that width gets it (a fresh interpreter, so the
    console entry point's tidying of the help applies)."""
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "labench", *argv],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | {"COLUMNS": str(columns)},
    ).stdout


def test_help_shows_no_type_tag_beside_an_on_off_flag():
    shown = help_text("run", "--help", columns=120)
    quick = next(line for line in shown.splitlines() if "--quick" in line)
    assert "<bool>" not in quick and "--no-quick" in quick
    assert "<float" in next(line for line in shown.splitlines() if "--max-time" in line)


def test_help_does_not_break_a_sentence_where_the_docstring_wrapped():
    shown = help_text("--help", columns=200)
    history = next(line for line in shown.splitlines() if " history " in line)
    assert "git knows the commits, else in time order" in history  # one line at 200 columns
