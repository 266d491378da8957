"""A busy machine is found, recorded and marked; unsteady figures are never quoted bare."""

import multiprocessing
import os
import time

import pytest
from conftest import measured_case

from labench.core import host
from labench.core.progress import Observer
from labench.execution.session import run_suite, steadier
from labench.judge.claims import evaluate
from labench.measure import contention
from labench.measure.contention import CpuTimes, between
from labench.results import model as results
from labench.results import reader
from labench.results.model import Environment, Result, RunInfo, SuiteInfo
from labench.suite.model import Claim


def test_other_processes_cpu_time_is_what_this_process_did_not_use():
    before = CpuTimes(wall=0.0, busy=10.0, steal=1.0, own=3.0)
    after = CpuTimes(wall=2.0, busy=13.5, steal=1.2, own=4.0)  # 3.5 s busy, 1 s of it ours
    found = between(before, after, cores=2)
    assert found.others_cores == pytest.approx(1.25)
    assert found.steal == pytest.approx(0.05)
    assert found.contended(threads=2, cores=2)  # needs both cores; others took 1.25
    assert not found.contended(threads=1, cores=4)  # three cores to spare
    assert found.contended(threads=1, cores=2)  # one other busy core shares cache and memory
    quiet = between(before, CpuTimes(wall=2.0, busy=11.1, steal=1.0, own=4.0), cores=2)
    assert quiet.others_cores == pytest.approx(0.05) and not quiet.contended(2, 2)
    assert between(None, after, 2) is None


def _spin(stop):
    while not stop.is_set():
        pass


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux /proc/stat")
def test_a_machine_made_busy_on_purpose_is_detected_and_its_cases_marked(
    cli, write_suite, tmp_path
):
    cpus = host.allowed_cpus()
    stop = multiprocessing.Event()
    hogs = [multiprocessing.Process(target=_spin, args=(stop,), daemon=True) for _ in cpus]
    for hog in hogs:
        hog.start()
        os.sched_setaffinity(hog.pid, cpus)  # on exactly the cores labench measures on
    try:
        suite = write_suite(
            "labench: 1\nname: busy\ndefaults: {max_time: 0.3, warmup: 0.0, threads: [max]}\n"
            "benchmarks:\n  - {id: b, workload: kernels.matvec, params: {n: 256},"
            " implementations: [numpy]}\n"
        )
        result = cli("run", suite, "-o", tmp_path / "r.json", "--retry-noisy", "0")
    finally:
        stop.set()
        for hog in hogs:
            hog.join()
    assert result.exit_code == 0, result.output
    assert "busy machine" in result.output
    [case] = reader.load(tmp_path / "r.json").cases
    # an all-core case leaves the hogs only what it does not take itself (0.4-0.9 cores seen
    # here): beyond the allowance is what the flag means
    assert "contended" in case.flags
    assert case.metrics["others_cores"] > contention.SPARE_CORES_SLACK
    saved = reader.load(tmp_path / "r.json")
    assert saved.run.load is not None and saved.run.load.others_cores > 0.5
    assert "contended" in result.output and "1 case(s) flagged" in result.output


def test_a_claim_on_noisy_timings_is_unmeasured_but_a_count_is_still_judged():
    fast = measured_case("fast", 1.0)
    slow = measured_case("slow", 3.0).model_copy(update={"flags": ["noisy"]})
    speedup = Claim.model_validate(
        {
            "id": "c",
            "text": "t",
            "benchmark": "b",
            "speedup": {"of": "fast", "over": "slow"},
            "at_least": 2.0,
        }
    )
    verdict = evaluate(speedup, [fast, slow])
    assert verdict.status == "unmeasured" and "noisy" in verdict.reason
    fast = fast.model_copy(update={"metrics": {"params": 10.0}})
    slow = slow.model_copy(update={"metrics": {"params": 100.0}})
    counted = Claim.model_validate(
        {
            "id": "c",
            "text": "t",
            "benchmark": "b",
            "ratio": {"metric": "params", "of": "fast", "over": "slow"},
            "at_most": 0.2,
        }
    )
    assert evaluate(counted, [fast, slow]).status == "held"  # parameters are not timings


def test_the_steadier_of_two_measurements_is_kept():
    noisy = measured_case(spread=0.3, size=8).model_copy(update={"flags": ["noisy"]})
    steady = measured_case(spread=0.005, size=30, seed=2)
    assert steadier(noisy, steady) is steady
    assert steadier(steady, noisy) is steady
    failed = measured_case(status="error")
    assert steadier(noisy, failed) is noisy


def test_noisy_cases_are_measured_again_at_the_end(tmp_path, write_suite, monkeypatch):
    from labench.suite.load import load_suite

    suite = load_suite(
        write_suite(
            "labench: 1\nname: r\nbenchmarks:\n  - {id: b, workload: kernels.matvec, "
            "params: {n: [8, 16]}, implementations: [numpy]}\n"
        )
    )
    cases = suite.cases()
    asked = []

    def execute(todo, observer):
        asked.append([case.key for case in todo])
        for index, case in enumerate(todo):
            first_time = len(asked) == 1
            flags = ["noisy"] if first_time and index == 0 else []
            yield measured_case(seed=len(asked), spread=0.2 if flags else 0.01).model_copy(
                update={"key": case.key, "flags": flags}
            )

    result = Result(
        suite=SuiteInfo(name="r", path="r.yaml", sha256="0" * 64, baselines={}),
        run=RunInfo(id="x", started="now", labench_version="0", command=[]),
        environment=Environment(machine_id="m"),
    )
    writes = []
    save = results.save
    monkeypatch.setattr(results, "save", lambda *args: (writes.append(1), save(*args)))
    run_suite(cases, result, tmp_path / "r.json", Observer(), execute, retry_noisy=2)
    assert asked == [[c.key for c in cases], [cases[0].key]]  # once more, then steady
    assert len(writes) == 2  # retries rewrite nothing: the file is written at start and end
    assert [case.flags for case in reader.load(tmp_path / "r.json").cases] == [[], []]


def test_too_few_samples_for_a_ci_are_judged_by_their_range():
    """A slow case can end with 5 samples (no 95% interval of the median yet): their range,
    a 94% interval, decides, so steady slow cases are not called noisy."""
    from labench.measure.case import noise_flags

    steady = measured_case(median=0.5, spread=0.004, size=5)
    assert steady.timing.ci95 is None and noise_flags(steady.timing) == []
    scattered = measured_case(median=0.5, spread=0.2, size=5, seed=3)
    assert scattered.timing.ci95 is None and noise_flags(scattered.timing) == ["noisy"]
    wide = measured_case(median=1e-3, spread=0.3, size=12, seed=5)
    assert noise_flags(wide.timing) == ["noisy"]
    assert noise_flags(measured_case(spread=0.01, size=40).timing) == []


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux /proc/stat")
def test_processes_that_work_for_the_case_are_not_neighbours():
    """A LocalCluster's workers compute a dask case in processes of their own: named as
    helpers, their CPU time is the case's, so a busy helper is no contention."""
    cpus = host.allowed_cpus()
    stop = multiprocessing.Event()
    helper = multiprocessing.Process(target=_spin, args=(stop,), daemon=True)
    helper.start()
    try:
        os.sched_setaffinity(helper.pid, cpus)
        assert host.parent_pid(helper.pid) == os.getpid()
        spun, started = host.process_seconds(helper.pid), time.perf_counter()
        plain, helped = contention.snapshot(cpus), contention.snapshot(cpus, [helper.pid])
        time.sleep(0.5)
        as_neighbour = contention.between(plain, contention.snapshot(cpus), len(cpus))
        as_helper = contention.between(helped, contention.snapshot(cpus, [helper.pid]), len(cpus))
        helper_cores = (host.process_seconds(helper.pid) - spun) / (time.perf_counter() - started)
    finally:
        stop.set()
        helper.join()
    # What the helper used (all of a core on a quiet machine, less beside other busy processes)
    # counts as a neighbour's in one reading and as the case's own in the other.
    assert helper_cores > 0.2
    assert as_neighbour.others_cores - as_helper.others_cores > 0.5 * helper_cores
    assert host.parent_pid(helper.pid) is None  # gone: nothing to read
