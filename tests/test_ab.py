"""`labench ab`: sides, refusals, exit codes, outputs, and worktrees removed however a run ends.

The workload sleeps, so a side that sleeps three times as long is that much slower in every
process,
and a generous threshold keeps honest sides `same`: the verdicts do not depend on this
machine's noise. Every run is a real `labench ab` in a fresh interpreter, as CI runs it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import git, interruptible

from labench.results.views import load_run

SUITE = """\
labench: 1
name: napping
defaults: {max_time: 0.05, warmup: 0.0, min_samples: 3}
benchmarks:
  - id: nap
    workload: napping:Nap
    params: {n: [1]}
"""

MODULE = """\
import os
import pathlib
import time

import numpy as np

from labench import Param, Workload, implementation

SECONDS = {seconds}


class Nap(Workload):
    name = "test.nap"
    params = {{"n": Param(1, int, positive=True)}}

    def make_inputs(self, params, dtype, rng):
        marker = os.environ.get("LABENCH_TEST_MARKER")
        if marker:  # tells the test a measuring process has started, then holds it there
            pathlib.Path(marker).touch()
            time.sleep(600)
        return {{"x": np.ones(params["n"], dtype=dtype)}}

    def reference(self, inputs, params):
        return inputs["x"].astype(np.float64)

    @implementation("numpy")
    def numpy(self, inputs, params):
        x = inputs["x"]

        def run():
            time.sleep(SECONDS)
            return x

        return run
"""

FAST = ["--rounds", "3", "--max-rounds", "3", "-q"]


def side(folder: Path, seconds: float = 0.02, suite: str = SUITE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "suite.yaml").write_text(suite)
    (folder / "napping.py").write_text(MODULE.format(seconds=seconds))
    return folder


def ab(*arguments: object, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "labench", "ab", *map(str, arguments)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def one_paragraph(text: str) -> str:
    return " ".join(text.split())


def test_a_slower_side_is_a_regression_with_json_that_round_trips(tmp_path):
    base, new = side(tmp_path / "old"), side(tmp_path / "new", seconds=0.06)
    summary = tmp_path / "summary.md"
    done = ab(
        "suite.yaml", "--base", base, "--new", new, "--threshold", "20%",
        "--format", "json", "--results", tmp_path / "results", "--junit", tmp_path / "ab.xml",
        *FAST, cwd=tmp_path, env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "REGRESSION" in summary.read_text()  # GitHub's step summary, and its annotation
    assert "::error" in done.stderr
    assert "<failure" in (tmp_path / "ab.xml").read_text()
    document = json.loads(done.stdout)
    (case,) = document["runs"][0]["cases"]
    assert (case["verdict"], case["basis"]) == ("slower", "pairs")
    assert 2 < case["ratio"] < 4
    assert document["regressions"] == [case["key"]]
    assert document["pairing"]["rounds"] == {case["key"]: 3}
    assert document["pairing"]["looks"] == [3]
    assert document["gate"].startswith("REGRESSION")
    saved = sorted((tmp_path / "results").glob("*.json"))
    assert [path.name.split("-")[1] for path in saved] == ["base", "new"]
    for path in saved:  # each side's file reads back as a labench result of 3 processes
        run = load_run(path)
        assert len(run.cases[case["key"]].process_medians) == 3
    assert document["base"] == saved[0].name


def test_the_new_side_s_gate_settings_are_honoured(tmp_path):
    excluded = SUITE.replace(
        "    params: {n: [1]}\n", "    params: {n: [1]}\n    gate: {exclude: sleeps on purpose}\n"
    )
    base, new = side(tmp_path / "old"), side(tmp_path / "new", seconds=0.06, suite=excluded)
    done = ab(
        "suite.yaml", "--base", base, "--new", new, "--threshold", "20%", "--format", "json",
        "--results", tmp_path, *FAST, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (case,) = json.loads(done.stdout)["runs"][0]["cases"]
    assert case["verdict"] == "excluded"
    assert 2 < case["ratio"] < 4  # measured and shown, never gated


def test_honest_sides_pass_and_cases_on_one_side_only_are_listed(tmp_path):
    more = SUITE + "  - id: extra\n    workload: napping:Nap\n"
    base, new = side(tmp_path / "old"), side(tmp_path / "new", suite=more)
    done = ab(
        "suite.yaml", "--base", base, "--new", new, "--threshold", "50%",
        "--format", "markdown", "--results", tmp_path, *FAST, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("## labench comparison")
    assert "| `nap/n=1/float64/t1/numpy` |" in done.stdout
    assert "extra/n=1/float64/t1/numpy` |" not in done.stdout  # listed, not compared:
    assert "-new-" in done.stdout and "`extra/n=1/float64/t1/numpy`" in done.stdout
    assert "looks at 3 rounds" in done.stdout
    assert "drift from the first round to the last" in done.stdout
    assert "**PASS" in done.stdout


def test_a_side_that_cannot_import_a_workload_module_is_refused(tmp_path):
    base, new = side(tmp_path / "old"), side(tmp_path / "new")
    (base / "napping.py").unlink()
    done = ab("suite.yaml", "--base", base, "--new", new, *FAST, cwd=tmp_path)
    assert done.returncode == 2
    message = one_paragraph(done.stderr)
    assert message.startswith(f"error: base (folder {base}): the suite cannot be used")
    assert "napping" in message


def test_a_suite_missing_on_one_side_is_refused(tmp_path):
    base, new = side(tmp_path / "old"), side(tmp_path / "new")
    (new / "suite.yaml").unlink()
    done = ab("suite.yaml", "--base", base, "--new", new, *FAST, cwd=tmp_path)
    assert done.returncode == 2
    assert one_paragraph(done.stderr).startswith(f"error: new (folder {new}): the suite")
    assert "suite.yaml" in done.stderr


def test_an_interpreter_without_labench_is_refused(tmp_path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", tmp_path / "bare"], check=True)
    python = tmp_path / "bare" / "bin" / "python"
    here = side(tmp_path / "here")
    done = ab("suite.yaml", "--base", python, *FAST, cwd=here)
    assert done.returncode == 2
    message = one_paragraph(done.stderr)
    assert message.startswith(f"error: base (interpreter {python}): labench is not installed")


def test_an_interpreter_with_another_labench_is_refused(tmp_path):
    python = tmp_path / "other-python"
    python.write_text("#!/bin/sh\necho 0.0.1\n")
    python.chmod(0o755)
    here = side(tmp_path / "here")
    done = ab("suite.yaml", "--new", python, "--base", here, *FAST, cwd=here)
    assert done.returncode == 2
    message = one_paragraph(done.stderr)
    assert message.startswith(f"error: new (interpreter {python}): {python} has labench 0.0.1")


@pytest.fixture
def repository(tmp_path):
    """A repository of two commits (the second doubles the nap) and a private temporary
    folder, so a test can see every worktree labench made was removed."""
    folder = side(tmp_path / "repo")
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "one")
    (folder / "napping.py").write_text(MODULE.format(seconds=0.06))
    git(folder, "commit", "-q", "-am", "two")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    return folder, {**os.environ, "TMPDIR": str(scratch)}, scratch


def no_worktrees_left(folder: Path, scratch: Path) -> None:
    assert len(git(folder, "worktree", "list").splitlines()) == 1
    assert not [path for path in scratch.iterdir() if path.name.startswith("labench-ab-")]


def test_the_default_base_is_the_merge_base_in_a_worktree_that_is_removed(repository):
    folder, env, scratch = repository
    git(folder, "checkout", "-q", "-b", "feature", "HEAD~1")
    (folder / "napping.py").write_text(MODULE.format(seconds=0.06))  # the working tree
    saved = scratch / "results"
    done = ab("suite.yaml", "--threshold", "20%", "--results", saved, *FAST, cwd=folder, env=env)
    assert done.returncode == 1, done.stderr
    base = json.loads(next(saved.glob("napping-base-*.json")).read_text())
    merge_base = git(folder, "rev-parse", "main~1").strip()
    assert base["run"]["label"] == f"base (merge base {merge_base[:12]})"
    assert base["run"]["git_commit"] == merge_base
    no_worktrees_left(folder, scratch)


def test_a_revision_that_does_not_exist_is_refused(repository):
    folder, env, scratch = repository
    done = ab("suite.yaml", "--base", "no-such-branch", *FAST, cwd=folder, env=env)
    assert done.returncode == 2
    message = one_paragraph(done.stderr)
    assert message.startswith("error: base (no-such-branch): no such revision")
    no_worktrees_left(folder, scratch)


def test_an_error_after_the_checkout_still_removes_the_worktree(repository):
    folder, env, scratch = repository
    (folder / "suite.yaml").write_text(SUITE.replace("napping:Nap", "napping:Gone"))
    git(folder, "commit", "-q", "-am", "three")
    done = ab("suite.yaml", "--base", "HEAD", "--new", "HEAD~1", *FAST, cwd=folder, env=env)
    assert done.returncode == 2
    assert one_paragraph(done.stderr).startswith("error: base (revision HEAD): the suite cannot")
    no_worktrees_left(folder, scratch)


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_run_removes_the_worktree(repository, sent, code):
    """The workload holds its process once it has touched the marker: the signal arrives while
    a side is measuring, every time."""
    folder, env, scratch = repository
    marker = scratch / "measuring"
    process = subprocess.Popen(
        [sys.executable, "-m", "labench", "ab", "suite.yaml", "--base", "HEAD~1", *FAST],
        cwd=folder,
        env={**env, "LABENCH_TEST_MARKER": str(marker)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    deadline = time.monotonic() + 120
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), process.communicate()
    process.send_signal(sent)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert "interrupted" in stderr
    no_worktrees_left(folder, scratch)


def test_the_ci_recipe_s_workflow_passes_actionlint(tmp_path):
    """The workflow of the how-to page, as a file: valid YAML for pull requests, and clean
    under actionlint (the `dev` extra installs it on x86-64 Linux)."""
    import shutil

    import yaml

    page = Path(__file__).resolve().parent.parent / "docs" / "how-to" / "ab-in-ci.md"
    text = page.read_text()
    start = text.index("```yaml\nname: labench ab")
    block = text[start + len("```yaml\n") : text.index("```", start + 8)]
    workflow = yaml.safe_load(block)
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as True
    steps = workflow["jobs"]["ab"]["steps"]
    assert any("labench ab" in step.get("run", "") for step in steps)
    assert any("GITHUB_STEP_SUMMARY" in step.get("run", "") for step in steps)
    linter = shutil.which("actionlint")
    if linter is None:
        pytest.skip("actionlint is not installed (the dev extra has it on x86-64 Linux)")
    file = tmp_path / ".github" / "workflows" / "ab.yml"
    file.parent.mkdir(parents=True)
    file.write_text(textwrap.dedent(block))
    done = subprocess.run([linter, str(file)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_side_whose_process_dies_is_broken_with_the_cause(tmp_path):
    base, new = side(tmp_path / "old"), side(tmp_path / "new")
    module = (new / "napping.py").read_text()
    (new / "napping.py").write_text(module.replace("time.sleep(SECONDS)", "os._exit(7)"))
    done = ab(
        "suite.yaml", "--base", base, "--new", new, "--format", "json", "--results", tmp_path,
        *FAST, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    (case,) = json.loads(done.stdout)["runs"][0]["cases"]
    assert (case["verdict"], case["new_status"]) == ("broken", "error")
    saved = json.loads(next(tmp_path.glob("napping-new-*.json")).read_text())
    assert "exited with code 7" in saved["cases"][0]["reason"]


def test_a_case_past_its_timeout_is_killed_and_the_cases_after_it_go_on(tmp_path):
    """The new side's n=1 hangs in every process: each is killed at the suite's timeout, the
    case is broken with that reason, and n=2, measured after it, is compared on both sides."""
    suite = SUITE.replace("params: {n: [1]}", "params: {n: [1, 2]}\n    timeout: 2")
    base, new = side(tmp_path / "old", suite=suite), side(tmp_path / "new", suite=suite)
    module = (new / "napping.py").read_text()
    hang = 'time.sleep(600 if params["n"] == 1 else SECONDS)'
    (new / "napping.py").write_text(module.replace("time.sleep(SECONDS)", hang))
    started = time.monotonic()
    done = ab(
        "suite.yaml", "--base", base, "--new", new, "--format", "json", "--results", tmp_path,
        "--threshold", "300%", *FAST, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert time.monotonic() - started < 120, "every hung process was killed at its timeout"
    cases = {case["key"]: case for case in json.loads(done.stdout)["runs"][0]["cases"]}
    hung, after = cases["nap/n=1/float64/t1/numpy"], cases["nap/n=2/float64/t1/numpy"]
    assert (hung["verdict"], hung["new_status"]) == ("broken", "error")
    assert (after["verdict"], after["new_status"]) == ("same", "ok")
    saved = json.loads(next(tmp_path.glob("napping-new-*.json")).read_text())
    reasons = {case["key"]: case.get("reason") for case in saved["cases"]}
    assert "timed out after 2 s (process killed)" in reasons["nap/n=1/float64/t1/numpy"]


def test_the_command_that_decides_keeps_the_settings_and_doubles_the_rounds():
    from labench.commands.ab import ABOptions, decide_command

    options = ABOptions(Path("b/suite.yaml"), base="v1", threshold="3%", quick=True, rounds=4)
    assert decide_command(options, ["nap/n=1/float64/t1/numpy"]) == (
        "labench ab b/suite.yaml --base v1 -k nap/n=1/float64/t1/numpy --threshold 3% "
        "--alpha 0.01 --quick --rounds 4 --step 6 --max-rounds 24"
    )
