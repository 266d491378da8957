import dataclasses

import numpy as np
import pytest
from conftest import measured_case

from labench.judge.compare import judge
from labench.results import reader
from labench.results.merge import merge_processes
from labench.results.views import Series


def measured(median, status="ok", seed=0):
    metrics = {"flops": 2e6, "bytes": 8e6, "gflops": 0.0, "error_rel": 1e-16}
    return measured_case(
        median=median, status=status, metrics=metrics, spread=0.005, size=20, seed=seed
    )


def test_processes_are_pooled_and_each_median_is_kept():
    runs = [measured(1e-3, seed=1), measured(1.3e-3, seed=2), measured(1.1e-3, seed=3)]
    merged = merge_processes(runs)
    assert merged.status == "ok"
    assert len(merged.timing.samples) == 60
    assert merged.timing.process_medians == [run.timing.median for run in runs]
    assert merged.timing.median == pytest.approx(np.median(merged.timing.samples))
    assert merged.timing.first_call == pytest.approx(1.1e-2, rel=0.01)
    assert merged.metrics["gflops"] == pytest.approx(2e6 / merged.timing.median / 1e9)
    assert merged.metrics["error_rel"] == 1e-16


def test_one_failed_process_fails_the_case():
    merged = merge_processes([measured(1e-3), measured(1e-3, status="error"), measured(1e-3)])
    assert merged.status == "error"
    assert merged.reason == "in process 2 of 3: kernel exploded"


def series(process_medians, seed):
    """Samples tight inside each process (0.5%), processes far apart: the shared-machine case."""
    rng = np.random.default_rng(seed)
    samples = np.concatenate([m * (1 + 0.005 * rng.standard_normal(30)) for m in process_medians])
    return Series(
        status="ok",
        median=float(np.median(samples)),
        samples=samples,
        count=len(samples),
        process_medians=np.asarray(process_medians, dtype=float),
    )


def test_between_process_noise_is_not_a_regression_but_a_real_shift_is():
    # Two placements, fast (~1.0) and slow (~1.3): the runs drew them in other proportions.
    base = series([1.00, 1.00, 1.02, 1.30, 1.28, 1.05], seed=1)
    honest = series([1.30, 1.28, 1.31, 1.02, 1.29, 1.00], seed=2)
    assert judge("k", base, honest, 0.10, 0.01).verdict == "same"
    one_process_view = dataclasses.replace(base, process_medians=None)
    pooled = judge(
        "k", one_process_view, dataclasses.replace(honest, process_medians=None), 0.10, 0.01
    )
    # pooled samples alone would call this placement shift significant; it is only `unsure`
    assert pooled.p_value < 1e-6 and pooled.verdict == "unsure"
    slowed = series([1.45, 1.50, 1.47, 1.52, 1.46, 1.49], seed=3)
    verdict = judge("k", base, slowed, 0.10, 0.01)
    assert verdict.verdict == "slower" and verdict.p_value < 0.01
    assert verdict.ci95[0] > 1.0


def test_run_in_several_processes(cli, write_suite, tmp_path):
    suite = write_suite(
        """
        labench: 1
        name: processes
        defaults: {max_time: 0.06, warmup: 0.0, min_samples: 3}
        benchmarks:
          - id: d
            workload: faulty_workloads:Doubling
            params: {n: 64}
            implementations: [honest, crashing]
        """
    )
    result = cli("run", suite, "-o", tmp_path / "r.json", "-q", "--processes", "3")
    assert result.exit_code == 1  # the crashing kernel
    run = reader.load(tmp_path / "r.json")
    assert run.run.processes == 3
    honest, crashing = run.cases
    assert honest.status == "ok" and len(honest.timing.process_medians) == 3
    assert len(honest.timing.samples) >= 9
    assert crashing.status == "error" and crashing.reason.startswith("in process 1 of 3: ")
    (tmp_path / "twin.json").write_bytes((tmp_path / "r.json").read_bytes())
    compared = cli("compare", tmp_path / "r.json", tmp_path / "twin.json")
    assert compared.exit_code == 0 and "same" in compared.output


def test_the_smallest_inner_loop_count_of_the_processes_is_kept():
    runs = [measured(1e-3, seed=seed) for seed in (1, 2, 3)]
    runs = [
        run.model_copy(update={"timing": run.timing.model_copy(update={"inner_loops": loops})})
        for run, loops in zip(runs, (4, 2, 8), strict=True)
    ]
    assert merge_processes(runs).timing.inner_loops == 2


def test_a_merged_case_carries_the_flags_of_most_of_its_processes():
    """One disturbed process in seven does not flag the case (the noise model discounts it);
    a neighbour that disturbed most of them does; and the spread between processes, which
    the statistics see, is no flag of its own."""
    steady = [measured_case(median=m, seed=i) for i, m in enumerate([1e-3, 1.01e-3, 0.99e-3])]
    disturbed = measured_case(median=1.9e-3, seed=9).model_copy(update={"flags": ["noisy"]})
    six = merge_processes([*steady, *steady])
    assert merge_processes([disturbed, six]).flags == []
    busy = [case.model_copy(update={"flags": ["contended"]}) for case in steady[:2]]
    assert merge_processes([*busy, steady[2]]).flags == ["contended"]
    apart = merge_processes([measured_case(median=1e-3, seed=1), measured_case(median=2e-3)])
    assert apart.flags == [] and apart.timing.process_medians == pytest.approx([1e-3, 2e-3], 0.05)
