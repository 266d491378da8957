"""Comparison statistics against known cases, pytest-benchmark interop, and the gate's exits."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import measured_case, rescaled, write_result

from labench.core.errors import InputError
from labench.judge.compare import judge, parse_threshold, prediction_log_ratio
from labench.judge.gate_settings import CHECK_PROCESSES, CONFIRM_PROCESSES
from labench.results import model as results
from labench.results import reader
from labench.results.views import Series, load_run

RNG = np.random.default_rng(42)


def series(samples, status="ok"):
    samples = np.asarray(samples, dtype=float)
    return Series(
        status,
        float(np.median(samples)),
        samples,
        float(samples.mean()),
        float(samples.std(ddof=1)),
        len(samples),
    )


def timing_noise(size=60, scale=1e-3):
    """Right-skewed like real timings: a floor plus lognormal noise."""
    return scale * (1 + 0.05 * RNG.lognormal(size=size))


def test_identical_samples_are_the_same():
    base = series([1e-3] * 20)
    verdict = judge("k", base, base, 0.1, 0.01)
    assert verdict.verdict == "same" and verdict.ratio == 1.0 and verdict.p_value == 1.0
    assert verdict.ci95 == (1.0, 1.0)


@pytest.mark.parametrize(
    "factor, expected", [(1.3, "unsure"), (0.7, "unsure"), (1.05, "same"), (0.96, "same")]
)
def test_one_process_per_run_shows_a_move_but_never_calls_it_slower(factor, expected):
    base = timing_noise()
    verdict = judge("k", series(base), series(timing_noise() * factor), 0.1, 0.01)
    assert verdict.verdict == expected and verdict.basis == "one process"
    assert verdict.ci95[0] < verdict.ratio < verdict.ci95[1]
    assert verdict.ci95[0] <= factor * 1.05 and verdict.ci95[1] >= factor * 0.95
    assert verdict.looks_slower == (expected == "unsure" and factor > 1)


def processes(medians, seed=0):
    """A run measured in len(medians) processes, tight samples (0.5%) inside each."""
    rng = np.random.default_rng(seed)
    samples = np.concatenate([m * (1 + 0.005 * rng.standard_normal(20)) for m in medians])
    return Series(
        "ok",
        float(np.median(samples)),
        samples,
        float(samples.mean()),
        float(samples.std(ddof=1)),
        len(samples),
        np.asarray(medians, dtype=float),
    )


def lottery(rng, count, spread=0.08, level=1e-3):
    """Process medians of one kernel: log-normal placement luck of `spread` around `level`."""
    return level * np.exp(spread * rng.standard_normal(count))


def test_process_medians_hold_the_false_alarm_rate_and_catch_a_real_shift():
    """Known between-process variance (8%): honest pairs are `slower` at most about alpha of
    the time, and a 30% slowdown is caught nearly always."""
    rng = np.random.default_rng(1)
    tries = 300
    alarms = sum(
        judge("k", processes(lottery(rng, 6)), processes(lottery(rng, 6)), 0.1, 0.01).verdict
        == "slower"
        for _ in range(tries)
    )
    caught = sum(
        judge("k", processes(lottery(rng, 6)), processes(1.3 * lottery(rng, 6)), 0.1, 0.01).verdict
        == "slower"
        for _ in range(tries)
    )
    assert alarms <= 0.02 * tries
    assert caught >= 0.9 * tries


def test_a_baseline_with_processes_is_a_noise_model_for_a_one_process_run():
    """Known log-normal spread (8%) between a baseline's nine processes: honest single runs are
    `slower` at most about alpha of the time, a 1.8x slowdown nearly always (the noise model
    judges on one side of the processes' median only, so it needs more of them than a t
    interval would: with six processes it catches 1.8x about 8 times in 10)."""
    rng = np.random.default_rng(2)
    tries = 300
    verdicts = [
        judge(
            "k",
            processes(lottery(rng, 9)),
            series(lottery(rng, 1)[0] * (1 + 0.005 * rng.standard_normal(20))),
            0.1,
            0.01,
        )
        for _ in range(tries)
    ]
    assert {v.basis for v in verdicts} == {"noise model"}
    assert sum(v.verdict == "slower" for v in verdicts) <= 0.02 * tries
    caught = sum(
        judge(
            "k",
            processes(lottery(rng, 9)),
            series(1.8e-3 * (1 + 0.005 * rng.standard_normal(20))),
            0.1,
            0.01,
        ).verdict
        == "slower"
        for _ in range(tries)
    )
    assert caught >= 0.9 * tries


@pytest.mark.parametrize("single_is_new", [True, False])
def test_the_noise_model_is_calibrated_on_log_normal_draws(single_is_new):
    """All draws from one log-normal: p < 0.05 about 5% of the time, and the 95% interval of
    the ratio covers the true shift about 95% of the time, on either side."""
    rng = np.random.default_rng(7)
    tries, shift = 400, 1.25
    rejected = covered = 0
    for _ in range(tries):
        medians = np.exp(0.1 * rng.standard_normal(7))
        single = float(np.exp(0.1 * rng.standard_normal()))
        honest = prediction_log_ratio(single, medians, single_is_new)
        rejected += honest.p_value < 0.05
        moved = single * shift if single_is_new else single / shift
        low, high = prediction_log_ratio(moved, medians, single_is_new).ci95
        covered += low <= shift <= high
    assert 0.02 * tries <= rejected <= 0.09 * tries
    assert 0.91 * tries <= covered <= 0.99 * tries


def test_slow_outlier_processes_do_not_hide_a_move_but_fast_ones_do():
    """A disturbed process is slow; a lucky placement is fast. Only the side the single value
    lies on measures how far a draw can stray towards it."""
    steady = np.array([1.153, 1.149, 1.16, 1.154, 1.151, 1.157]) * 1e-3
    disturbed = prediction_log_ratio(1e-3, np.append(steady, 1.95e-3), single_is_new=False)
    assert disturbed.p_value < 0.01 and disturbed.ratio > 1.1
    lucky = prediction_log_ratio(1e-3, np.append(steady, 1.0e-3), single_is_new=False)
    assert lucky.p_value > 0.05


def test_within_process_samples_alone_never_make_a_regression():
    """The lottery moves whole runs: judged on raw samples, honest pairs would be `slower`
    (p ~ 1e-20) a third of the time; judged honestly they are at most `unsure`."""
    rng = np.random.default_rng(3)
    verdicts = [
        judge(
            "k",
            series(lottery(rng, 1)[0] * (1 + 0.005 * rng.standard_normal(30))),
            series(lottery(rng, 1, spread=0.2)[0] * (1 + 0.005 * rng.standard_normal(30))),
            0.1,
            0.01,
        )
        for _ in range(200)
    ]
    assert "slower" not in {v.verdict for v in verdicts}
    assert sum(v.verdict == "unsure" for v in verdicts) > 20  # the moves are there to see


def test_a_small_significant_shift_under_the_threshold_is_the_same():
    verdict = judge("k", series(timing_noise(500)), series(timing_noise(500) * 1.05), 0.1, 0.01)
    assert verdict.p_value < 1e-6 and verdict.verdict == "same"


def test_heavy_tailed_outliers_do_not_make_a_regression():
    noisy = timing_noise()
    noisy[:6] *= 50  # six huge outliers (10%): interrupts, a noisy neighbour
    verdict = judge("k", series(timing_noise()), series(noisy), 0.1, 0.01)
    assert verdict.verdict == "same"
    assert verdict.ratio == pytest.approx(1, abs=0.05)


def test_status_changes_are_judged():
    ok, wrong = series(timing_noise()), Series("wrong", None, None)
    assert judge("k", ok, wrong, 0.1, 0.01).verdict == "broken"
    assert judge("k", wrong, ok, 0.1, 0.01).verdict == "fixed"
    assert judge("k", Series("skipped", None, None), ok, 0.1, 0.01).verdict == "not comparable"


def test_summary_statistics_only_fall_back_to_welch_and_stay_unsure():
    base = Series("ok", 1.0, None, 1.0, 0.01, 30)
    slower = Series("ok", 1.3, None, 1.3, 0.01, 30)
    verdict = judge("k", base, slower, 0.1, 0.01)
    assert verdict.verdict == "unsure" and verdict.basis == "summary"
    assert verdict.ci95 is None and verdict.p_value < 1e-10


def test_threshold_parsing():
    assert parse_threshold("10%") == pytest.approx(0.1)
    assert parse_threshold("0.25") == 0.25
    with pytest.raises(InputError, match="expected a percentage"):
        parse_threshold("ten")


# Short warm-up: `run --baseline` confirms suspects within half of at least 2 s, and each case
# costs 6 fresh processes x what it took in the run, so both cases must fit with room to spare
# on a slow moment of a shared machine (with the default 0.05 s warm-up they did only barely).
TINY = """
labench: 1
name: tiny
defaults: {max_time: 0.02, warmup: 0.005}
benchmarks:
  - {id: mm, workload: kernels.matmul, params: {n: [16, 32]}, implementations: [numpy]}
"""


def scaled_copy(source, target, factor):
    results.save(rescaled(reader.load(source), factor), target)
    return target


@pytest.fixture
def tiny_run(cli, write_suite, tmp_path):
    path = tmp_path / "base.json"
    assert cli("run", write_suite(TINY), "-o", path, "-q").exit_code == 0
    return path


def synthetic(path, factor, processes=0, seed=0):
    """Two cases measured tight (1% noise); with `processes`, each in that many processes whose
    medians differ by a 3% placement lottery."""
    rng = np.random.default_rng(seed)
    cases = []
    for n, median in ((16, 1e-5), (32, 4e-5)):
        medians = [factor * median * np.exp(0.03 * x) for x in rng.standard_normal(processes)]
        cases.append(
            measured_case(median=factor * median, n=n, seed=seed + n, process_medians=medians)
        )
    return write_result(path, cases)


def test_plain_runs_cannot_fail_the_gate_but_say_why(cli, tmp_path):
    base = synthetic(tmp_path / "base.json", 1.0)
    slower = synthetic(tmp_path / "slower.json", 2.0, seed=1)
    again = synthetic(tmp_path / "again.json", 1.0)  # the same data in another file
    same = cli("compare", base, again, "--fail-on-regression")
    assert same.exit_code == 0 and "2 same" in same.output
    gated = cli("compare", base, slower, "--fail-on-regression")
    assert gated.exit_code == 0 and "2 unsure" in gated.output and "one process" in gated.output
    assert "cannot tell a regression from noise" in " ".join(gated.output.split())
    assert "--baseline" in gated.output and "--processes" in gated.output
    strict = cli("compare", base, slower, "--fail-on-regression", "--fail-on-unsure")
    assert strict.exit_code == 1


def test_runs_with_processes_gate_on_the_spread_between_them(cli, tmp_path):
    base = synthetic(tmp_path / "base.json", 1.0, processes=4)
    slower = synthetic(tmp_path / "slower.json", 1.3, processes=4, seed=1)
    honest = synthetic(tmp_path / "honest.json", 1.0, processes=4, seed=2)
    gated = cli("compare", base, slower, "--fail-on-regression")
    assert gated.exit_code == 1 and "2 slower" in gated.output and "processes" in gated.output
    assert cli("compare", base, slower).exit_code == 0  # reporting only, no gate
    assert cli("compare", base, honest, "--fail-on-regression").exit_code == 0


def test_a_baseline_with_processes_judges_a_plain_run_on_its_noise(cli, tmp_path):
    base = synthetic(tmp_path / "base.json", 1.0, processes=6)
    slower = synthetic(tmp_path / "slower.json", 1.3, seed=1)
    gated = cli("compare", base, slower, "--fail-on-regression")
    assert gated.exit_code == 1 and "noise model" in gated.output


FAST, SLOW = 1.0e-3, 1.6e-3
"""Two placements of one kernel, as the logistic gradient drew them on the 2-core VM."""


def test_a_move_within_the_spread_between_processes_is_unsure_not_same():
    """Processes landing in two placements: the new run lands in the slow one more often, so
    its geometric mean is 1.21x the base's, beyond the threshold, but far from significant.
    Calling that `same` would claim what the spread cannot show."""
    base = processes([FAST, SLOW, FAST, SLOW, FAST])
    new = processes([SLOW, FAST, SLOW, SLOW, SLOW], seed=1)
    verdict = judge("k", base, new, 0.1, 0.01)
    assert verdict.basis == "processes" and verdict.ratio > 1.1 and verdict.p_value > 0.05
    assert verdict.verdict == "unsure" and verdict.inconclusive and verdict.might_be_slower
    assert not verdict.looks_slower  # not a one-process suspect: confirming adds no evidence
    steady = judge("k", base, processes([FAST, SLOW, FAST, SLOW, FAST], seed=2), 0.1, 0.01)
    assert steady.verdict == "same" and not steady.inconclusive


def test_an_inconclusive_move_passes_the_gate_with_advice_unless_unsure_fails(cli, tmp_path):
    def run(path, medians):
        cases = [measured_case(median=float(np.median(medians)), process_medians=medians)]
        return write_result(path, cases)

    base = run(tmp_path / "base.json", [FAST, SLOW, FAST, SLOW, FAST])
    new = run(tmp_path / "new.json", [SLOW, FAST, SLOW, SLOW, SLOW])
    gated = cli("compare", base, new, "--fail-on-regression")
    assert gated.exit_code == 0 and "1 unsure" in gated.output
    assert "spread too widely" in " ".join(gated.output.split())
    document = json.loads(cli("compare", base, new, "--format", "json").output)
    assert document["runs"][0]["cases"][0]["doubt"] == "spread"
    assert cli("compare", base, new, "--fail-on-regression", "--fail-on-unsure").exit_code == 1


@pytest.fixture
def processes_run(tmp_path):
    return synthetic(tmp_path / "p3.json", 1.0, processes=3)


def test_markdown_and_json_formats(cli, processes_run, tmp_path):
    slower = scaled_copy(processes_run, tmp_path / "slower.json", 2.0)
    markdown = cli("compare", processes_run, slower, "--format", "markdown").output
    assert "| case | p3.json | slower.json | ratio [95% CI] | p | based on | verdict |" in markdown
    assert "**slower**" in markdown and "`b/n=16/float64/t1/numpy`" in markdown
    document = json.loads(cli("compare", processes_run, slower, "--format", "json").output)
    assert document["regressions"] == [case.key for case in reader.load(processes_run).cases]
    assert document["runs"][0]["cases"][0]["ratio"] == pytest.approx(2.0)
    assert document["runs"][0]["cases"][0]["basis"] == "processes"


def test_more_than_two_runs_give_one_column_per_run(cli, tiny_run, tmp_path):
    faster = scaled_copy(tiny_run, tmp_path / "faster.json", 0.5)
    slower = scaled_copy(tiny_run, tmp_path / "slower.json", 2.0)
    output = cli("compare", tiny_run, faster, slower).output
    assert "faster.json / base.json" in output and "slower.json / base.json" in output
    assert "0.500" in output and "2.000" in output


def test_unusable_inputs_are_exit_2(cli, tiny_run, tmp_path, write_suite):
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"schema": "other/1"}')
    assert cli("compare", tiny_run, foreign).exit_code == 2
    unrelated = tmp_path / "unrelated.json"
    cli("run", write_suite(TINY.replace("mm", "other"), "u.yaml"), "-o", unrelated, "-q")
    result = cli("compare", tiny_run, unrelated)
    assert result.exit_code == 2 and "no case in common" in result.output
    assert cli("compare", tiny_run).exit_code == 2
    assert cli("compare", tiny_run, tiny_run, "--format", "xml").exit_code == 2
    assert cli("compare", tiny_run, tmp_path / "missing.json").exit_code == 2


def test_run_with_baseline_gates_in_one_step(cli, write_suite, tiny_run, tmp_path):
    faster_base = scaled_copy(tiny_run, tmp_path / "fast-base.json", 0.1)
    result = cli(
        "run",
        write_suite(TINY, "again.yaml"),
        "-o",
        tmp_path / "new.json",
        "-q",
        "--baseline",
        faster_base,
    )
    new = reader.load(tmp_path / "new.json")
    # both cases looked slower in one process and were re-measured in fresh ones
    assert sorted(new.run.confirmed) == sorted(case.key for case in new.cases)
    assert "noise model" in result.output
    if all(case.flags for case in new.cases):
        # a machine busy enough to flag every measurement: the gate says it cannot tell
        assert result.exit_code == 3 and "UNDECIDED" in result.output, result.output
    else:
        # a 3x slowdown stands out of the spread between processes, and what was found
        # slower was measured in more processes again before the gate failed on it
        assert result.exit_code == 1 and "REGRESSION: " in result.output, result.output
        looks = 1 + CONFIRM_PROCESSES + CHECK_PROCESSES
        assert max(len(c.timing.process_medians) for c in new.cases) == looks
    broken = cli("run", write_suite(TINY, "b.yaml"), "-q", "--baseline", tmp_path / "nope.json")
    assert broken.exit_code == 2


def test_an_unexamined_suspect_ends_the_run_undecided(cli, write_suite, tiny_run, tmp_path):
    """With confirmation off (or capped), cases that look slower in one process are undecided:
    the run exits 3, names them and fills in the command that decides them; a user who accepts
    that opts in with --allow-undecided."""
    faster_base = scaled_copy(tiny_run, tmp_path / "fast-base.json", 0.1)
    suite = write_suite(TINY, "again.yaml")
    gated = ["run", suite, "-q", "--baseline", faster_base, "--confirm-processes", "0"]
    undecided = cli(*gated, "-o", tmp_path / "a.json")
    assert undecided.exit_code == 3, undecided.output
    last = " ".join(undecided.output.split()).rpartition("UNDECIDED: ")[2]
    assert last.startswith("2 of 2 cases moved the slow way beyond 10%")
    keys = [case.key for case in reader.load(tmp_path / "a.json").cases]
    assert all(key in last for key in keys)
    command = f"labench run {suite} --baseline {faster_base} -k {keys[0]} -k {keys[1]}"
    assert f"To decide them: {command} --confirm-processes 12" in last
    allowed = cli(*gated, "-o", tmp_path / "b.json", "--allow-undecided")
    assert allowed.exit_code == 0 and "UNDECIDED: 2 of 2" in " ".join(allowed.output.split())


def test_a_gated_run_that_is_not_slower_passes_and_says_so(cli, write_suite, tiny_run, tmp_path):
    slower_base = scaled_copy(tiny_run, tmp_path / "slow-base.json", 10.0)
    gated = cli("run", write_suite(TINY, "again.yaml"), "-q", "--baseline", slower_base)
    assert gated.exit_code == 0, gated.output
    assert "PASS: none of 2 cases is slower than slow-base.json beyond 10%" in gated.output


def test_export_to_pytest_benchmark_round_trips(cli, tiny_run, tmp_path):
    exported = tmp_path / "pb.json"
    assert cli("export", tiny_run, "-o", exported).exit_code == 0
    assert cli("export", tiny_run, "-o", exported).exit_code == 2  # never overwrites
    document = json.loads(exported.read_text())
    assert {"machine_info", "commit_info", "benchmarks", "datetime", "version"} <= set(document)
    original, loaded = load_run(tiny_run), load_run(exported)
    for key, series_ in original.cases.items():
        assert loaded.cases[key].median == series_.median
        assert (loaded.cases[key].samples == series_.samples).all()


@pytest.mark.parametrize("save_data", [True, False])
def test_reads_real_pytest_benchmark_files(tmp_path, cli, save_data):
    pytest.importorskip("pytest_benchmark")
    (tmp_path / "test_bench.py").write_text(
        "def test_sum(benchmark):\n    benchmark(sum, range(2000))\n"
    )
    # Under pytest-xdist the inner pytest would inherit the worker's variables, and
    # pytest-benchmark disables itself inside an xdist worker: it would write no file.
    outside_xdist = {
        name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")
    }
    files = []
    for name in ("a.json", "b.json"):
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_bench.py",
            f"--benchmark-json={name}",
            "--benchmark-max-time=0.05",
        ]
        subprocess.run(
            command + (["--benchmark-save-data"] if save_data else []),
            cwd=tmp_path,
            check=True,
            capture_output=True,
            env=outside_xdist,
        )
        document = json.loads((tmp_path / name).read_text())
        if not save_data:
            for benchmark in document["benchmarks"]:
                benchmark["stats"].pop("data", None)
            (tmp_path / name).write_text(json.dumps(document))
        files.append(tmp_path / name)
    run = load_run(files[0])
    assert list(run.cases) == ["test_bench.py::test_sum"]
    assert (run.cases["test_bench.py::test_sum"].samples is not None) == save_data
    result = cli("compare", *files, "--format", "json")
    assert result.exit_code == 0
    verdict = json.loads(result.output)["runs"][0]["cases"][0]
    assert verdict["ratio"] > 0 and (verdict["ci95"] is not None) == save_data


def test_damaged_pytest_benchmark_file_is_exit_2(cli, tmp_path, tiny_run):
    damaged = tmp_path / "pb.json"
    damaged.write_text('{"machine_info": {}, "benchmarks": [{"name": "x", "stats": {}}]}')
    result = cli("compare", damaged, tiny_run)
    assert result.exit_code == 2 and "damaged pytest-benchmark file" in result.output


def test_a_flagged_measurement_never_fails_the_gate():
    """Measured under contention (or too noisily), a real-looking 30% shift is only `unsure`."""
    rng = np.random.default_rng(4)
    base = processes(lottery(rng, 6, spread=0.01))
    slower = processes(1.3 * lottery(rng, 6, spread=0.01))
    assert judge("k", base, slower, 0.1, 0.01).verdict == "slower"
    busy = dataclasses.replace(slower, flags=("contended",))
    verdict = judge("k", base, busy, 0.1, 0.01)
    assert verdict.verdict == "unsure" and verdict.p_value < 0.01


def test_the_summary_says_why_each_unsure_case_is_unsure(cli, tmp_path):
    base = synthetic(tmp_path / "base.json", 1.0, processes=4)
    document = json.loads(synthetic(tmp_path / "busy.json", 1.3, processes=4, seed=1).read_text())
    for case in document["cases"]:
        case["flags"] = ["contended"]
    busy = tmp_path / "busy.json"
    busy.write_text(json.dumps(document))
    output = " ".join(cli("compare", base, busy, "--fail-on-regression").output.split())
    assert "2 unsure" in output and "other processes took their cores" in output
    assert "each side was measured in one process" not in output
