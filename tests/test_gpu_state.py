"""The GPU's state beside every GPU case: clocks, power, temperature, throttle reasons and other
processes read through NVML, the `throttled` flag, roofs at a known clock, and the device named
by its UUID. No GPU here: a fake `pynvml` plays the driver, NumPy stands in for CuPy."""

import json
import os
import sys
import threading
import types

import numpy as np
import pytest
from conftest import measured_case
from test_parallel import fake_cupy

from labench import backends
from labench.backends.cupy_gpu import choose_device
from labench.core.errors import InputError
from labench.judge.claims import evaluate
from labench.judge.compare import device_difference, judge
from labench.judge.roofline import CLOCK_TOLERANCE, add_roofline, other_clock
from labench.machine import gpu_ceilings
from labench.measure import gpu_state as watching
from labench.measure import timing
from labench.measure.environment import gpu_info
from labench.measure.gpu_state import GpuWatch
from labench.present.grid import CLOCK_MARK, make_grid
from labench.present.machine import environment_rows
from labench.results import model as results
from labench.results import reader
from labench.results.ceilings import Ceilings, GemmRoof, GpuCeiling
from labench.results.gpu_state import ClockRange, GpuState
from labench.results.views import RunView, Series, run_view
from labench.suite.model import Claim

MAX_SM = 1980.0
BUS = "00000000:17:00.0"
UUID = "GPU-5e1b0a8c-0000-4000-8000-000000000001"
POWER_CAP, HW_SLOWDOWN, SW_THERMAL = 0x4, 0x8, 0x20


def fake_nvml(
    monkeypatch,
    readings=((MAX_SM, 2619.0, 0),),
    pids=None,
    denied=(),
    init_error=None,
    throttle_names_only=False,
    uuid=UUID,
):
    """A pynvml whose device goes through `readings` (SM MHz, memory MHz, reason bits), one per
    look, staying at the last; `pids` the compute processes on it (this one's by default);
    each function named in `denied` refuses with NVML's permission error."""
    fake = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    fake.NVMLError = NVMLError
    fake.NVML_CLOCK_SM, fake.NVML_CLOCK_MEM, fake.NVML_TEMPERATURE_GPU = 1, 2, 0
    prefix = "nvmlClocksThrottleReason" if throttle_names_only else "nvmlClocksEventReason"
    for name, bit in {
        "GpuIdle": 0x1,
        "ApplicationsClocksSetting": 0x2,
        "SwPowerCap": POWER_CAP,
        "HwSlowdown": HW_SLOWDOWN,
        "SyncBoost": 0x10,
        "SwThermalSlowdown": SW_THERMAL,
        "HwThermalSlowdown": 0x40,
        "HwPowerBrakeSlowdown": 0x80,
        "DisplayClockSetting": 0x100,
    }.items():
        setattr(fake, prefix + name, bit)
    fake.looks = 0
    fake.opened = []

    def current():
        return readings[min(fake.looks, len(readings)) - 1]

    def refusable(name, function):
        def call(*arguments):
            if name in denied:
                raise NVMLError("Insufficient Permissions")
            return function(*arguments)

        setattr(fake, name, call)

    def init():
        if init_error is not None:
            raise NVMLError(init_error)

    def clock(handle, kind):
        if kind == fake.NVML_CLOCK_SM:
            fake.looks += 1  # each look reads the SM clock first
        return current()[0] if kind == fake.NVML_CLOCK_SM else current()[1]

    def handle_by_bus(bus):
        assert isinstance(bus, bytes)
        fake.opened.append(bus.decode())
        return "handle"

    refusable("nvmlInit", init)
    refusable("nvmlDeviceGetHandleByPciBusId", handle_by_bus)
    refusable("nvmlDeviceGetUUID", lambda handle: uuid)
    refusable("nvmlDeviceGetName", lambda handle: b"NVIDIA Fake H200")
    refusable("nvmlDeviceGetMaxClockInfo", lambda handle, kind: MAX_SM)
    refusable("nvmlDeviceGetClockInfo", clock)
    refusable("nvmlDeviceGetPowerUsage", lambda handle: 250_000 + 10_000 * fake.looks)
    refusable("nvmlDeviceGetTemperature", lambda handle, sensor: 60 + fake.looks)
    reasons = lambda handle: current()[2]  # noqa: E731
    if throttle_names_only:
        refusable("nvmlDeviceGetCurrentClocksThrottleReasons", reasons)
    else:
        refusable("nvmlDeviceGetCurrentClocksEventReasons", reasons)
    listed = [os.getpid()] if pids is None else pids
    refusable(
        "nvmlDeviceGetComputeProcesses",
        lambda handle: [types.SimpleNamespace(pid=pid, usedGpuMemory=0) for pid in listed],
    )
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    return fake


def watched(readings_seen, threshold=0.75):
    """A watch held through `readings_seen` looks, its thread kept quiet so the looks are the
    test's: one on entering, those the test takes, one on leaving."""
    watch = GpuWatch(lambda: BUS, threshold)
    with watch:
        for _ in range(readings_seen - 2):
            watch.poll()
    return watch.state()


@pytest.fixture
def quiet_thread(monkeypatch):
    monkeypatch.setattr(watching, "POLL_SECONDS", 3600.0)


def test_reasons_that_appear_mid_sampling_and_a_clock_dip_are_recorded(monkeypatch, quiet_thread):
    fake_nvml(
        monkeypatch,
        readings=[
            (MAX_SM, 2619.0, 0),
            (MAX_SM, 2619.0, POWER_CAP | HW_SLOWDOWN),
            (1400.0, 2619.0, SW_THERMAL | 0x1),
            (1900.0, 2619.0, 0),
        ],
    )
    state = watched(4)
    assert state.uuid == UUID and state.name == "NVIDIA Fake H200"
    assert state.sm_clock == ClockRange(start=MAX_SM, end=1900.0, min=1400.0, mean=1815.0)
    assert state.memory_clock.min == 2619.0 and state.sm_clock_max == MAX_SM
    # the idle bit is no throttle reason; the three seen in the middle are kept by name
    assert state.throttle_reasons == ["hw_slowdown", "sw_power_cap", "sw_thermal"]
    assert state.power_watts == 290.0 and state.temperature_c == 64.0
    assert (state.readings, state.other_processes, state.other_pids) == (4, 0, [])
    assert state.clock_share == pytest.approx(1400 / MAX_SM) and state.throttled
    assert state.unread == {}


def test_a_dip_above_the_threshold_keeps_its_reasons_but_does_not_throttle(
    monkeypatch, quiet_thread
):
    fake_nvml(monkeypatch, readings=[(MAX_SM, 2619.0, 0), (1600.0, 2619.0, POWER_CAP)])
    state = watched(3)
    assert state.throttle_reasons == ["sw_power_cap"] and not state.throttled
    assert watched(3, threshold=0.9).throttled  # 1600 / 1980 = 81% < 90%


def test_the_older_throttle_reason_names_decode_the_same(monkeypatch, quiet_thread):
    fake_nvml(
        monkeypatch, readings=[(MAX_SM, 1.0, HW_SLOWDOWN | SW_THERMAL)], throttle_names_only=True
    )
    assert watched(2).throttle_reasons == ["hw_slowdown", "sw_thermal"]


def test_another_process_on_the_device_throttles(monkeypatch, quiet_thread):
    fake_nvml(monkeypatch, pids=[os.getpid(), 4242])
    state = watched(2)
    assert (state.other_processes, state.other_pids) == (1, [4242]) and state.throttled


def test_in_another_pid_namespace_one_listed_process_is_taken_for_this_one(
    monkeypatch, quiet_thread
):
    fake_nvml(monkeypatch, pids=[1_000_001])
    state = watched(2)
    assert (state.other_processes, state.other_pids, state.throttled) == (0, [], False)
    fake_nvml(monkeypatch, pids=[1_000_001, 1_000_002])
    state = watched(2)
    assert (state.other_processes, state.other_pids, state.throttled) == (1, [], True)


def test_refused_queries_are_absent_with_the_reason_and_nothing_fails(monkeypatch, quiet_thread):
    fake_nvml(
        monkeypatch, denied={"nvmlDeviceGetComputeProcesses", "nvmlDeviceGetPowerUsage"}
    )
    state = watched(3)
    assert state.other_processes is None and state.power_watts is None
    assert state.unread == {
        "other_processes": "Insufficient Permissions",
        "power": "Insufficient Permissions",
    }
    assert state.sm_clock is not None and not state.throttled


def test_without_the_driver_library_or_the_package_every_field_is_absent_with_a_reason(
    monkeypatch, quiet_thread
):
    fake_nvml(monkeypatch, init_error="NVML Shared Library Not Found")
    state = watched(2)
    assert state.reason == "NVML could not start: NVML Shared Library Not Found"
    assert state.sm_clock is None and state.uuid is None and not state.throttled
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    assert "nvidia-ml-py is not installed" in watched(2).reason
    fake_nvml(monkeypatch, denied={"nvmlDeviceGetHandleByPciBusId"})
    assert watched(2).reason == (
        f"NVML cannot open the device at {BUS}: Insufficient Permissions"
    )


def test_a_device_cuda_cannot_name_is_a_reason(monkeypatch):
    fake_nvml(monkeypatch)

    def no_bus():
        raise AttributeError("'Device' object has no attribute 'pci_bus_id'")

    watch = GpuWatch(no_bus, 0.75)
    with watch:
        pass
    assert watch.state().reason.startswith("cannot tell which device CUDA computes on")


def test_the_thread_looks_while_samples_are_timed_and_stops_after(monkeypatch):
    fake = fake_nvml(monkeypatch)
    monkeypatch.setattr(watching, "POLL_SECONDS", 0.001)
    watch = GpuWatch(lambda: BUS, 0.75)
    policy = timing.Policy(max_time=0.5, target_rel_ci=1e-9, min_samples=3, warmup=0)
    timing.sample(lambda: sum(range(1000)), policy, watch=watch)
    seen = fake.looks
    assert seen > 3 and watch.state().readings == seen  # the thread looked, and then stopped
    assert not any(thread.name == "labench-gpu-watch" for thread in threading.enumerate())


def test_no_watch_before_the_samples_no_state(monkeypatch):
    assert GpuWatch(lambda: BUS, 0.75).state() is None


@pytest.fixture
def gpu(monkeypatch):
    """A fake CuPy whose device has a PCI bus id, and a runner that believes the GPU is there."""
    fake = fake_cupy(monkeypatch)
    device = types.SimpleNamespace(synchronize=lambda: None, pci_bus_id=BUS)
    fake.cuda.Device = lambda index=0: device
    monkeypatch.setattr("labench.measure.case.availability", lambda name: backends.Availability(True))
    return fake


SUITE = (
    "labench: 1\nname: g\ndefaults: {max_time: 0.02}\nbenchmarks:\n"
    "  - {id: m, workload: kernels.matvec, params: {n: 32}, implementations: [numpy, cupy]}\n"
)


def test_a_gpu_case_carries_its_state_and_a_dip_flags_it_throttled_and_retries_it(
    gpu, cli, write_suite, tmp_path, monkeypatch
):
    fake = fake_nvml(monkeypatch, readings=[(MAX_SM, 2619.0, 0), (1000.0, 2619.0, POWER_CAP)])
    rests = []
    monkeypatch.setattr(
        "labench.execution.session.time", types.SimpleNamespace(sleep=rests.append)
    )
    path = write_suite(SUITE)
    ran = cli("run", path, "-o", tmp_path / "r.json", "-q", "--throttle-recovery", "2.5")
    assert ran.exit_code == 0, ran.output
    cases = {case.backend: case for case in reader.load(tmp_path / "r.json").cases}
    assert cases["numpy"].gpu is None and "throttled" not in cases["numpy"].flags
    state = cases["cupy"].gpu
    assert state.uuid == UUID and state.sm_clock.min == 1000.0 and state.throttle_threshold == 0.75
    assert state.throttle_reasons == ["sw_power_cap"] and "throttled" in cases["cupy"].flags
    assert rests == [2.5]  # one retry round, after the rest
    assert fake.opened and set(fake.opened) == {BUS}
    shown = cli("show", tmp_path / "r.json").output
    assert "GPU state while sampled" in shown and UUID in shown
    assert "sw_power_cap" in shown and "throttled" in shown
    assert "below 75% of its maximum" in shown
    report = cli("report", tmp_path / "r.json", "-o", tmp_path / "r.html")
    assert report.exit_code == 0, report.output
    page = (tmp_path / "r.html").read_text()
    assert "GPU state while sampled" in page and UUID in page and "sw_power_cap" in page


def test_the_threshold_is_a_setting_of_the_suite_and_of_the_command_line(
    gpu, cli, write_suite, tmp_path, monkeypatch
):
    fake_nvml(monkeypatch, readings=[(MAX_SM, 2619.0, 0), (1000.0, 2619.0, 0)])  # 51% of max
    path = write_suite(SUITE.replace("max_time: 0.02", "max_time: 0.02, throttle_threshold: 0.5"))
    assert cli("run", path, "-o", tmp_path / "a.json", "-q").exit_code == 0
    case = next(case for case in reader.load(tmp_path / "a.json").cases if case.gpu)
    assert case.gpu.throttle_threshold == 0.5 and "throttled" not in case.flags
    ran = cli("run", path, "-o", tmp_path / "b.json", "-q", "--throttle-threshold", "0.6")
    assert ran.exit_code == 0
    case = next(case for case in reader.load(tmp_path / "b.json").cases if case.gpu)
    assert case.gpu.throttle_threshold == 0.6 and "throttled" in case.flags
    bad = write_suite(SUITE.replace("max_time: 0.02", "max_time: 0.02, throttle_threshold: 1.5"))
    refused = cli("run", bad, "-o", tmp_path / "c.json", "-q")
    assert refused.exit_code == 2 and "throttle_threshold" in refused.output


def test_without_nvml_a_gpu_case_runs_and_says_why_its_state_is_missing(
    gpu, cli, write_suite, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    path = write_suite(SUITE)
    assert cli("run", path, "-o", tmp_path / "r.json", "-q").exit_code == 0
    case = next(case for case in reader.load(tmp_path / "r.json").cases if case.gpu)
    assert case.status == "ok" and "throttled" not in case.flags
    assert "nvidia-ml-py is not installed" in case.gpu.reason
    shown = cli("show", tmp_path / "r.json").output
    assert "GPU state not read for 1 case(s): nvidia-ml-py is not installed" in shown
    assert "GPU state while sampled" not in shown


def test_a_result_without_gpu_state_still_loads_and_one_with_it_round_trips(tmp_path):
    case = measured_case()
    document = {
        "schema": "labench.result/2",
        "suite": {"name": "s", "path": "s.yaml", "sha256": "0", "baselines": {}},
        "run": {"id": "r", "started": "t", "labench_version": "0", "command": []},
        "environment": {"machine_id": "m"},
        "cases": [case.model_dump(mode="json", exclude={"gpu"})],
    }
    assert results.from_document(tmp_path / "old.json", document).cases[0].gpu is None
    state = GpuState(uuid=UUID, sm_clock=ClockRange(start=1, end=1, min=1, mean=1))
    document["cases"][0]["gpu"] = state.model_dump(mode="json")
    assert results.from_document(tmp_path / "new.json", document).cases[0].gpu == state


def _gpu_case(uuid=UUID, flags=(), **settings):
    case = measured_case("cupy", process_medians=(1e-3,) * 4 if flags else ())
    state = GpuState(uuid=uuid, sm_clock=ClockRange(start=1, end=1, min=1, mean=1))
    return case.model_copy(update={"gpu": state, "flags": list(flags), **settings})


def _result(cases):
    return results.Result(
        suite=results.SuiteInfo(name="s", path="s", sha256="0", baselines={"b": "numpy"}),
        run=results.RunInfo(id="r", started="t", labench_version="0", command=[]),
        environment=results.Environment(machine_id="m"),
        cases=cases,
    )


def test_compare_says_when_the_runs_ran_on_different_devices():
    one = run_view(_result([_gpu_case()]), "a.json")
    other = run_view(_result([_gpu_case(uuid="GPU-other")]), "b.json")
    assert one.devices == (UUID,)
    said = device_difference([one, other])
    assert said and UUID in said and "GPU-other" in said and "different devices" in said
    assert device_difference([one, run_view(_result([_gpu_case()]), "c.json")]) is None
    cpu_only = RunView("c.json", results.Environment(machine_id="m"), {})
    assert device_difference([one, cpu_only]) is None


def test_the_environment_names_each_gpu_by_its_uuid(monkeypatch):
    properties = {
        "name": b"NVIDIA Fake H200",
        "totalGlobalMem": 141 * 2**30,
        "major": 9,
        "minor": 0,
    }
    cupy = fake_cupy(
        monkeypatch,
        getDeviceCount=lambda: 1,
        driverGetVersion=lambda: 12040,
        getDeviceProperties=lambda index: properties,
    )
    cupy.cuda.Device = lambda index=0: types.SimpleNamespace(pci_bus_id=BUS)
    fake_nvml(monkeypatch)
    (device,) = gpu_info()
    assert (device["uuid"], device["pci_bus_id"], device["sm_clock_max_mhz"]) == (
        UUID,
        BUS,
        MAX_SM,
    )
    text = dict(environment_rows({"gpus": [device]}))["gpus"]
    assert UUID in text and "SM clock up to 1980 MHz" in text
    monkeypatch.setitem(sys.modules, "pynvml", None)
    (device,) = gpu_info()
    assert "uuid" not in device and "nvidia-ml-py is not installed" in device["nvml"]


def test_a_throttled_move_is_unsure_and_a_claim_on_it_says_so():
    base = Series("ok", 1e-3, None, process_medians=np.array([1e-3, 1.01e-3, 0.99e-3, 1e-3]))
    new = Series(
        "ok",
        2e-3,
        None,
        process_medians=np.array([2e-3, 2.02e-3, 1.98e-3, 2e-3]),
        flags=("throttled",),
    )
    verdict = judge("k", base, new, 0.1, 0.01)
    assert (verdict.verdict, verdict.doubt) == ("unsure", "unsteady")
    claim = Claim.model_validate(
        {"id": "c", "text": "t", "benchmark": "b", "speedup": {"of": "cupy", "over": "numpy"}, "at_least": 1.0}
    )
    cases = [measured_case("numpy", 2e-3), _gpu_case(flags=("throttled",))]
    judged = evaluate(claim, cases)
    assert judged.status == "unmeasured" and "cupy throttled" in judged.reason


def _ceilings(clock_mean):
    clocks = GpuState(sm_clock=ClockRange(start=1, end=1, min=1, mean=clock_mean))
    roof = GemmRoof(dtype="float64", math="ieee", gflops=1000.0, size=4096, sweep={4096: 1000.0})
    return Ceilings(
        machine_id="m",
        measured="t",
        environment={},
        cpu=[],
        gpu=GpuCeiling(gemm=[roof], gbps=3000.0, clocks=clocks),
    )


@pytest.mark.parametrize("roof_clock", [1800.0, 1000.0])
def test_the_roofline_share_says_when_the_roof_was_measured_at_another_clock(roof_clock):
    case = _gpu_case(backend="cupy", metrics={"flops": 2e9, "bytes": 1e6, "gflops": 500.0})
    case.gpu = case.gpu.model_copy(
        update={"sm_clock": ClockRange(start=1800, end=1800, min=1700, mean=1800)}
    )
    result = _result([case])
    add_roofline(result, _ceilings(roof_clock))
    (case,) = result.cases
    assert case.metrics["roofline_frac"] == pytest.approx(0.5)
    assert case.metrics["roof_clock_ratio"] == pytest.approx(1800 / roof_clock)
    differs = abs(1800 / roof_clock - 1) > CLOCK_TOLERANCE
    assert other_clock(case) is differs
    grid = make_grid(result, "b", result.cases, {}, set(), False)
    roof = grid.sections[0][0][[name for name, _ in grid.columns].index("roof")]
    assert (CLOCK_MARK in roof) is differs


def test_calibrate_stores_the_clocks_its_gpu_roofs_were_measured_at(gpu, monkeypatch):
    fake_nvml(monkeypatch, readings=[(1700.0, 2619.0, 0)])
    monkeypatch.setattr(gpu_ceilings, "availability", lambda name: backends.Availability(True))
    monkeypatch.setattr(gpu_ceilings, "PRECISIONS", (("float64", "ieee"),))
    measured = gpu_ceilings.measure(sizes=(8, 16), copy_bytes=4096)
    clocks = measured.clocks
    assert clocks.uuid == UUID and clocks.sm_clock.mean == 1700.0 and clocks.readings >= 4


def test_device_chooses_among_the_devices_cuda_may_see(monkeypatch, cli, tmp_path):
    environment = {}
    assert choose_device(2, environment) == "2" and environment == {"CUDA_VISIBLE_DEVICES": "2"}
    environment = {"CUDA_VISIBLE_DEVICES": "3, GPU-abc"}
    assert choose_device(1, environment) == "GPU-abc"
    with pytest.raises(InputError, match="lets CUDA see 2 device"):
        choose_device(2, {"CUDA_VISIBLE_DEVICES": "3,5"})
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    refused = cli("run", "quick", "--device", "5", "-o", tmp_path / "r.json", "-q")
    assert refused.exit_code == 2 and "--device 5" in refused.output
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1"


def test_a_case_merged_from_processes_keeps_the_worst_state_any_process_saw():
    from labench.results.merge import merge_processes

    def process(low, reasons, others, seed):
        state = GpuState(
            uuid=UUID,
            sm_clock=ClockRange(start=MAX_SM, end=1900, min=low, mean=1800),
            sm_clock_max=MAX_SM,
            power_watts=300.0 + seed,
            throttle_reasons=reasons,
            other_processes=others,
            throttle_threshold=0.75,
            readings=10,
        )
        return measured_case("cupy", seed=seed).model_copy(update={"gpu": state})

    merged = merge_processes(
        [process(1900, [], 0, 1), process(1200, ["sw_thermal"], 0, 2), process(1850, [], 1, 3)]
    ).gpu
    assert merged.sm_clock == ClockRange(start=MAX_SM, end=1900, min=1200, mean=1800)
    assert merged.throttle_reasons == ["sw_thermal"] and merged.other_processes == 1
    assert (merged.power_watts, merged.readings) == (303.0, 30)
    unread = GpuState(reason="NVML could not start: Driver Not Loaded")
    lone = measured_case("cupy").model_copy(update={"gpu": unread})
    assert merge_processes([process(1900, [], 0, 1), lone]).gpu == unread
    assert merge_processes([measured_case(), measured_case(seed=2)]).gpu is None


def test_compare_warns_when_gpu_cases_ran_on_different_devices(cli, tmp_path):
    one, other = tmp_path / "a.json", tmp_path / "b.json"
    results.save(_result([_gpu_case()]), one)
    results.save(_result([_gpu_case(uuid="GPU-other")]), other)
    said = " ".join(cli("compare", one, other).output.split())
    assert "warning: the GPU cases ran on different devices" in said
    assert UUID in said and "GPU-other" in said
    document = json.loads(cli("compare", one, other, "--format", "json").output)
    assert document["devices"] == {"a.json": [UUID], "b.json": ["GPU-other"]}
    assert "different devices" not in cli("compare", one, one).output


def test_the_stored_gpu_roofs_say_the_clocks_they_were_measured_at():
    from labench.present.machine import roof_clocks_text

    clocks = GpuState(
        uuid=UUID,
        name="NVIDIA Fake H200",
        sm_clock=ClockRange(start=1980, end=1980, min=1410, mean=1755),
        memory_clock=ClockRange(start=2619, end=2619, min=2619, mean=2619),
        throttle_reasons=["sw_power_cap"],
    )
    assert roof_clocks_text(clocks) == (
        f"measured on NVIDIA Fake H200 {UUID}, SM clock mean 1755 MHz (lowest 1410), "
        "memory clock mean 2619 MHz, throttle reasons seen: sw_power_cap"
    )
    assert roof_clocks_text(None) == "clocks while measured: not recorded"
    assert "not read (no NVML)" in roof_clocks_text(GpuState(reason="no NVML"))
