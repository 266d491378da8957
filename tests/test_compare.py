"""Comparison statistics against known cases, pytest-benchmark interop, and the gate's exits."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import rescaled

from labench import results
from labench.compare import judge, parse_threshold
from labench.errors import InputError
from labench.interop import Series, load_run

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
    "factor, expected", [(1.3, "slower"), (0.7, "faster"), (1.05, "same"), (0.96, "same")]
)
def test_shifted_distributions(factor, expected):
    base = timing_noise()
    verdict = judge("k", series(base), series(timing_noise() * factor), 0.1, 0.01)
    assert verdict.verdict == expected
    assert verdict.ci95[0] < verdict.ratio < verdict.ci95[1]
    assert verdict.ci95[0] <= factor * 1.05 and verdict.ci95[1] >= factor * 0.95


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


def test_summary_statistics_only_fall_back_to_welch():
    base = Series("ok", 1.0, None, 1.0, 0.01, 30)
    slower = Series("ok", 1.3, None, 1.3, 0.01, 30)
    verdict = judge("k", base, slower, 0.1, 0.01)
    assert verdict.verdict == "slower" and verdict.ci95 is None and verdict.p_value < 1e-10


def test_threshold_parsing():
    assert parse_threshold("10%") == pytest.approx(0.1)
    assert parse_threshold("0.25") == 0.25
    with pytest.raises(InputError, match="expected a percentage"):
        parse_threshold("ten")


TINY = """
labench: 1
name: tiny
defaults: {max_time: 0.02}
benchmarks:
  - {id: mm, workload: kernels.matmul, params: {n: [16, 32]}, implementations: [numpy]}
"""


def scaled_copy(source, target, factor):
    results.save(rescaled(results.load(source), factor), target)
    return target


@pytest.fixture
def tiny_run(cli, write_suite, tmp_path):
    path = tmp_path / "base.json"
    assert cli("run", write_suite(TINY), "-o", path, "-q").exit_code == 0
    return path


def test_gate_exits_1_on_a_slowdown_and_0_otherwise(cli, tiny_run, tmp_path):
    slower = scaled_copy(tiny_run, tmp_path / "slower.json", 2.0)
    same = cli("compare", tiny_run, tiny_run, "--fail-on-regression")
    assert same.exit_code == 0 and "2 same" in same.output
    gated = cli("compare", tiny_run, slower, "--fail-on-regression")
    assert gated.exit_code == 1 and "2 slower" in gated.output
    assert cli("compare", tiny_run, slower).exit_code == 0  # reporting only, no gate


def test_markdown_and_json_formats(cli, tiny_run, tmp_path):
    slower = scaled_copy(tiny_run, tmp_path / "slower.json", 2.0)
    markdown = cli("compare", tiny_run, slower, "--format", "markdown").output
    assert "| case | base.json | slower.json | ratio [95% CI] | p | verdict |" in markdown
    assert "**slower**" in markdown and "`mm/n=16,transfers=False/float64/t1/numpy`" in markdown
    document = json.loads(cli("compare", tiny_run, slower, "--format", "json").output)
    assert document["regressions"] == [case.key for case in results.load(tiny_run).cases]
    assert document["runs"][0]["cases"][0]["ratio"] == pytest.approx(2.0)


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
    faster_base = scaled_copy(tiny_run, tmp_path / "fast-base.json", 0.3)
    result = cli(
        "run",
        write_suite(TINY, "again.yaml"),
        "-o",
        tmp_path / "new.json",
        "-q",
        "--baseline",
        faster_base,
    )
    assert result.exit_code == 1 and "slower" in result.output
    broken = cli("run", write_suite(TINY, "b.yaml"), "-q", "--baseline", tmp_path / "nope.json")
    assert broken.exit_code == 2


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
    assert result.exit_code == 2 and "damaged pytest-benchmark entry" in result.output
