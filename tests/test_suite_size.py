"""Suite sizes: case counts taken without expanding must equal the expansion, and the time
budget printed by validate and run is the sum it claims to be."""

import pytest
from conftest import ROOT

from labench.core.host import usable_cores
from labench.suite.load import load_suite
from labench.suite.size import count_cases, human_duration, worst_case_seconds

SHIPPED = [*sorted((ROOT / "suites").glob("*.yaml")), ROOT / "examples" / "axpy.yaml"]

MIXED = """
labench: 1
name: mixed
defaults: {threads: [1, max, 2, 1], dtype: [float64, float32]}
benchmarks:
  - {id: mm, workload: kernels.matmul, params: {n: [8, 16, 32], transfers: [true, false]}}
  - {id: mv, workload: kernels.matvec, params: {n: 8}, dtype: float32, threads: 1,
     implementations: [numpy, numba], cache: [warm, cold], math: [ieee, tf32]}
  - {id: lr, workload: lowrank.matvec, params: {n: 40, rank: [2, 4]}}
"""


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_counting_equals_expanding_for_every_shipped_suite(path):
    suite = load_suite(path)
    expanded = suite.cases()
    for benchmark in suite.model.benchmarks:
        counted = count_cases(benchmark, suite.workloads[benchmark.id], suite.model).total
        assert counted == sum(case.benchmark == benchmark.id for case in expanded)


def test_counting_follows_overrides_and_merges_thread_counts_that_coincide(write_suite):
    suite = load_suite(write_suite(MIXED))
    counts = {
        b.id: count_cases(b, suite.workloads[b.id], suite.model) for b in suite.model.benchmarks
    }
    threads = len({1, 2, usable_cores()})
    assert counts["mm"].total == 3 * 2 * 2 * threads * 4
    assert counts["mv"].total == 2 * 2 * 2
    assert counts["lr"].total == 2 * 2 * threads * 6  # dense, svd, rsvd on the CPU and the GPU
    assert sum(count.total for count in counts.values()) == len(suite.cases())
    assert str(counts["mv"]) == "2 math modes x 2 cache modes x 2 implementations"


@pytest.mark.parametrize(
    "seconds, words",
    [
        (0, "0 s"),
        (0.2, "under 1 s"),
        (45, "~45 s"),
        (59.6, "~1 min"),
        (200, "~3 min 20 s"),
        (7200, "~2 h"),
        (7500, "~2 h 5 min"),
        (3 * 86_400 + 4 * 3_600 + 59, "~3 d 4 h"),
        (1e300, "over a century"),
    ],
)
def test_durations_read_as_a_person_would_say_them(seconds, words):
    assert human_duration(seconds) == words


def test_worst_case_adds_warmup_and_sampling_and_a_device_case_host_latency(write_suite):
    suite = load_suite(
        write_suite(
            """
            labench: 1
            name: budget
            defaults: {max_time: 0.5, warmup: 0.1}
            benchmarks:
              - {id: mm, workload: kernels.matmul, params: {n: [8, 16]},
                 implementations: [numpy, cupy]}
            """
        )
    )
    # numpy: 2 x (0.1 + 0.5); cupy also samples host latency: 2 x (0.6 + 0.1 + 0.5 / 4)
    assert worst_case_seconds(suite.cases()) == pytest.approx(2 * 0.6 + 2 * 0.825)


def test_validate_prints_cases_and_worst_case_in_one_line(cli, write_suite):
    path = write_suite(
        """
        labench: 1
        name: v
        defaults: {max_time: 2, warmup: 0.5, dtype: [float64, float32]}
        benchmarks:
          - {id: mm, workload: kernels.matmul, params: {n: [8, 16]}, implementations: [numpy]}
        """
    )
    result = cli("validate", path)
    assert result.exit_code == 0
    assert result.output == (
        f"{path}: ok, 1 benchmarks, 4 cases, 0 claims; "
        "worst case ~10 s of warm-up and sampling, plus setup and first calls\n"
    )


@pytest.mark.parametrize(
    "options, budget",
    [
        (["--retry-noisy", "0"], "worst case under 1 s of warm-up and sampling,"),
        (["-q"], "worst case ~1 s of warm-up and sampling with noisy cases retried once,"),
        (
            ["-q", "--retry-noisy", "2"],
            "worst case ~2 s of warm-up and sampling with noisy cases retried up to 2 times,",
        ),
    ],
    ids=["tables, no retries", "quiet, default retries", "two retries"],
)
def test_run_starts_with_the_budget_of_the_cases_it_will_run(
    cli, write_suite, tmp_path, options, budget
):
    path = write_suite(
        """
        labench: 1
        name: r
        defaults: {max_time: 600, warmup: 0.2}
        benchmarks:
          - {id: mm, workload: kernels.matmul, params: {n: [8, 16]}, implementations: [numpy]}
        """
    )
    out = tmp_path / "r.json"
    # one case of the two, at 0.3 s of sampling instead of 600: 0.5 s per measurement
    result = cli("run", path, "-o", out, "--filter", "mm/n=8*", "--max-time", "0.3", *options)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    expected = f"r: 1 cases to run; {budget} plus setup and first calls"
    assert expected in lines
    assert lines.index(expected) < next(i for i, line in enumerate(lines) if "saved" in line)
