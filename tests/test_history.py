"""labench history: runs of one machine in order, each case's series, steps, --fail-on-step."""

import shutil

import numpy as np
import pytest
from conftest import git, measured_case, rescaled, synthetic_result

from labench.judge.history import build, load_all
from labench.results import model as results
from labench.results import reader


def base_run(machine="m1"):
    cases = [measured_case(implementation, 1e-3) for implementation in ("numpy", "numba")]
    return synthetic_result(cases, machine=machine)


def write_history(folder, factors, machine="m1", **run_fields):
    """One result file per factor: the base run scaled by it, an hour apart, labelled r01..."""
    folder.mkdir(exist_ok=True)
    base = base_run(machine)
    for index, factor in enumerate(factors):
        fields = {
            "id": f"{machine}-{index:02d}",
            "label": f"r{index + 1:02d}",
            "started": f"2026-01-01T{index:02d}:00:00+00:00",
        } | {name: values[index] for name, values in run_fields.items()}
        results.save(rescaled(base, factor, **fields), folder / f"{machine}-{index:02d}.json")
    return folder


def noisy(count, seed=0):
    """Run-to-run factors with 3% noise."""
    return list(np.exp(0.03 * np.random.default_rng(seed).standard_normal(count)))


def jittered(count):
    """Run-to-run factors within +-2%, deterministic: the known answer of a test stays known."""
    return list(1 + 0.02 * np.sin(np.arange(count) * 2.0))


def test_a_step_is_reported_at_its_run_with_the_ratio_and_its_ci(cli, tmp_path):
    factors = jittered(16)
    factors[8:] = [1.3 * factor for factor in factors[8:]]
    folder = write_history(tmp_path / "results", factors)
    shown = cli("history", folder)
    assert shown.exit_code == 0, shown.output
    history = build(load_all([folder]))
    assert history.ordered_by == "time" and len(history.runs) == 16
    for case in history.cases:
        ((step, point),) = case.step_points()
        assert history.run_name(point.run) == "r09"
        assert step.ci95[0] < 1.3 < step.ci95[1]
    assert "b/n=1/float64/t1/numpy" in shown.output and "r09" in shown.output
    assert "2 cases: 2 changed level, 0 unchanged; 2 steps (2 slower, 0 faster)" in shown.output


def test_fail_on_step_exits_1_only_when_the_newest_run_starts_a_slower_step(cli, tmp_path):
    flat = noisy(12, seed=1)
    gated = write_history(tmp_path / "gated", [*flat, 2.0])
    assert cli("history", gated, "--fail-on-step").exit_code == 1
    assert cli("history", gated).exit_code == 0
    assert cli("history", write_history(tmp_path / "flat", flat), "--fail-on-step").exit_code == 0
    faster = write_history(tmp_path / "faster", [*flat, 0.5])
    assert cli("history", faster, "--fail-on-step").exit_code == 0
    old = write_history(tmp_path / "old", [*flat, 2.0, 2.0, 2.0])
    assert cli("history", old, "--fail-on-step").exit_code == 0


def test_a_small_slowdown_is_gated_by_the_run_that_confirms_it(cli, tmp_path):
    flat = noisy(16, seed=2)
    first = write_history(tmp_path / "first", [*flat, 1.2])
    assert cli("history", first, "--fail-on-step").exit_code == 0
    gates = [
        cli(
            "history",
            write_history(tmp_path / f"n{extra}", [*flat, *[1.2] * extra]),
            "--fail-on-step",
        ).exit_code
        for extra in (2, 3, 4, 5)
    ]
    assert gates.count(1) == 1, gates


def test_per_process_spread_is_the_noise_model_when_runs_carry_it(tmp_path):
    factors = noisy(14, seed=3)
    factors[6:8] = [1.3, 1.3]
    write_history(tmp_path / "plain", factors)
    assert len(build(load_all([tmp_path / "plain"])).cases[0].fit.steps) == 2
    folder = write_history(tmp_path / "processes", factors)
    for path in folder.glob("*.json"):
        result = reader.load(path)
        for case in result.cases:
            spread = 0.6 if result.run.label in ("r07", "r08") else 0.02
            medians = case.timing.median * np.exp(spread * np.linspace(-1, 1, 6))
            case.timing = case.timing.model_copy(update={"process_medians": list(medians)})
        results.save(result, path)
    assert build(load_all([folder])).cases[0].fit.steps == []


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_runs_follow_commit_order_when_git_knows_every_commit(tmp_path):
    repository = tmp_path / "repo"
    repository.mkdir()
    git(repository, "init", "-q")
    commits = []
    for number in range(4):
        git(repository, "commit", "-q", "--allow-empty", "-m", str(number))
        commits.append(git(repository, "rev-parse", "HEAD"))
    # Benchmarked out of order: the newest commit first.
    shuffled = [commits[3], commits[0], commits[2], commits[1]]
    folder = write_history(tmp_path / "results", [1.0] * 4, git_commit=shuffled)
    history = build(load_all([folder]), repository=repository)
    assert history.ordered_by == "commit"
    assert [run.git_commit for run in history.runs] == commits
    assert build(load_all([folder]), repository=tmp_path).ordered_by == "time"


def test_several_machines_need_a_choice(cli, tmp_path):
    folder = write_history(tmp_path / "results", [1.0] * 3, machine="alpha")
    write_history(folder, [1.0] * 4, machine="beta")
    mixed = cli("history", folder)
    assert mixed.exit_code == 2
    assert (
        "2 machines: beta (4 runs), alpha (3 runs)" in mixed.output and "--machine" in mixed.output
    )
    chosen = cli("history", folder, "--machine", "alpha")
    assert chosen.exit_code == 0 and "3 runs of machine alpha" in chosen.output
    assert cli("history", folder, "--machine", "gamma").exit_code == 2


def test_unusable_inputs_are_exit_2(cli, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no result files" in cli("history", empty).output
    damaged = tmp_path / "damaged.json"
    damaged.write_text("{")
    assert cli("history", damaged).exit_code == 2
    folder = write_history(tmp_path / "results", [1.0] * 3)
    unmatched = cli("history", folder, "--filter", "nothing*")
    assert unmatched.exit_code == 2 and "no measured case" in unmatched.output
    bad = cli("history", folder, "--threshold", "lots")
    assert bad.exit_code == 2 and "--threshold" in bad.output
