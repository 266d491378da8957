"""Cold-cache measurement: the LLC size from the OS, eviction that evicts, never timed."""

import statistics
import time
import types

import numpy as np
import pytest

from labench.measure import cache
from labench.measure.cache import (
    CpuEvictor,
    GpuL2Flusher,
    TooShortForColdTiming,
    check_resolution,
    cold_sample,
    llc_from_sysfs,
)
from labench.measure.timing import Policy, sample
from labench.results import reader

POLICY = Policy(max_time=0.05, target_rel_ci=0.5, min_samples=5, warmup=0.0)


def write_cache(root, cpu, index, level, kind, size, shared):
    folder = root / f"cpu{cpu}" / "cache" / f"index{index}"
    folder.mkdir(parents=True)
    for name, value in (("level", level), ("type", kind), ("size", size)):
        (folder / name).write_text(f"{value}\n")
    (folder / "shared_cpu_list").write_text(f"{shared}\n")


def test_llc_is_the_highest_level_counted_once_per_instance(tmp_path):
    """Two sockets: cpus 0-1 share one L3, cpus 2-3 another; L1i is never the answer."""
    for cpu in range(4):
        write_cache(tmp_path, cpu, 0, 1, "Instruction", "32K", cpu)
        write_cache(tmp_path, cpu, 1, 2, "Unified", "1024K", cpu)
        write_cache(tmp_path, cpu, 2, 3, "Unified", "32768K", "0-1" if cpu < 2 else "2-3")
    assert llc_from_sysfs(tmp_path, {0, 1, 2, 3}) == 2 * 32 * 2**20
    assert llc_from_sysfs(tmp_path, {0, 1}) == 32 * 2**20
    assert llc_from_sysfs(tmp_path / "missing", {0}) is None


def test_this_machine_reports_an_llc():
    found = cache.last_level_cache()
    assert found.bytes > 0 and found.source in ("sysfs", "sysconf", "sysctl", "fallback")


def test_eviction_really_evicts():
    """A pass over an array that fits in cache is slower per byte after an eviction than right
    after another pass over it; wide margin, both measured here, on the same array."""
    data = np.ones(32 * 1024)  # 256 KiB: in L2 of any current core
    evict = CpuEvictor()
    warm, cold = [], []
    for _ in range(40):
        data.sum()
        start = time.perf_counter()
        data.sum()
        warm.append(time.perf_counter() - start)
        evict()
        start = time.perf_counter()
        data.sum()
        cold.append(time.perf_counter() - start)
    assert statistics.median(cold) > 1.5 * statistics.median(warm)


def recording(log):
    def timer(function, loops):
        log.append("start")
        for _ in range(loops):
            function()
        log.append("stop")
        return 1e-3 * loops

    return timer


def test_eviction_is_never_inside_the_timed_region(monkeypatch):
    log = []
    monkeypatch.setattr(cache, "evictor", lambda backend: lambda: log.append("evict"))
    measurement = cold_sample(lambda: log.append("call"), POLICY, recording(log), "numpy")
    assert measurement.inner_loops == 1
    timed = "".join({"start": "(", "stop": ")", "call": "c", "evict": "e"}[e] for e in log)
    # every timed region holds exactly one call, and every one is preceded by an eviction
    assert timed == "e(c)" * (len(measurement.samples) + 1)


def test_warm_sampling_never_evicts():
    log = []
    sample(lambda: log.append("call"), POLICY, recording(log))
    assert "evict" not in log


def test_a_call_too_short_for_the_clock_is_refused():
    with pytest.raises(TooShortForColdTiming, match="1000x the clock's resolution"):
        check_resolution(5e-7, 1e-9)
    check_resolution(2e-6, 1e-9)


def test_gpu_flush_reuses_one_l2_sized_buffer():
    allocations, memsets = [], []

    class Pointer:
        def memset_async(self, value, size):
            memsets.append((value, size))

    def empty(size, dtype):
        allocations.append(size)
        return types.SimpleNamespace(data=Pointer(), nbytes=size)

    device = types.SimpleNamespace(attributes={"L2CacheSize": 50 * 2**20})
    fake = types.SimpleNamespace(
        cuda=types.SimpleNamespace(Device=lambda: device), empty=empty, uint8=np.uint8
    )
    flush = GpuL2Flusher(fake)
    flush(), flush()
    assert allocations == [50 * 2**20]
    assert memsets == [(0, 50 * 2**20)] * 2


COLD_SUITE = """
labench: 1
name: cold
defaults: {max_time: 0.05, cache: [warm, cold]}
benchmarks:
  - {id: big, workload: kernels.matvec, params: {n: 512}, implementations: [numpy]}
"""


def test_cold_cases_are_keyed_apart_and_recorded(cli, write_suite, tmp_path):
    out = tmp_path / "r.json"
    assert cli("run", write_suite(COLD_SUITE), "-o", out, "-q").exit_code == 0
    cases = {case.key: case for case in reader.load(out).cases}
    warm = cases["big/n=512,transfers=False/float64/t1/numpy"]
    cold = cases["big/n=512,transfers=False/float64/t1/cold/numpy"]
    assert (warm.cache, cold.cache) == ("warm", "cold")
    assert cold.status == "ok" and cold.timing.inner_loops == 1
    assert cold.metrics["clock_resolution"] > 0 and "clock_resolution" not in warm.metrics
    assert warm.metrics["cache_resident"] == 1.0 and cold.metrics["cache_resident"] == 0.0


def test_a_cold_case_too_short_for_the_clock_is_skipped_with_why(
    cli, write_suite, tmp_path, monkeypatch
):
    monkeypatch.setattr(cache, "CLOCK_RESOLUTION", 1e-3)  # a clock that ticks once a ms
    out = tmp_path / "r.json"
    assert cli("run", write_suite(COLD_SUITE), "-o", out, "-q").exit_code == 0
    warm, cold = reader.load(out).cases
    assert warm.status == "ok"
    assert cold.status == "skipped" and "clock's resolution" in cold.reason


def test_an_unknown_cache_mode_is_refused_with_its_line(cli, write_suite):
    path = write_suite(COLD_SUITE.replace("[warm, cold]", "lukewarm"))
    result = cli("run", path)
    assert result.exit_code == 2
    assert f"{path}:3:" in result.output and "expected one of warm, cold" in result.output


def test_a_claim_can_select_cold_points(write_suite):
    from labench.suite.load import load_suite
    from labench.suite.selection import pair_up

    suite = load_suite(
        write_suite(
            COLD_SUITE.replace("implementations: [numpy]}", "implementations: [numpy, numba]}")
            + "claims:\n  - {id: c, text: t, benchmark: big, where: {cache: cold},\n"
            "     speedup: {of: numba, over: numpy}, at_least: 1}\n"
        )
    )
    points = pair_up(suite.model.claims[0], suite.cases())
    assert [point["of"].cache for point in points] == ["cold"]


def test_cache_resident_is_judged_for_warm_host_cases_only():
    llc = cache.last_level_cache().bytes
    assert cache.cache_resident(llc, "warm", "numpy") == 1.0
    assert cache.cache_resident(llc + 1, "warm", "numba") == 0.0
    assert cache.cache_resident(1.0, "cold", "numpy") == 0.0
    assert cache.cache_resident(None, "warm", "numpy") is None
    assert cache.cache_resident(1.0, "warm", "cupy") is None
